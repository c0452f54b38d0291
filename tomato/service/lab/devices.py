"""The device processes: started (or taken over) at start-up, their techniques checked
against the devices file; their states from supervision events, kept in the store."""

from __future__ import annotations

import logging
import os
import signal
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from tomato.actors import (
    ActorError,
    ChildEvent,
    ChildSpec,
    ChildStartError,
    ProcessSupervisor,
    connect,
    python_argv,
)
from tomato.drivers import (
    SETTINGS_REFUSED,
    DataBatch,
    Describe,
    DeviceConfig,
    DeviceInfo,
    GetDeviceStatus,
    ReadData,
    StopTask,
    Technique,
    driver_fingerprint,
    driver_names,
)

from ...codec import CODEC
from ...errors import ConfigError, ConflictError, DeviceFailedError, NotFoundError
from ...jobspec import ComponentSpec, JobSpec
from ...messages import DeviceInfoRow
from ...paths import device_socket, lock_path, socket_path
from ...rawdata import DataFile, RecordFile, whole_points
from ..config.devicesfile import DeviceSpec, Lab
from ..config.settings import SETTINGS_FILE, Settings
from ..state.store import Store

if TYPE_CHECKING:
    from ..scheduling.pipelines import Pipelines

_STATES = {"started": "running", "adopted": "running", "exited": "restarting",
           "restarting": "restarting", "failed": "failed", "stopped": "stopped"}
STATUS_TIMEOUT = 2.0
STOP_TIMEOUT = 5.0

logger = logging.getLogger(__name__)


def check_drivers(lab: Lab) -> None:
    """Raise ConfigError naming the devices file's line of a device with no driver."""
    known = driver_names()
    for device in lab.devices:
        if device.driver not in known:
            raise ConfigError(f"{lab.source}:{device.line}: device {device.name!r}: no driver "
                              f"named {device.driver!r} is installed (known: "
                              f"{', '.join(sorted(known))})")


def child_spec(device: DeviceSpec, settings: Settings) -> ChildSpec:
    """The process of `device`: its driver in a device actor, served on its socket."""
    sock = device_socket(settings.runtime_dir, device.name)
    config = DeviceConfig(
        device.name, device.driver, tuple(device.channels),
        settings.drivers.get(device.driver, {}), device.address, settings.log_level,
        str(socket_path(settings.runtime_dir, "tomato")), settings.orphan_grace,
        str(lock_path(settings.runtime_dir)))
    return ChildSpec(id=f"dev-{device.name}", group="device",
                     argv=python_argv("tomato.drivers.device", str(sock)), socket=sock,
                     ping_interval=5.0, stdin=CODEC.encode(config))


async def start_devices(procs: ProcessSupervisor, lab: Lab, settings: Settings,
                        survivors: dict[str, int]) -> dict[str, dict[str, Technique]]:
    """Start (or take over) every device; returns each device's techniques: those of its
    capabilities (all its driver's when it names none). A device that cannot start (its
    instrument unplugged) is failed, with why, and offers nothing until `tomato restart`
    starts it: the rest of the lab runs. Raises ConfigError for a capability its driver
    does not have."""
    infos: dict[str, DeviceInfo | None] = {}

    async def start(device: DeviceSpec) -> None:
        info = await adopt_device(procs, child_spec(device, settings), device, survivors)
        infos[device.name] = info or await start_device(procs, device, settings)

    async with anyio.create_task_group() as tg:
        for device in lab.devices:
            tg.start_soon(start, device)
    for device in lab.devices:  # a key the driver does not know: settings.toml is wrong
        _refuse_settings(settings, procs.failure(f"dev-{device.name}")
                         .removeprefix(f"dev-{device.name}: "))
    return {d.name: techniques_of(lab, d, infos[d.name]) for d in lab.devices}


async def check_settings(device: DeviceSpec, settings: Settings) -> None:
    """Raise ConfigError (naming settings.toml and the key) if `device`'s driver refuses
    its settings, found by loading it in a process of its own (nothing else starts)."""
    spec = child_spec(device, settings)
    result = await anyio.run_process((*spec.argv, "--check"), input=spec.stdin, check=False,
                                     stderr=None)
    if result.returncode != 0:
        _refuse_settings(settings, result.stdout.decode(errors="replace").strip()
                         .removeprefix("FAILED "))


def _refuse_settings(settings: Settings, reason: str) -> None:
    """Raise ConfigError naming settings.toml if a device's `reason` for not starting is
    that its driver refused its settings."""
    if reason.startswith(SETTINGS_REFUSED):
        raise ConfigError(f"{settings.config_dir / SETTINGS_FILE}: "
                          f"{reason.removeprefix('settings ')}")


