"""Who may say what to the supervisor: what only the service itself, or only its job
processes, may say; what another user of a shared socket may not."""

from __future__ import annotations

import os
from typing import Any

from tomato.actors import ActorError, ChildEvent, Context

from ..errors import ConflictError
from ..messages import (
    CancelJobs,
    HoldJobs,
    JobData,
    JobInfo,
    Reload,
    RequeueJob,
    RestartDevice,
    SetPriority,
    StepStarted,
    StopService,
)
from ..processmessages import JobCollected, JobFinished, Reports
from .jobs.jobhosts import JobHosts
from .scheduling.submit import user_name
from .state.store import Store


class CancelAll:
    """Local message of the service: cancel every running job (it is shutting down)."""


def refuse_forged(msg: Any, ctx: Context, jobhosts: JobHosts, store: Store) -> None:
    """What only the service itself, or only its job processes, may say: refused from anyone
    else (a client of the same user included). From another user (a socket shared with a
    group, `[sharing]`): cancel, hold, release, prioritise and requeue only their own jobs,
    and no stop, reload or restart."""
    if ctx.uid not in (0, os.getuid()):
        if isinstance(msg, (StopService, Reload, RestartDevice)):
            raise ConflictError(f"{type(msg).__name__}: only {user_name(os.getuid())} (who "
                                "runs tomato) or root may")
        jobids = msg.jobids if isinstance(msg, (CancelJobs, HoldJobs, SetPriority)) else \
            (msg.jobid,) if isinstance(msg, RequeueJob) else ()
        if theirs := [j for j in jobids if (job := store.job(j)) is not None
                      and not _owned_by(job, store.where(j)[0], store.host, ctx.uid)]:
            raise ConflictError(f"job {theirs[0]} is not yours: only its owner, "
                                f"{user_name(os.getuid())} or root may change it")
    if ctx.pid != os.getpid() and (isinstance(msg, (JobFinished, CancelAll, ChildEvent)) or (
            isinstance(msg, (JobCollected, StepStarted, JobData, Reports))
            and not jobhosts.is_ours(ctx.pid))):
        raise ActorError(f"{type(msg).__name__} is accepted from tomato's own processes only "
                         f"(not from pid {ctx.pid})")


def _owned_by(job: JobInfo, home: str | None, here: str | None, uid: int) -> bool:
    """Whether the user `uid` of this PC owns `job`: by uid if it was submitted here; by
    user name if on another PC of the cluster, whose uids need not be this PC's."""
    if home in (None, here):
        return job.owner == uid
    return job.owner_name is not None and job.owner_name == user_name(uid)
