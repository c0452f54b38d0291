"""What the supervisor knows of its device processes: state, pid, restarts, why."""

from __future__ import annotations

from pathlib import Path

import anyio

from actors import ActorError, ChildEvent, connect
from drivers import GetDeviceStatus

from ..codec import CODEC
from ..messages import DeviceInfoRow
from ..paths import device_socket
from .devicesfile import Lab
from .store import Store

_STATES = {"started": "running", "adopted": "running", "exited": "restarting",
           "restarting": "restarting", "failed": "failed", "stopped": "stopped"}
STATUS_TIMEOUT = 2.0


class Devices:
    """Device states from supervision events, kept in the store; live channel states."""

    def __init__(self, lab: Lab, rundir: Path, store: Store) -> None:
        self._lab = lab
        self._rundir = rundir
        self._store = store
        self._state: dict[str, tuple[str, int | None, int, str | None]] = {}

    def record(self, device: str, ev: ChildEvent) -> str | None:
        """Record a supervision event of `device`; returns the reason it gives, if any."""
        state = _STATES[ev.kind]
        reason = ev.reason or (f"exited with code {ev.returncode}" if ev.returncode else None)
        self._state[device] = (state, ev.pid, ev.restarts, reason)
        driver = next(d.driver for d in self._lab.devices if d.name == device)
        self._store.set_device(device, driver, ev.pid, state, ev.restarts, reason)
        self._store.log(f"device {ev.kind}", device, reason or "")
        return reason

    async def rows(self) -> list[DeviceInfoRow]:
        """Every device with its state and, asked live, the state of each channel."""
        rows = []
        for device in self._lab.devices:
            state, pid, restarts, reason = self._state.get(device.name,
                                                           ("unknown", None, 0, None))
            channels: dict[str, str] = {}
            with anyio.move_on_after(STATUS_TIMEOUT):
                try:
                    async with connect(device_socket(self._rundir, device.name), CODEC) as conn:
                        reply = await conn.ask(GetDeviceStatus(), timeout=STATUS_TIMEOUT)
                    channels = {c.channel: c.state for c in reply.channels}
                except ActorError as exc:
                    reason = reason or str(exc)
            rows.append(DeviceInfoRow(device.name, device.driver, state, pid, restarts, reason,
                                      channels))
        return rows
