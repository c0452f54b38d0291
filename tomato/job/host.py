"""A job host: one process running many job actors, each with its own mailbox, sharing one
connection per device and one reporter to the supervisor."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskGroup

from tomato.actors import Actor, ActorError, ActorRef, Context, connect, retrying, start_actor

from ..codec import CODEC
from ..jobstatus import Status
from ..processmessages import CancelRun, GetHostedJobs, HostedJobs, JobCollected, RunJob
from .actor import JobActor
from .links import DeviceLinks
from .reporter import DRAIN_TIMEOUT, Reporter

logger = logging.getLogger(__name__)

CANCEL_GRACE = 10.0
"""How long a host that is told to stop waits for its cancelled jobs to report."""


class JobHost(Actor):
    """Takes jobs (RunJob) and runs each as an actor of its own until it reports its end;
    routes CancelRun to the job; says which jobs it runs."""

    def __init__(self, supervisor: Path, poll_interval: float, orphan_grace: float,
                 tg: TaskGroup) -> None:
        self.supervisor = supervisor
        self.grace = orphan_grace
        self.tg = tg
        self.reporter = Reporter(supervisor)
        self.links = DeviceLinks(tg, poll_interval)
        self.jobs: dict[int, ActorRef] = {}
        self._reporting = 0
        """Jobs whose data is in and whose end is being reported."""
        self._idle = anyio.Event()

    def is_idle(self) -> bool:
        return not self.jobs and not self._reporting

    async def handle(self, msg: Any, ctx: Context) -> Any:
        match msg:
            case RunJob(spec):
                if spec.jobid in self.jobs:
                    raise ActorError(f"job {spec.jobid} runs here already")
                await self.tg.start(self._run, msg)
                return None
            case CancelRun(jobid):
                if (ref := self.jobs.get(jobid)) is not None:
                    return await ref.ask(msg)
                return None  # ended meanwhile
            case GetHostedJobs():
                return HostedJobs(tuple(self.jobs))
        raise ActorError(f"a job host does not understand {type(msg).__name__}")

    async def _run(self, job: RunJob, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        actor = JobActor(job, self.reporter, self.links)
        jobid = job.spec.jobid
        async with start_actor(actor, mailbox_size=8) as ref:
            self.jobs[jobid] = ref
            task_status.started()
            try:
                status, reason = await actor.run()
            except Exception as exc:  # a bug of ours: this job ends, the host's others go on
                logger.exception("job %d failed", jobid)
                status = Status.FAILED
                reason = f"tomato failed running it: {type(exc).__name__}: {exc}"
            finally:
                del self.jobs[jobid]
        self._reporting += 1
        try:
            # The supervisor hears the last points before the end; if it is gone, this
            # waits no longer than the service's processes wait for it.
            await self.reporter.drain(min(DRAIN_TIMEOUT, self.grace))
            await report(self.supervisor, JobCollected(jobid, status, reason), self.grace)
        finally:
            self._reporting -= 1
            if self.is_idle():
                self._idle.set()
                self._idle = anyio.Event()

    async def stop_jobs(self) -> None:
        """Cancel every job (the host was told to stop) and wait, bounded, for them to
        report their end."""
        if self.is_idle():
            return
        logger.warning("stopping: cancelling %d jobs", len(self.jobs))
        for ref in list(self.jobs.values()):
            ref.actor.cancel()  # type: ignore[attr-defined]
        with anyio.move_on_after(CANCEL_GRACE):
            while not self.is_idle():
                await self._idle.wait()


async def report(supervisor: Path, msg: JobCollected, patience: float) -> Any:
    """Tell the supervisor; retried for `patience` seconds (a restarted service takes the
    report) until it is acknowledged. Returns its reply (None: nobody took it)."""
    async def ask() -> Any:
        async with connect(supervisor, CODEC) as conn:
            return await conn.ask(msg)

    with anyio.move_on_after(patience):
        return await retrying(ask, failed=lambda exc: logger.warning(
            "could not report to the supervisor (%s); retrying", exc))
    logger.error("the supervisor did not take %s", msg)
    return None