async def start_device(procs: ProcessSupervisor, device: DeviceSpec, settings: Settings
                       ) -> DeviceInfo | None:
    """Start `device`'s process; what it offers, or None if it did not start (it is then
    failed, and a `failed` event says why)."""
    if await procs.try_start(child_spec(device, settings)) is None:
        return None
    return await describe(settings.runtime_dir, device.name)


async def describe(rundir: Path, device: str) -> DeviceInfo | None:
    """What a device serving now offers; None if it does not answer."""
    try:
        async with connect(device_socket(rundir, device), CODEC) as conn:
            return await conn.ask(Describe())
    except ActorError as exc:
        logger.error("device %s did not describe itself: %s", device, exc)
        return None


def techniques_of(lab: Lab, device: DeviceSpec, info: DeviceInfo | None
                ) -> dict[str, Technique]:
    if info is None:
        return {}
    offered = {t.name: t for t in info.techniques}
    wanted = device.capabilities if device.capabilities is not None else tuple(offered)
    if missing := [c for c in wanted if c not in offered]:
        raise ConfigError(f"{lab.source}:{device.line}: device {device.name!r}: driver "
                          f"{device.driver!r} has no technique {missing[0]!r} (it has: "
                          f"{', '.join(offered)})")
    return {name: offered[name] for name in wanted}


async def stop_and_save(spec: JobSpec, jobdir: Path) -> None:
    """After the job's process died: stop whatever runs on its components' channels, then
    append to its raw data files the points their devices still hold, read from them but
    never written (a device keeps a task's points until they are read past, and its last
    task's until the next starts). Bounded; a device that does not answer, or a file that
    cannot be written, is logged (the job is collected all the same)."""
    async def one(c: ComponentSpec) -> None:
        try:
            with anyio.fail_after(2 * STOP_TIMEOUT):
                async with connect(Path(c.socket), CODEC) as conn:
                    await conn.ask(StopTask(c.channel), timeout=STOP_TIMEOUT)
                    batch = await conn.ask(ReadData(c.channel, 0), timeout=STOP_TIMEOUT)
        except (ActorError, TimeoutError) as exc:
            logger.warning("job %d: could not stop %s:%s and read what it holds: %s",
                           spec.jobid, c.device, c.channel, str(exc) or type(exc).__name__)
            return
        try:
            _save(spec, jobdir, batch, c.device)
        except (OSError, ValueError) as exc:  # a raw file unreadable, or on a full disk
            logger.error("job %d: the points left on %s were not saved: %s", spec.jobid,
                         c.device, exc)

    async with anyio.create_task_group() as tg:
        for c in spec.components:
            tg.start_soon(one, c)


def _save(spec: JobSpec, jobdir: Path, batch: DataBatch, device: str) -> None:
    """Append the points of `batch` past the last one its step's raw data file holds."""
    prefix, _, index = (batch.task_id or "").partition(".")
    if prefix != str(spec.jobid) or not index.isdigit() or int(index) >= len(spec.steps):
        return  # the channel's last task is not this job's
    step = spec.steps[int(index)]
    path = jobdir / step.datafile
    written = whole_points(path, step.free_form)
    if written < batch.first:
        logger.error("job %d: points %d to %d of step %d are lost (read from %s but not "
                     "written)", spec.jobid, written + 1, batch.first, step.index, device)
    rest = batch.points[max(written - batch.first, 0):]
    if rest:
        out = RecordFile(path) if step.free_form else DataFile(path, step.columns)
        try:
            out.append(rest)
        finally:
            out.close()
        logger.warning("job %d: %d points of step %d its process had not written are "
                       "saved from %s", spec.jobid, len(rest), step.index, device)


