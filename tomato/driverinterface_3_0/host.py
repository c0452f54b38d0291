"""The host of DriverInterface 3.0 drivers: a driver package (`tomato_<name>`) of the
newest generation run as a native driver inside a device process.

Each channel of the device is a component named `driver:address:channel`. The driver's
calls block, so each runs in a worker thread. Its `Status` is read, never assumed: a
component in state `stop` (its thread ended) or not connected is a fault; the host resets
it, runs what the job asked for the rest of the step's time, and says so (`notice`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, ClassVar

import anyio

from tomato.drivers import (
    ComponentInfo,
    DriverError,
    Emit,
    SettingsError,
    Task,
)

from ..hosting import HostedDriver, Layout, attr_info, last_point, plain
from ..models import Task as Task22
from ._model import ModelInterface

logger = logging.getLogger(__name__)

MEASURE_TIMEOUT = 30.0
POLL = (0.05, 1.0)
"""Bounds of the interval at which a running task's status and data are fetched."""
FAULTS_PER_STEP = 3
"""Faults (the component stopped) a step survives; one more fails it."""
IDLE_FAULTS = 3
"""Idle measurements that stop the component in a row before they are given up."""
START_GRACE = 5.0
"""Seconds a queued task may take to be taken up by the component's thread."""


class Driver30(HostedDriver):
    """A DriverInterface 3.0 driver as a native one: one named component per channel."""

    interface: ClassVar[type[ModelInterface]]
    passes = (ValueError, AttributeError, TypeError)

    def __init__(self, address: str | None, channels: tuple[str, ...],
                 settings: dict[str, Any] | None = None) -> None:
        super().__init__(address, channels, settings)
        self.techniques = {}
        self.model = _construct(self.interface, self.name, self.settings)
        self._idle_faults = dict.fromkeys(channels, 0)

    def cname(self, channel: str) -> str:
        """The component's name, as 3.0 names it."""
        return f"{self.name}:{self.address or ''}:{channel}"

    def key(self, channel: str) -> dict[str, Any]:
        return {"name": self.cname(channel)}

    def register_key(self, channel: str) -> dict[str, Any]:
        return {"name": self.cname(channel), "address": self.address, "channel": channel}

    async def status(self, name: str) -> Any:
        return await self.checked("cmp_status", name=name)

    async def recover(self, channel: str, status: Any, what: str, then: str = "") -> None:
        """The component is stopped or not connected: reset it; DriverError if it is not
        usable after that. `what`: what it was doing, `then`: what comes next (for the
        notice)."""
        name = self.cname(channel)
        fault = getattr(self.model.devmap.get(name), "fault", None)
        why = fault or ("not connected" if not status.connected else f"state {status.state}")
        await self.checked("cmp_reset", name=name)
        after = await self.status(name)
        if not after.connected or after.state == "stop":
            raise DriverError(f"{name} stopped ({why}) and a reset did not bring it back")
        self.notice(channel, f"{name} stopped {what} ({why}); it was reset{then}")

    async def run(self, channel: str, task: Task, emit: Emit) -> None:
        name = self.cname(channel)
        layout = Layout(emit)
        deadline = time.monotonic() + task.max_duration
        faults, ran = 0, False
        while True:
            status = await self.status(name)
            if not status.connected or status.state == "stop":
                faults += ran
                if faults >= FAULTS_PER_STEP:
                    raise DriverError(f"{name} stopped {faults} times in this step")
                left = max(deadline - time.monotonic(), 0)
                await self.recover(channel, status, "during the task" if ran else
                                   "before the task", f"; the task went on for its remaining "
                                   f"{left:.3g} s" if ran else "")
            left = deadline - time.monotonic()
            if left <= 0 or await self._run_once(name, task, left, layout):
                self._idle_faults[channel] = 0  # a task ran: idle measurements may again
                return
            ran = True

    async def _run_once(self, name: str, task: Task, duration: float, layout: Layout
                        ) -> bool:
        """Run the task for `duration` s; True once it ended, False if the component
        stopped (a fault: the caller recovers and goes on)."""
        task22 = Task22(component_role=name, technique_name=task.technique,
                        max_duration=duration, sampling_interval=task.sampling_interval,
                        task_params=task.params)
        await self._can_submit(name)
        reply = await self.call("task_start", name=name, task=task22)
        if not reply.success:
            raise DriverError(reply.msg)
        poll = min(max(task.sampling_interval, POLL[0]), POLL[1])
        started, taken = time.monotonic(), False
        try:
            while True:
                status = await self.status(name)
                data = await self.call("task_data", name=name)
                if data.success:
                    layout.emit(data.data)
                    taken = True
                taken = taken or status.state == "task"
                if not status.connected or status.state == "stop":
                    return False
                waited = time.monotonic() - started
                if status.state == "idle" and (taken or waited > duration + START_GRACE):
                    return True
                await anyio.sleep(poll)
        finally:
            with anyio.CancelScope(shield=True):
                stopped = await self.call("task_stop", name=name)
                if stopped.success and stopped.data is not None:
                    layout.emit(stopped.data)

    async def _can_submit(self, name: str) -> None:
        """Wait (bounded) until the component takes a task: idle (not measuring)."""
        with anyio.move_on_after(MEASURE_TIMEOUT):
            while True:
                status = await self.status(name)
                if status.can_submit and status.state in ("idle", "stop", None):
                    return
                await anyio.sleep(POLL[0])
        raise DriverError(f"{name} did not become free within {MEASURE_TIMEOUT:g} s "
                          f"(it is {status.state})")

    async def reset(self, channel: str) -> None:
        await self.call("cmp_reset", name=self.cname(channel))

    async def describe(self, channel: str) -> ComponentInfo:
        name = self.cname(channel)
        attrs = await self.checked("cmp_attrs", name=name)
        status = await self.status(name)
        shown = {**plain(status.attrs), "connected": status.connected, "state": status.state}
        if (fault := getattr(self.model.devmap.get(name), "fault", None)) is not None:
            shown["fault"] = fault
        return ComponentInfo(
            channel, self.name, status.state == "task", shown,
            tuple(attr_info(a, attr) for a, attr in attrs.items()),
            tuple(sorted(await self.checked("cmp_capabilities", name=name))),
            plain(await self.checked("cmp_constants", name=name)))

    async def measure(self, channel: str) -> list[Any] | None:
        """One measurement: queued on the idle component, then awaited (bounded) until its
        last data changes; DriverError if the component stopped meanwhile."""
        name = self.cname(channel)
        before = await self.call("cmp_last_data", name=name)
        before_at = _last_uts(before.data) if before.success else None
        await self.checked("cmp_measure", name=name)
        with anyio.fail_after(MEASURE_TIMEOUT):
            while True:
                status = await self.status(name)
                if not status.connected or status.state == "stop":
                    await self.recover(channel, status, "in a one-shot measurement")
                    raise ComponentStopped(f"{name}: the measurement failed; the component "
                                           "was reset")
                last = await self.call("cmp_last_data", name=name)
                if last.success and _last_uts(last.data) != before_at and \
                        status.state != "meas":
                    return last_point(last.data)
                await anyio.sleep(POLL[0])

    async def register(self, channel: str) -> None:
        name = self.cname(channel)
        if name in self.model.devmap:
            await self.call("cmp_quit", name=name)
        await self.checked("cmp_register", **self.register_key(channel))

    async def background(self, is_idle: Callable[[str], bool],
                         report: Callable[[str, list[Any]], None]) -> None:
        """Measure idle channels every `idle_measurement_interval` s (the driver's
        Settings); each point goes to `report`. A component that an idle measurement
        stops is reset; after IDLE_FAULTS in a row its idle measurements stop (a task
        resets it)."""
        interval = getattr(self.model.settings, "idle_measurement_interval", None)
        if not interval:
            return
        while True:
            await anyio.sleep(float(interval))
            for channel in self.channels:
                if not is_idle(channel) or self._idle_faults[channel] >= IDLE_FAULTS:
                    continue
                try:
                    point = await self.measure(channel)
                except ComponentStopped:
                    self._idle_faults[channel] += 1
                    if self._idle_faults[channel] >= IDLE_FAULTS:
                        logger.error("%s: idle measurements given up: they stopped the "
                                     "component %d times in a row (a task resets it)",
                                     self.cname(channel), IDLE_FAULTS)
                    continue
                except (DriverError, TimeoutError) as exc:  # a task started meanwhile, …
                    logger.debug("idle measurement of %s: %s", channel, exc)
                    continue
                self._idle_faults[channel] = 0
                if point is not None and is_idle(channel):
                    report(channel, point)


class ComponentStopped(DriverError):
    """A component stopped (its thread ended) in a one-shot measurement; it was reset."""


def _construct(interface: type[ModelInterface], name: str, settings: dict[str, Any]
               ) -> ModelInterface:
    """The driver, made with its settings; DriverError saying why it cannot be (a key its
    Settings do not know, a value they refuse, a library it needs missing)."""
    from pydantic import ValidationError

    from ..hosting import described

    try:
        return interface(settings=settings)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(x) for x in error["loc"])
            problems.append(f"unknown key {where!r}" if error["type"] == "extra_forbidden"
                            else f"{where}: {error['msg']}")
        raise SettingsError(name, "; ".join(problems)) from None
    except Exception as exc:  # its author's code: any error can come out
        raise DriverError(f"driver {name!r} could not start: {described(exc)}") from None


def _last_uts(ds: Any) -> float | None:
    try:
        return float(ds["uts"].values[-1])
    except (TypeError, KeyError, IndexError, AttributeError):
        return None


Hosted = Driver30
"""What `hosting.PackageHost` runs a 3.0 driver as."""
