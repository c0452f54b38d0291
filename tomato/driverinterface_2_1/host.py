"""The host of DriverInterface 2.1 drivers: a tomato 2.x driver package (`tomato_<name>`)
run as a native driver inside a device process.

The driver's calls block (they talk to instruments, and its components sample in threads of
their own), so each runs in a worker thread, off the event loop. Its capabilities become
techniques whose parameters are its components' settable attrs; its xarray Datasets become
free-form points with their units and extra coordinates (e.g. a spectrum's abscissa).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import logging
import pkgutil
from collections.abc import Callable
from typing import Any, ClassVar

import anyio
import anyio.to_thread

from drivers import Driver, DriverError, Emit, Task, Technique, UnknownDriverError

from ..models import Reply
from ..models import Task as Task21
from ._model import ModelInterface
from .decorators import param_of

logger = logging.getLogger(__name__)

PREFIX = "tomato_"
REGISTER_ATTEMPTS = 3
REGISTER_PAUSE = 1.0
POLL = (0.05, 1.0)
"""Bounds of the interval at which a running task's data is fetched (its sampling interval
within them)."""


class Host21:
    """Finds DriverInterface 2.1 packages: a module `tomato_<name>` with a `DriverInterface`."""

    def names(self) -> set[str]:
        return {m.name.removeprefix(PREFIX) for m in pkgutil.iter_modules()
                if m.name.startswith(PREFIX)}

    def load(self, name: str) -> type[Driver] | None:
        if importlib.util.find_spec(PREFIX + name) is None:
            return None
        module = importlib.import_module(PREFIX + name)
        interface = getattr(module, "DriverInterface", None)
        if not (isinstance(interface, type) and issubclass(interface, ModelInterface)):
            version = getattr(interface, "version", None)
            raise UnknownDriverError(
                f"driver {name!r} (module {module.__name__}) implements DriverInterface "
                f"{version or '(none found)'}; this tomato runs DriverInterface 2.1")
        return type(f"{interface.__name__}_{name}", (Driver21,),
                    {"name": name, "interface": interface})


HOST = Host21()


class Driver21(Driver):
    """A DriverInterface 2.1 driver as a native one: one component per channel."""

    interface: ClassVar[type[ModelInterface]]

    def __init__(self, address: str | None, channels: tuple[str, ...],
                 settings: dict[str, Any] | None = None) -> None:
        super().__init__(address, channels, settings)
        self.techniques = {}
        self.model = self.interface(settings=self.settings)

    async def call(self, method: str, **kwargs: Any) -> Reply:
        """One driver call, in a worker thread."""
        bound: Callable[..., Reply] = getattr(self.model, method)
        return await anyio.to_thread.run_sync(functools.partial(bound, **kwargs))

    def key(self, channel: str) -> dict[str, Any]:
        return {"address": self.address, "channel": channel}

    async def start(self) -> None:
        """Register every channel as a component (a RuntimeError is retried), then learn
        the techniques from the first."""
        for channel in self.channels:
            for attempt in range(1, REGISTER_ATTEMPTS + 1):
                reply = await self.call("cmp_register", **self.key(channel))
                if reply.success:
                    break
                logger.warning("%s (attempt %d of %d)", reply.msg, attempt, REGISTER_ATTEMPTS)
                if attempt < REGISTER_ATTEMPTS:
                    await anyio.sleep(REGISTER_PAUSE)
            else:
                raise DriverError(f"{reply.msg} ({REGISTER_ATTEMPTS} attempts)")
        attrs = (await self.call("cmp_attrs", **self.key(self.channels[0]))).data
        capabilities = (await self.call("cmp_capabilities", **self.key(self.channels[0]))).data
        params = tuple(param_of(name, attr) for name, attr in attrs.items() if attr.rw)
        self.techniques = {name: Technique(name, params, free_form=True)
                           for name in sorted(capabilities)}

    async def run(self, channel: str, task: Task, emit: Emit) -> None:
        key = self.key(channel)
        task21 = Task21(component_role=channel, technique_name=task.technique,
                        max_duration=task.max_duration,
                        sampling_interval=task.sampling_interval, task_params=task.params)
        reply = await self.call("task_start", **key, task=task21)
        if not reply.success:
            raise DriverError(reply.msg)
        poll = min(max(task.sampling_interval, POLL[0]), POLL[1])
        layout = _Layout(emit)
        try:
            while True:
                status = (await self.call("task_status", **key)).data
                data = await self.call("task_data", **key)
                if data.success:
                    layout.emit(data.data)
                if status.get("error"):
                    raise DriverError(status["error"])
                if not status["running"] and status["can_submit"]:
                    return
                await anyio.sleep(poll)
        finally:
            with anyio.CancelScope(shield=True):
                stopped = await self.call("task_stop", **key)
                if stopped.data is not None:
                    layout.emit(stopped.data)

    async def reset(self, channel: str) -> None:
        await self.call("cmp_reset", **self.key(channel), do_run=False)


class _Layout:
    """Turns Datasets into free-form points; a point carries the layout (units, dims,
    coords) when it differs from the last one's."""

    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self._last: dict[str, Any] | None = None

    def emit(self, ds: Any) -> None:
        uts = ds["uts"].values.tolist()
        values = {name: var.values.tolist() for name, var in ds.data_vars.items()}
        layout = {
            "units": {name: str(var.attrs["units"]) for name, var in ds.variables.items()
                      if "units" in var.attrs and name != "uts"},
            "dims": {name: list(var.dims[1:]) for name, var in ds.data_vars.items()
                     if var.dims[1:]},
            "coords": {name: var.values.tolist() for name, var in ds.coords.items()
                       if name != "uts"},
        }
        for i, t in enumerate(uts):
            point: list[Any] = [float(t), {name: v[i] for name, v in values.items()}]
            if layout != self._last:
                point.append(layout)
                self._last = layout
            self._emit(point)
