"""The tomato service: devices started, supervisor served, until a signal or `tomato stop`."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskStatus

from actors import (
    ActorDeadError,
    ActorError,
    ChildEvent,
    ChildSpec,
    Ping,
    ProcessSupervisor,
    connect,
    python_argv,
    run_until_signalled,
    serve_actor,
    start_actor,
    task_group,
)
from drivers import Describe, DeviceInfo, Technique, driver_names

from ..codec import CODEC
from ..errors import AlreadyRunningError, ConfigError, TomatoError
from ..paths import device_socket, ensure_private_dir, socket_path
from .devicesfile import Lab, load_lab
from .outputs import output_servers
from .settings import Settings
from .store import Store
from .supervisor import CancelAll, Supervisor

logger = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT = 10.0
PROBE_TIMEOUT = 2.0


async def serve(settings: Settings, *, task_status: TaskStatus[Path] = anyio.TASK_STATUS_IGNORED
                ) -> None:
    """Run the service until SIGINT/SIGTERM or a StopService; started once it listens."""
    rundir = ensure_private_dir(settings.runtime_dir)
    with _single_instance(rundir, settings):
        lab = load_lab(settings.devices_file)
        _check_drivers(lab)
        store = Store(settings.state_db)
        try:
            await _run(settings, lab, store, task_status)
        finally:
            store.close()


async def _run(settings: Settings, lab: Lab, store: Store, task_status: TaskStatus[Path]
               ) -> None:
    early: list[ChildEvent] = []
    sup: Supervisor | None = None

    async def on_child_event(ev: ChildEvent) -> None:
        if sup is not None and sup.ref is not None:
            try:
                await sup.ref.tell(ev)
            except ActorDeadError:
                logger.info("after the supervisor stopped: %s", ev)
        else:
            early.append(ev)

    async with task_group() as tg:
        procs = ProcessSupervisor(tg, CODEC, on_child_event)
        try:
            # What an earlier instance that died left serving: its devices and running jobs
            # are taken over, the rest is stopped.
            survivors = await _survivors(settings.runtime_dir)
            techniques = _techniques(lab, await _start_devices(procs, lab, settings,
                                                               survivors))
            sup = Supervisor(settings, lab, store, procs, tg, techniques)
            await sup.recover(survivors)
            _stop_leftovers(store, settings.runtime_dir, survivors, procs)
            async with start_actor(sup) as ref:
                sup.ref = ref
                sup.resume()
                for ev in early:
                    await ref.tell(ev)
                sock = socket_path(settings.runtime_dir, "tomato")
                await tg.start(serve_actor, ref, sock, CODEC)
                logger.info("tomato ready: %d pipelines, socket %s", len(sup.pipelines), sock)
                task_status.started(sock)
                tg.start_soon(anyio.to_thread.run_sync, _warm_up)
                for number in range(settings.output_servers):
                    tg.start_soon(_start_output_server, procs, settings, number)
                tg.start_soon(sup.jobprocs.fill)
                await _until_stop(sup)
                await _finish_running_jobs(sup)
                await procs.stop_all()  # while the supervisor still records their exits
        finally:
            with anyio.CancelScope(shield=True):
                await procs.stop_all()
            tg.cancel_scope.cancel()


async def _until_stop(sup: Supervisor) -> None:
    async with anyio.create_task_group() as tg:
        async def stop_on(waiter: Any) -> None:
            await waiter()
            tg.cancel_scope.cancel()

        tg.start_soon(stop_on, run_until_signalled)
        tg.start_soon(stop_on, sup.stop_requested.wait)
    logger.info("tomato stopping")


async def _finish_running_jobs(sup: Supervisor) -> None:
    """Cancel running jobs and wait (bounded) for them to report, so their data is kept."""
    if not sup.running_jobs():
        return
    assert sup.ref is not None
    sub = sup.events.subscribe()
    try:
        await sup.ref.ask(CancelAll())
        with anyio.move_on_after(SHUTDOWN_TIMEOUT):
            while sup.running_jobs():
                await sub.__anext__()
    finally:
        sub.close()


async def _survivors(rundir: Path) -> dict[str, int]:
    """Processes of an earlier instance still serving in `rundir`: socket name → pid."""
    found: dict[str, int] = {}

    async def probe(sock: Path) -> None:
        with anyio.move_on_after(PROBE_TIMEOUT):
            try:
                async with connect(sock, CODEC) as conn:
                    found[sock.stem] = (await conn.ask(Ping(), timeout=PROBE_TIMEOUT)).pid
            except ActorError:
                pass

    async with anyio.create_task_group() as tg:
        for sock in rundir.glob("*.sock"):  # noqa: ASYNC240 - a few entries, once
            if sock.stem != "tomato":
                tg.start_soon(probe, sock)
    return found


def _stop_leftovers(store: Store, rundir: Path, survivors: dict[str, int],
                    procs: ProcessSupervisor) -> None:
    """Stop what an earlier instance left and nobody took over (standby job processes,
    output servers, devices no longer in the devices file or not answering)."""
    pids = {*survivors.values(), *store.device_pids()} - set(procs.pids())
    for pid in pids:
        with suppress(OSError):
            if str(rundir).encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                logger.warning("stopping process %d left by a previous tomato", pid)
                os.kill(pid, signal.SIGTERM)


async def _start_devices(procs: ProcessSupervisor, lab: Lab, settings: Settings,
                         survivors: dict[str, int]) -> dict[str, DeviceInfo]:
    infos: dict[str, DeviceInfo] = {}
    failures: list[str] = []

    async def start(spec_name: str) -> None:
        try:
            await start_one(spec_name)
        except ActorError as exc:
            failures.append(f"device {spec_name!r} did not start: {exc}")

    async def start_one(spec_name: str) -> None:
        device = next(d for d in lab.devices if d.name == spec_name)
        sock = device_socket(settings.runtime_dir, device.name)
        argv = python_argv(
            "drivers.device", "--name", device.name, "--driver", device.driver,
            "--socket", str(sock), "--channels", ",".join(device.channels),
            "--settings", json.dumps(settings.drivers.get(device.driver, {})),
            "--log-level", settings.log_level,
            *(("--address", device.address) if device.address is not None else ()))
        spec = ChildSpec(id=f"dev-{device.name}", argv=argv, socket=sock, ping_interval=5.0)
        if (pid := survivors.pop(sock.stem, None)) is not None:
            async with connect(sock, CODEC) as conn:
                info = await conn.ask(Describe())
            if (info.driver, tuple(info.channels)) == (device.driver, tuple(device.channels)):
                await procs.adopt(spec, pid)
                logger.warning("device %s: taken over from a previous tomato (pid %d)",
                               device.name, pid)
                infos[device.name] = info
                return
            with suppress(ProcessLookupError):  # not what the devices file says now
                os.kill(pid, signal.SIGTERM)
        await procs.start(spec)
        async with connect(sock, CODEC) as conn:
            infos[device.name] = await conn.ask(Describe())

    async with anyio.create_task_group() as tg:
        for device in lab.devices:
            tg.start_soon(start, device.name)
    if failures:
        raise TomatoError("; ".join(failures))
    return infos


async def _start_output_server(procs: ProcessSupervisor, settings: Settings, number: int
                               ) -> None:
    """An output server: yadg loaded once for many jobs' outputs (while none answers, each
    job's outputs are made by an output process of its own)."""
    sock = output_servers(settings.runtime_dir, settings.output_servers, number)[0]
    try:
        await procs.start(ChildSpec(id=sock.stem, argv=python_argv(
            "tomato.outputs", "--serve", str(sock)), socket=sock, ping_interval=5.0,
            start_timeout=60.0))
    except ActorError as exc:
        if not procs.stopping:
            logger.error("output server %d did not start (%s)", number, exc)


