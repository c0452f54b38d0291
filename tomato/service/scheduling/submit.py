"""A submitted payload: read, checked against the lab, stored as a queued job."""

from __future__ import annotations

import os
import pwd
from collections.abc import Callable

import anyio

from tomato.drivers import Technique

from ...errors import ConflictError
from ...jobspec import JobSpec
from ...messages import PayloadChecked, SubmitJob
from ..state.store import Store
from .habits import habits_of
from .payload import LATEST, check_submission, job_spec, normalise_payload
from .pipelines import Pipelines


async def accept(msg: SubmitJob, uid: int, pipelines: Pipelines,
                 remote: dict[str, dict[str, dict[str, Technique]]], store: Store,
                 next_jobid: Callable[[], int | None]) -> JobSpec | PayloadChecked:
    """Check `msg`'s payload against what each pipeline's roles can do (`pipelines`', and
    the other tomatos' `remote` ones) and why some cannot (a failed device), and its
    habits; with `check`, what was found; else the job stored as queued, as jobid
    `next_jobid()` (the cluster's; None: the store's next). Raises PayloadError,
    NotFoundError, ConflictError, StateFullError."""
    version, payload = await anyio.to_thread.run_sync(normalise_payload, msg.payload,
                                                      msg.filename)
    checked = check_submission(version, payload, msg, uid, {**pipelines.roles(), **remote},
                               pipelines.failures())
    habits = habits_of(msg, store, checked.pipelines)
    if msg.check:  # `ketchup submit --check`: nothing queued
        return checked
    who = submitter(msg, uid)
    if version != LATEST:  # upgrading to 2.2 names the service's user; it is the submitter's
        payload["user"] = {"identifier": who}
    owner = None if uid == os.getuid() else uid

    def spec_of(jobid: int) -> JobSpec:
        return job_spec(payload, jobid, msg.jobname, msg.cwd, owner)

    return store.add_job(payload, (uid, who), msg.cwd, spec_of, next_jobid(), habits)


def submitter(msg: SubmitJob, uid: int) -> str:
    """The name a job is recorded under: its submitter's user name, or, from the web
    process (the service's own user), the token's name, marked as such."""
    if msg.submitter is None:
        return user_name(uid)
    if uid != os.getuid():
        raise ConflictError("a submitter is named by tomato's web process only")
    return f"{msg.submitter} (web)"


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)
