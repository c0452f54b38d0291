"""The host of DriverInterface 2.1 drivers: a tomato 2.x driver package (`tomato_<name>`)
run as a native driver inside a device process.

The driver's calls block (they talk to instruments, and its components sample in threads of
their own), so each runs in a worker thread, off the event loop. Its capabilities become
techniques whose parameters are its components' settable attrs; its xarray Datasets become
free-form points with their units and extra coordinates (e.g. a spectrum's abscissa).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ClassVar

import anyio

from tomato.drivers import (
    ComponentInfo,
    DriverError,
    Emit,
    Task,
)

from ..hosting import HostedDriver, Layout, attr_info, plain
from ..models import Task as Task21
from ._model import ModelInterface

logger = logging.getLogger(__name__)

MEASURE_TIMEOUT = 30.0
POLL = (0.05, 1.0)
"""Bounds of the interval at which a running task's data is fetched (its sampling interval
within them)."""


class Driver21(HostedDriver):
    """A DriverInterface 2.1 driver as a native one: one component per channel."""

    interface: ClassVar[type[ModelInterface]]

    def __init__(self, address: str | None, channels: tuple[str, ...],
                 settings: dict[str, Any] | None = None) -> None:
        super().__init__(address, channels, settings)
        self.techniques = {}
        self.model = self.interface(settings=self.settings)

    def key(self, channel: str) -> dict[str, Any]:
        return {"address": self.address, "channel": channel}

    async def run(self, channel: str, task: Task, emit: Emit) -> None:
        key = self.key(channel)
        task21 = Task21(component_role=channel, technique_name=task.technique,
                        max_duration=task.max_duration,
                        sampling_interval=task.sampling_interval, task_params=task.params)
        reply = await self.call("task_start", **key, task=task21)
        if not reply.success:
            raise DriverError(reply.msg)
        poll = min(max(task.sampling_interval, POLL[0]), POLL[1])
        layout = Layout(emit)
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

    async def describe(self, channel: str) -> ComponentInfo:
        key = self.key(channel)
        attrs = await self.checked("cmp_attrs", **key)
        status = await self.checked("cmp_status", **key)
        return ComponentInfo(
            channel, self.name, bool(status.pop("running", False)), plain(status),
            tuple(attr_info(name, attr) for name, attr in attrs.items()),
            tuple(sorted(await self.checked("cmp_capabilities", **key))),
            plain(await self.checked("cmp_constants", **key)))

    async def measure(self, channel: str) -> list[Any] | None:
        key = self.key(channel)
        await self.checked("cmp_measure", **key)
        with anyio.fail_after(MEASURE_TIMEOUT):  # the driver's thread: polled, bounded
            while True:
                status = await self.checked("task_status", **key)
                if status["can_submit"]:
                    break
                await anyio.sleep(POLL[0])
        if status.get("error"):
            raise DriverError(f"{self.name}: the measurement failed: {status['error']}")
        return await self.last_data(channel)

    async def register(self, channel: str) -> None:
        await self.checked("cmp_register", **self.key(channel))

    async def background(self, is_idle: Callable[[str], bool],
                         report: Callable[[str, list[Any]], None]) -> None:
        """Measure idle channels every `idle_measurement_interval` s (the driver's setting,
        else its class's), as tomato 2.x does; each point goes to `report`."""
        interval = self.settings.get("idle_measurement_interval",
                                     self.interface.idle_measurement_interval)
        if not interval:
            return
        while True:
            await anyio.sleep(float(interval))
            for channel in self.channels:
                if not is_idle(channel):
                    continue
                try:
                    point = await self.measure(channel)
                except (DriverError, TimeoutError) as exc:  # a task started meanwhile
                    logger.debug("idle measurement of %s: %s", channel, exc)
                    continue
                if point is not None and is_idle(channel):
                    report(channel, point)


Hosted = Driver21
"""What `hosting.PackageHost` runs a 2.1 driver as."""
