"""A queued job's habits besides its needs: the jobs it runs after, held, its priority, the
pipeline it is pinned to. Checked at submit (an unknown job, a pipeline that cannot run it:
refused, nothing queued), changed while it is queued (`ketchup hold`, `release`,
`priority`), and a finished job queued again as it was (`ketchup requeue`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ...errors import ConflictError, NotFoundError, PayloadError
from ...jobspec import Habits
from ...jobstatus import FINISHED, PENDING, Status
from ...messages import HoldJobs, JobInfo, RequeueJob, SetPriority, SubmitJob
from ..state.lookup import known
from ..state.store import Store
from .payloadwords import without_unhonoured
from .queue import Queue


def habits_of(msg: SubmitJob, store: Store, able: Iterable[str]) -> Habits:
    """The habits `msg` asks for, checked: every job it runs after exists and can still let
    it start; the pipeline it is pinned to can run it (`able`: those that can)."""
    for other in msg.after:
        job = store.job(other)
        if job is None:
            raise NotFoundError(f"--after {other}: no job with jobid {other}")
        if job.status in FINISHED and job.status != Status.COMPLETED and not msg.after_any:
            raise ConflictError(f"--after {other}: job {other} ended {job.status}, so a job "
                                "to start once it completed never would (--after-any: "
                                "whatever the end)")
    if msg.pipeline is not None and msg.pipeline not in (able := tuple(able)):
        raise PayloadError(f"--pipeline {msg.pipeline}: that pipeline cannot run this payload "
                           f"(pipelines that can: {', '.join(able) or 'none'})",
                           {"field": "pipeline"})
    return Habits(msg.priority, msg.hold, tuple(sorted(set(msg.after))), msg.after_any,
                  msg.pipeline)


def waiting(job: JobInfo, store: Store) -> tuple[Habits, list[int], str | None]:
    """A queued job's habits, the jobs it runs after that have not ended, and why it can
    never start (one of those ended otherwise than it needs) or None."""
    unmet = []
    for other in job.after:
        found = store.job(other)
        if found is None or found.status not in FINISHED:
            unmet.append(other)
        elif found.status != Status.COMPLETED and not job.after_any:
            return _habits(job), [], f"job {other} it was to run after ended {found.status}"
    return _habits(job), unmet, None


def _habits(job: JobInfo) -> Habits:
    return Habits(job.priority, job.held, job.after, job.after_any, job.pinned)


def queued(store: Store, jobids: Iterable[int], what: str) -> list[JobInfo]:
    """The jobs `jobids`, each of them queued; else ConflictError naming the first not."""
    jobs = []
    for jobid in jobids:
        job = known(store, jobid)
        if job.status not in PENDING:
            raise ConflictError(f"job {jobid} is not queued ({job.status}): only a queued "
                                f"job can be {what}")
        jobs.append(job)
    return jobs


def as_submitted(msg: SubmitJob | RequeueJob, store: Store) -> SubmitJob:
    """A submit; a requeue as the submit of its finished job as it was: its payload, folder
    and name, the jobs it ran after (or those the requeue names), its priority and pin; not
    held."""
    if isinstance(msg, SubmitJob):
        return msg
    job = known(store, msg.jobid)
    record, after = store.record(msg.jobid), msg.after
    if job.status not in FINISHED:
        raise ConflictError(f"job {job.jobid} has not finished ({job.status}): only a "
                            "finished job can be queued again")
    return SubmitJob(without_unhonoured(record["payload"]), f"job {job.jobid}", record["cwd"],
                     job.jobname,
                     after=job.after if after is None else after, after_any=job.after_any,
                     priority=job.priority, pipeline=job.pinned)


def change(store: Store, queue: Queue, msg: HoldJobs | SetPriority,
           changed: Callable[[int], None]) -> list[JobInfo]:
    """Hold or release queued jobs, or give them a priority: stored, queued so, each told to
    `changed`; the jobs as they are now (refused as a whole if one is not queued)."""
    what = "given a priority" if isinstance(msg, SetPriority) else \
        "held" if msg.held else "released"
    jobs = queued(store, msg.jobids, what)
    for job in jobs:
        if isinstance(msg, HoldJobs):
            store.set_job(job.jobid, held=int(msg.held))
            if job.jobid in queue.pending:
                queue.hold(job.jobid, msg.held)
        else:
            store.set_job(job.jobid, priority=msg.priority)
            if job.jobid in queue.pending:
                queue.set_priority(job.jobid, msg.priority)
        changed(job.jobid)
    return [store.job(job.jobid) or job for job in jobs]
