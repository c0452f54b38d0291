"""Components (a channel of a device) reached directly: what tomato 2.x's `passata` does.

Requests go to the component's device process; changing a component a running job uses
(set an attr, register, reset) is refused unless forced.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from actors import connect
from drivers import (
    GetAttrs,
    GetComponent,
    GetLastData,
    Measure,
    RegisterComponent,
    ResetComponent,
    SetAttr,
)

from ..codec import CODEC
from ..errors import ConflictError, NotFoundError, TomatoError
from ..messages import ComponentRow, ForComponent
from ..paths import device_socket
from .devicesfile import Lab
from .pipelines import Pipelines

REQUESTS = (GetComponent, GetAttrs, SetAttr, GetLastData, Measure, RegisterComponent,
            ResetComponent)
CHANGES = (SetAttr, RegisterComponent, ResetComponent)
TIMEOUT = 60.0
"""A driver call may wait on an instrument (a one-shot measurement)."""


class Components:
    def __init__(self, lab: Lab, pipelines: Pipelines, rundir: Path) -> None:
        self._lab = lab
        self._pipelines = pipelines
        self._rundir = rundir

    def use(self, lab: Lab) -> None:
        self._lab = lab

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
        if not isinstance(request, REQUESTS):
            raise TomatoError(f"not a component request: {type(request).__name__}")
        jobid = self._job_using(device, channel)
        if isinstance(request, CHANGES) and jobid is not None and not msg.force:
            raise ConflictError(f"component {msg.component} is used by running job {jobid}; "
                                "use --force to change it anyway")
        async with connect(device_socket(self._rundir, device), CODEC) as conn:
            return await conn.ask(replace(request, channel=channel), timeout=TIMEOUT)

    def _resolve(self, name: str) -> tuple[str, str]:
        device, _, channel = name.rpartition(":")
        for d in self._lab.devices:
            if d.name == device and channel in d.channels:
                return device, channel
        known = ", ".join(f"{d.name}:{ch}" for d in self._lab.devices for ch in d.channels)
        raise NotFoundError(f"no component named {name!r} (components: {known})")

    def _pipelines_of(self, device: str, channel: str) -> tuple[str, ...]:
        return tuple(p.name for p in self._pipelines.all.values()
                     if (device, channel) in p.parts)

    def _job_using(self, device: str, channel: str) -> int | None:
        return next((p.jobid for p in self._pipelines.all.values()
                     if p.jobid is not None and (device, channel) in p.parts), None)
