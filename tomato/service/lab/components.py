"""Components (a channel of a device) reached directly: what tomato 2.x's `passata` does.

Requests go to the component's device process; changing a component a running job uses
(set an attr, register, reset) is refused unless forced.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskStatus

from tomato.actors import RETRY_DELAY, ActorDeadError, ActorError, connect
from tomato.drivers import (
    COMPONENT_REQUESTS,
    IdleData,
    RegisterComponent,
    ResetComponent,
    SetAttr,
    record_scalars,
)

from ...codec import CODEC
from ...errors import ConflictError, DeviceFailedError, NotFoundError, TomatoError
from ...messages import ComponentData, ComponentRow, ForComponent
from ...paths import device_socket
from ..config.devicesfile import Lab
from ..scheduling.pipelines import Pipelines
from .devices import Devices

CHANGES = (SetAttr, RegisterComponent, ResetComponent)
TIMEOUT = 60.0
"""A driver call may wait on an instrument (a one-shot measurement)."""


class Components:
    def __init__(self, devices: Devices, pipelines: Pipelines, rundir: Path) -> None:
        self._devices = devices
        self._pipelines = pipelines
        self._rundir = rundir
        self.idle: dict[str, ComponentData] = {}
        """Each component's last idle measurement."""
        self._followed: set[str] = set()
        self._follow: Callable[[str], None] | None = None

    @property
    def _lab(self) -> Lab:
        return self._devices.lab  # as reloaded

    def follow_added(self) -> None:
        """Follow the devices a reload added too."""
        if self._follow is not None:
            for d in self._lab.devices:
                self._follow(d.name)

    async def follow(self, publish: Callable[[Any], None], *,
                     task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Hear every device's idle measurements (while it is in the lab), keep the last of
        each component and publish it (ComponentData) to watchers."""
        async with anyio.create_task_group() as tg:
            def follow(device: str) -> None:
                if device not in self._followed:
                    self._followed.add(device)
                    tg.start_soon(self._follow_device, device, publish)

            self._follow = follow
            for d in self._lab.devices:
                follow(d.name)
            task_status.started()

    async def _follow_device(self, device: str, publish: Callable[[Any], None]) -> None:
        try:
            while any(d.name == device for d in self._lab.devices):
                with suppress(ActorError):
                    async with connect(device_socket(self._rundir, device), CODEC) as conn, \
                            conn.subscribe("idle") as events:
                        async for ev in events:
                            if isinstance(ev, IdleData):
                                name = f"{device}:{ev.channel}"
                                data = ComponentData(name, *record_scalars([ev.point]))
                                self.idle[name] = data
                                publish(data)
                await anyio.sleep(RETRY_DELAY)  # the device is (re)starting: polled, bounded
        finally:
            self._followed.discard(device)

    def rows(self, states: dict[str, str]) -> list[ComponentRow]:
        """Every component, with its device's state (`states`: device → state)."""
        return [ComponentRow(f"{d.name}:{ch}", d.name, ch, d.driver,
                             states.get(d.name, "unknown"), self._pipelines_of(d.name, ch),
                             self._job_using(d.name, ch))
                for d in self._lab.devices for ch in d.channels]

    async def forward(self, msg: ForComponent) -> Any:
        """Send the request to the component's device; returns its reply."""
        device, channel = self._resolve(msg.component)
        request = msg.request
        if not isinstance(request, COMPONENT_REQUESTS):
            raise TomatoError(f"not a component request: {type(request).__name__}")
        jobid = self._job_using(device, channel)
        if isinstance(request, CHANGES) and jobid is not None and not msg.force:
            raise ConflictError(f"component {msg.component} is used by running job {jobid}; "
                                "use --force to change it anyway")
        self._devices.refuse_if_failed(device)
        try:
            async with connect(device_socket(self._rundir, device), CODEC) as conn:
                return await conn.ask(replace(request, channel=channel), timeout=TIMEOUT)
        except ActorDeadError as exc:  # it died, or is being restarted
            self._devices.refuse_if_failed(device)
            raise DeviceFailedError(f"device {device} does not answer ({exc}); it is "
                                    f"{self._devices.states().get(device, 'unknown')}"
                                    ) from None

    def _resolve(self, name: str) -> tuple[str, str]:
        """`DEVICE:CHANNEL`, tomato 2.x's `DRIVER:(ADDRESS,CHANNEL)`, or 3.0's
        `DRIVER:ADDRESS:CHANNEL` (`DRIVER::CHANNEL` without an address)."""
        device, _, channel = name.rpartition(":")
        for d in self._lab.devices:
            if d.name == device and channel in d.channels:
                return device, channel
        driver, _, key = name.partition(":")
        if key.startswith("(") and key.endswith(")"):
            address, _, channel = key[1:-1].rpartition(",")
        else:
            address, _, channel = key.rpartition(":")
        for d in self._lab.devices:
            if d.driver == driver and channel in d.channels and address in (
                    str(d.address), d.address or ""):
                return d.name, channel
        known = ", ".join(f"{d.name}:{ch}" for d in self._lab.devices for ch in d.channels)
        raise NotFoundError(f"no component named {name!r} (components: {known})")

    def _pipelines_of(self, device: str, channel: str) -> tuple[str, ...]:
        return tuple(p.name for p in self._pipelines.all.values()
                     if (device, channel) in p.parts)

    def _job_using(self, device: str, channel: str) -> int | None:
        return next((p.jobid for p in self._pipelines.all.values()
                     if p.jobid is not None and (device, channel) in p.parts), None)