class Devices:
    """Device states from supervision events, kept in the store; live channel states."""

    def __init__(self, lab: Lab, rundir: Path, store: Store, procs: ProcessSupervisor) -> None:
        self._lab = lab
        self._procs = procs
        self._rundir = rundir
        self._store = store
        self._state: dict[str, tuple[str, int | None, int, str | None]] = {}
        self._names = {f"dev-{d.name}": d for d in lab.devices}
        """child id → device."""
        self._installed = {d.name: driver_fingerprint(d.driver) for d in lab.devices}
        """What each device's driver package was on disk when the device started."""

    def upgraded(self, device: DeviceSpec) -> bool:
        """Whether `device`'s driver package changed on disk (installed, upgraded, removed)
        since the device started."""
        return self._installed.get(device.name) != driver_fingerprint(device.driver)

    def started(self, device: DeviceSpec) -> None:
        """`device` was (re)started: its driver as it is on disk now."""
        self._installed[device.name] = driver_fingerprint(device.driver)

    def record(self, ev: ChildEvent) -> tuple[str, str | None]:
        """Record a supervision event of a device; returns the device and the reason the
        event gives, if any."""
        device = self._names[ev.id]
        state = _STATES[ev.kind]
        reason = ev.reason.removeprefix(f"{ev.id}: ") or (
            f"exited with code {ev.returncode}" if ev.returncode else None)
        self._state[device.name] = (state, ev.pid, ev.restarts, reason)
        self._store.set_device(device.name, device.driver, ev.pid, state, ev.restarts, reason)
        self._store.log(f"device {ev.kind}", device.name, reason or "")
        if ev.kind == "failed":
            logger.error("device %s failed: %s", device.name, reason)
        return device.name, reason

    async def restart(self, name: str, pipelines: Pipelines, force: bool = False
                      ) -> DeviceInfoRow:
        """Start a device again (`tomato restart DEVICE`): a failed one, or a running one
        (a new process: its driver as installed now); one a running job uses only with
        `force` (the job waits for it, as after a crash). Tells `pipelines` what it offers.
        Raises NotFoundError, ConflictError (a job uses it), DeviceFailedError (it failed
        again: the driver's reason)."""
        known = {d.name for d in self._lab.devices}
        if name not in known:
            raise NotFoundError(f"no device named {name!r} (devices: {', '.join(known)})")
        state = self._state.get(name, ("",))[0]
        if state != "failed" and not force and (jobs := pipelines.jobs_using(name)):
            raise ConflictError(f"device {name!r} is used by running job {jobs[0]}; "
                                "--force restarts it under the job (which waits for it and "
                                "goes on, as after a crash)")
        try:
            pid = await self._procs.restart(f"dev-{name}", running=True)
        except ChildStartError:
            raise DeviceFailedError(f"device {name} failed again: {self.reason(name)}"
                                    ) from None
        self._state[name] = ("running", pid, 0, None)  # its `started` event says so too
        device = next(d for d in self._lab.devices if d.name == name)
        self.started(device)
        pipelines.learn(name, techniques_of(self._lab, device, await describe(self._rundir,
                                                                             name)))
        return next(r for r in await self.rows() if r.name == name)

    @property
    def lab(self) -> Lab:
        return self._lab

    @property
    def procs(self) -> ProcessSupervisor:
        return self._procs

    def use(self, lab: Lab) -> None:
        """The lab as reloaded (its new devices known before they start)."""
        self._lab = lab
        self._names.update({f"dev-{d.name}": d for d in lab.devices})

    async def remove(self, name: str, reason: str | None = None) -> None:
        """Stop a device's process for good (reload); `reason`: it is failed, saying why."""
        await self._procs.remove(f"dev-{name}")
        if reason is None:
            self._state.pop(name, None)
        else:
            self._state[name] = ("failed", None, 0, reason)
            logger.error("device %s failed: %s", name, reason)

    def reason(self, name: str) -> str | None:
        return self._state.get(name, ("", None, 0, None))[3]

    def refuse_if_failed(self, name: str) -> None:
        """Raise DeviceFailedError, with the driver's reason, if `name` has failed."""
        state, _, _, reason = self._state.get(name, ("", None, 0, None))
        if state == "failed":
            raise DeviceFailedError(f"device {name} has failed: {reason}; `tomato restart "
                                    f"{name}` starts it again")

    def states(self) -> dict[str, str]:
        """Each device's state (running, failed, ...), by name."""
        return {d.name: self._state.get(d.name, ("unknown",))[0] for d in self._lab.devices}

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


async def adopt_device(procs: ProcessSupervisor, spec: ChildSpec, device: DeviceSpec,
                       survivors: dict[str, int]) -> DeviceInfo | None:
    """Adopt the device process of an earlier instance if it serves the device as the
    devices file says (else stop it); returns what it says of itself, or None."""
    assert spec.socket is not None
    pid = survivors.pop(spec.socket.stem, None)
    if pid is None:
        return None
    async with connect(spec.socket, CODEC) as conn:
        info: DeviceInfo = await conn.ask(Describe())
    if (info.driver, tuple(info.channels)) != (device.driver, tuple(device.channels)):
        with suppress(ProcessLookupError):  # not what the devices file says now
            os.kill(pid, signal.SIGTERM)
        return None
    await procs.adopt(spec, pid)
    logger.warning("device %s: taken over from a previous tomato (pid %d)", device.name, pid)
    return info