def _warm_up() -> None:
    """Import the payload models now (in a thread), so the first submit does not wait."""
    import dgbowl_schemas.tomato as schemas

    for version in ("0_1", "0_2", "1_0", "2_0", "2_1", "2_2"):
        getattr(schemas, f"Payload_{version}")


def _check_drivers(lab: Lab) -> None:
    known = driver_names()
    for device in lab.devices:
        if device.driver not in known:
            raise ConfigError(f"{lab.source}:{device.line}: device {device.name!r}: no driver "
                              f"named {device.driver!r} is installed (known: "
                              f"{', '.join(sorted(known))})")


def _techniques(lab: Lab, infos: dict[str, DeviceInfo]) -> dict[str, dict[str, Technique]]:
    """Per device, the techniques it may run: its capabilities, checked against its driver."""
    result = {}
    for device in lab.devices:
        offered = {t.name: t for t in infos[device.name].techniques}
        wanted = device.capabilities if device.capabilities is not None else tuple(offered)
        if missing := [c for c in wanted if c not in offered]:
            raise ConfigError(f"{lab.source}:{device.line}: device {device.name!r}: driver "
                              f"{device.driver!r} has no technique {missing[0]!r} (it has: "
                              f"{', '.join(offered)})")
        result[device.name] = {name: offered[name] for name in wanted}
    return result


@contextmanager
def _single_instance(rundir: Path, settings: Settings) -> Iterator[None]:
    path = rundir / "tomato.lock"
    with open(path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            pid = lock.read().strip() or "?"
            raise AlreadyRunningError(
                f"tomato is already running for {settings.config_dir} (pid {pid}, "
                f"socket {socket_path(rundir, 'tomato')})") from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        yield
