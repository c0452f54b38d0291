"""Taking over after a crash: what an earlier service left serving in the runtime folder.

Device and job processes run in sessions of their own, so they outlive a service that dies.
The new service adopts the devices that still answer as the devices file says, and the job
hosts still running jobs; it has the outputs made of jobs whose data was all
collected; it ends the other jobs left running (`ce`) and stops everything else left."""

from __future__ import annotations

import logging
import os
import signal
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from tomato.actors import ActorError, Ping, ProcessSupervisor, connect

from ..codec import CODEC
from ..jobspec import JobSpec
from ..jobstatus import ACTIVE, PENDING, Status
from ..processmessages import GetHostedJobs
from .jobs.jobhosts import PREFIX, JobHosts
from .scheduling.pipelines import Pipelines
from .state.store import Store

logger = logging.getLogger(__name__)

PROBE_TIMEOUT = 2.0


async def survivors(rundir: Path) -> dict[str, int]:
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


@dataclass
class Recovered:
    """What the store and the surviving job hosts say of the jobs an earlier service left:
    for the supervisor to take on (in order: followed, lost, queued, collected)."""

    followed: list[JobSpec] = field(default_factory=list)
    """Still running in a job host taken over."""
    lost: list[tuple[JobSpec, str, str]] = field(default_factory=list)
    """Their job host is gone: to stop and collect, with the status and reason they end with."""
    queued: list[JobSpec] = field(default_factory=list)
    collected: list[tuple[JobSpec, str, str | None]] = field(default_factory=list)
    """Their data was all collected: their outputs to make, then to end as they ended."""


async def recover_jobs(store: Store, jobhosts: JobHosts, pipelines: Pipelines, jobs_dir: Path,
                       survivors: dict[str, int]) -> Recovered:
    """Take over the job hosts still running jobs (each taken over is removed from
    `survivors`), and say what became of every job the store has not seen end; the
    pipelines forget the jobs not running any more."""
    found = Recovered()
    hosted = await _hosted(jobhosts, survivors)
    for child, jobids in hosted.items():
        try:
            await jobhosts.adopt(child, survivors.pop(child), jobids)
        except ActorError as exc:
            logger.warning("could not take over %s: %s", child, exc)
            continue
        logger.warning("%s taken over, still running %d jobs", child, len(jobids))
    running_in = {j: c for c, jobids in hosted.items() for j in jobids}
    for job in store.jobs(ACTIVE, local=True):
        if (collected := store.collected(job.jobid)) is not None:
            logger.warning("job %d: data collected before a restart; making outputs",
                           job.jobid)
            found.collected.append((store.spec(job.jobid), *collected))
            continue
        if (host := running_in.get(job.jobid)) is not None and host not in survivors:
            logger.warning("job %d: taken over, still running in %s", job.jobid, host)
            found.followed.append(store.spec(job.jobid))
            continue
        # Its host is gone: what it wrote is kept, its pipeline freed once its tasks stop.
        started = any((jobs_dir / str(job.jobid)).glob("[0-9]*-*"))
        found.lost.append((store.spec(job.jobid), Status.CANCELLED if job.status ==
                           Status.CANCELLING else Status.FAILED,
                           "tomato stopped while this job was running, and so did the job's "
                           "host" if started else "tomato stopped while it started this job: "
                           "nothing was collected (submit it again)"))
    pipelines.forget_jobs({spec.jobid for spec in found.followed} |
                          {spec.jobid for spec, *_ in found.lost})
    found.queued = [store.spec(job.jobid) for job in store.jobs(PENDING)]
    return found


async def _hosted(jobhosts: JobHosts, survivors: dict[str, int]) -> dict[str, tuple[int, ...]]:
    """The jobs each surviving job host runs (those running none are left out)."""
    found: dict[str, tuple[int, ...]] = {}

    async def ask(name: str, sock: Path) -> None:
        with anyio.move_on_after(PROBE_TIMEOUT):
            try:
                async with connect(sock, CODEC) as conn:
                    reply = await conn.ask(GetHostedJobs(), timeout=PROBE_TIMEOUT)
            except ActorError:
                return
            if reply.jobids:
                found[name] = tuple(reply.jobids)

    async with anyio.create_task_group() as tg:
        for name in survivors:
            if name.startswith(PREFIX):
                tg.start_soon(ask, name, jobhosts.socket(name))
    return found


def stop_leftovers(store: Store, rundir: Path, survivors: dict[str, int],
                   procs: ProcessSupervisor) -> None:
    """Stop what an earlier instance left and nobody took over (idle job hosts,
    output servers, devices no longer in the devices file or not answering)."""
    pids = {*survivors.values(), *store.device_pids()} - set(procs.pids())
    for pid in pids:
        with suppress(OSError):
            if str(rundir).encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                logger.warning("stopping process %d left by a previous tomato", pid)
                os.kill(pid, signal.SIGTERM)
