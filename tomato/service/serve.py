"""The tomato service: devices started, supervisor served, until a signal or `tomato stop`."""

from __future__ import annotations

import fcntl
import logging
import os
import resource
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

import anyio
from anyio.abc import TaskStatus

from tomato.actors import (
    ActorDeadError,
    ActorRef,
    ChildEvent,
    EventHub,
    ProcessSupervisor,
    run_until_signalled,
    serve_actor,
    start_actor,
    task_group,
)

from ..codec import CODEC
from ..errors import AlreadyRunningError
from ..jobspec import JobSpec
from ..paths import ensure_private_dir, lock_path, open_lock, socket_path
from .config.devicesfile import Lab, load_lab
from .config.settings import Settings
from .guard import CancelAll
from .jobs.jobhosts import JobHosts
from .jobs.notify import notify
from .jobs.outputs import Outputs
from .lab.devices import Devices, check_drivers, start_devices
from .scheduling.pipelines import Pipelines
from .state.keep import forget_old_jobs
from .state.statecheck import check_state
from .state.store import Store
from .supervisor import Supervisor
from .takeover import stop_leftovers, survivors
from .web import start_web

logger = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT = 10.0
FLUSH_INTERVAL = 2.0


async def serve(settings: Settings, *, task_status: TaskStatus[str] = anyio.TASK_STATUS_IGNORED
                ) -> None:
    """Run the service until SIGINT/SIGTERM or a StopService; started once it listens, with
    one line saying so (socket, pipelines, devices)."""
    os.umask(0o077)  # its state, job folders, logs and data are the user's alone (children too)
    _raise_descriptor_limit()
    # Neither the service nor its job and output processes do linear algebra: numpy's
    # OpenBLAS would start a spinning thread per core in each of them (CPU for nothing, more
    # threads on a bigger PC). Set in tomato's environment, it is kept.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    rundir = ensure_private_dir(settings.runtime_dir)
    with _single_instance(rundir, settings):
        lab = load_lab(settings.devices_file)
        check_drivers(lab)
        store = Store(settings.state_db,
                      settings.cluster.host if settings.cluster is not None else None,
                      rundir / "unwritten-records")
        try:
            check_state(store, settings.jobs_dir)  # no jobid given twice
            await _run(settings, lab, store, task_status)
        finally:
            store.close()


async def _run(settings: Settings, lab: Lab, store: Store, task_status: TaskStatus[str]
               ) -> None:
    early: list[ChildEvent] = []
    sup: Supervisor | None = None

    async def on_child_event(ev: ChildEvent) -> None:
        if sup is None:  # before the supervisor runs: it hears them first thing
            early.append(ev)
            return
        try:
            await sup.ref.tell(ev)
        except ActorDeadError:
            logger.info("after the supervisor stopped: %s", ev)

    async with task_group() as tg:
        procs = ProcessSupervisor(tg, CODEC, on_child_event)
        try:
            # What an earlier instance that died left serving: its devices and running jobs
            # are taken over, the rest is stopped.
            left = await survivors(settings.runtime_dir)
            techniques = await start_devices(procs, lab, settings, left)
            outputs = Outputs(settings.runtime_dir, settings.output_servers, tg,
                              settings.orphan_grace)
            supervisor = Supervisor(
                settings, Devices(lab, settings.runtime_dir, store, procs),
                Pipelines(lab, techniques, store, lambda event: supervisor.events.publish(event)),
                store, JobHosts(settings, procs, tg), outputs, tg, left)
            async with start_actor(supervisor) as ref:  # recovers the jobs as it starts
                stop_leftovers(store, settings.runtime_dir, left, procs)
                store.serving()
                tg.start_soon(_flush_when_room, store)
                sup = supervisor
                for ev in early:
                    await ref.tell(ev)
                sock = socket_path(settings.runtime_dir, "tomato")
                await tg.start(serve_actor, ref, sock, CODEC)
                if settings.shared_socket is not None:  # for the members of a group
                    shared, gid = settings.shared_socket
                    await tg.start(serve_actor, ref, shared, CODEC)
                    os.chown(shared, -1, gid)
                    shared.chmod(0o660)
                ready = (f"tomato ready (pipelines: {len(supervisor.pipelines.all)}, devices: "
                         f"{len(lab.devices)}); socket {sock}")
                if (cluster := settings.cluster) is not None:
                    ready += f"; cluster host {cluster.host} at {', '.join(cluster.urls)}"
                logger.info("%s", ready)
                task_status.started(ready)
                tg.start_soon(anyio.to_thread.run_sync, _warm_up)
                for number in range(settings.output_servers):
                    tg.start_soon(outputs.start_server, procs, number)
                tg.start_soon(supervisor.jobhosts.fill)
                if settings.web_listen is not None:
                    tg.start_soon(start_web, procs, settings)
                if settings.keep is not None:
                    tg.start_soon(forget_old_jobs, store, settings.keep)
                if settings.notify is not None:
                    tg.start_soon(notify, settings.notify, supervisor.events, store,
                                  supervisor.pipelines.infos)
                if settings.cluster is not None:
                    from .cluster import Home, join

                    home = Home(store, supervisor.pipelines, supervisor.queue,
                                supervisor.events, ref, settings.jobs_dir,
                                supervisor.start_job, supervisor.schedule, supervisor.enqueue,
                                supervisor.progress.forget, supervisor.ended)
                    supervisor.use_cluster(await tg.start(join, settings.cluster, home))
                await tg.start(supervisor.components.follow, supervisor.events.publish)
                if await _until_stop(supervisor.stop_requested) and supervisor.running_jobs():
                    _leave_running_jobs(supervisor.running_jobs(), supervisor.running,
                                        supervisor.jobhosts, procs, settings.orphan_grace)
                else:
                    await _finish_running_jobs(ref, supervisor.events,
                                               supervisor.running_jobs)
                await procs.stop_all()  # while the supervisor still records their exits
        except BaseException:  # the service fails: its running jobs must not
            if sup is not None and (running := sup.running_jobs()):
                logger.critical("the service is failing: its running jobs keep running")
                _leave_running_jobs(running, sup.running, sup.jobhosts, procs,
                                    settings.orphan_grace)
            raise
        finally:
            with anyio.CancelScope(shield=True):
                await procs.stop_all()
            tg.cancel_scope.cancel()


def _raise_descriptor_limit() -> None:
    """As many open files as the system lets this user have (the soft limit up to the
    hard one): connections, job and device processes each hold some."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 20)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as exc:
            logger.warning("could not raise the open files limit from %d to %d: %s", soft,
                           hard, exc)


async def _flush_when_room(store: Store) -> None:
    """Write the records that wait for room on a full disk, as soon as there is some."""
    while True:
        await anyio.sleep(FLUSH_INTERVAL)
        if store.waiting:
            store.flush()


async def _until_stop(requested: anyio.Event) -> bool:
    """Wait for a signal (returns True) or `tomato stop` (False)."""
    signalled = False
    async with anyio.create_task_group() as tg:
        async def on_signal() -> None:
            nonlocal signalled
            await run_until_signalled()
            signalled = True
            tg.cancel_scope.cancel()

        async def on_request() -> None:
            await requested.wait()
            tg.cancel_scope.cancel()

        tg.start_soon(on_signal)
        tg.start_soon(on_request)
    logger.info("tomato stopping")
    return signalled


def _leave_running_jobs(running: list[int], specs: Mapping[int, JobSpec], jobhosts: JobHosts,
                        procs: ProcessSupervisor, grace: float) -> None:
    """Stopped by a signal (a restart, an upgrade, the machine's shutdown): running jobs
    keep running, with their devices, for the next start to take over, as after a crash;
    everything else stops. (`tomato stop --force` cancels them instead.)"""
    devices = {c.device for j in running if (spec := specs.get(j)) is not None
               for c in spec.components}
    procs.release([*jobhosts.children_of(running), *(f"dev-{d}" for d in devices)])
    logger.warning("job(s) %s keep running: start tomato again within %g s to take them over "
                   "(after that they finish, stop, and get their outputs at the next start)",
                   ", ".join(map(str, running)), grace)


async def _finish_running_jobs(supervisor: ActorRef, events: EventHub,
                               running: Callable[[], list[int]]) -> None:
    """Cancel running jobs and wait (bounded) for them to report, so their data is kept."""
    if not running():
        return
    sub = events.subscribe()
    try:
        await supervisor.ask(CancelAll())
        with anyio.move_on_after(SHUTDOWN_TIMEOUT):
            while running():
                await sub.__anext__()
    finally:
        sub.close()


def _warm_up() -> None:
    """Import the payload models now (in a thread), so the first submit does not wait."""
    import dgbowl_schemas.tomato as schemas

    for version in ("0_1", "0_2", "1_0", "2_0", "2_1", "2_2"):
        getattr(schemas, f"Payload_{version}")


@contextmanager
def _single_instance(rundir: Path, settings: Settings) -> Iterator[None]:
    path = lock_path(rundir)
    with os.fdopen(open_lock(rundir), "a+") as lock:
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
        # Stopped cleanly (its children too): leave no runtime folder behind.
        path.unlink(missing_ok=True)
        with suppress(OSError):  # not empty: something still serves there
            rundir.rmdir()
