"""What the supervisor, its job hosts and the output servers say to each other (not for
clients), the job spec first of all (in jobspec.py)."""

from __future__ import annotations

from typing import Any

from tomato.actors import Message

from .jobspec import ComponentSpec, JobSpec, Place, Snapshots, StepSpec


# supervisor → output server (or a one-off output process, on its standard input).
class MakeOutputs(Message):
    """Make `<place>.{nc,zip}` of the job in `jobdir` (its data so far, for a snapshot)."""

    jobdir: str
    spec: JobSpec
    place: Place
    status: str | None = None


class OutputsMade(Message):
    files: tuple[str, ...]
    notes: tuple[str, ...] = ()
    """What the user should know (a file written under another name: the first existed)."""


# supervisor → itself, once a job's outputs are made.
class JobFinished(Message):
    """End the job with status c, ce or cd."""

    jobid: int
    status: str
    reason: str | None = None
    outputs: tuple[str, ...] = ()


# job host → supervisor.
class JobCollected(Message):
    """A job's data collection ended as `status` (c, ce or cd, and why); the supervisor
    releases the pipeline, makes the outputs, then ends the job."""

    jobid: int
    status: str
    reason: str | None = None


class Reports(Message):
    """Progress of many jobs (StepStarted, JobData) in one message."""

    items: tuple[Any, ...]


# supervisor → job host.
class RunJob(Message):
    """Start a job in a job host; its folder `jobdir` exists."""

    spec: JobSpec
    jobdir: str


class CancelRun(Message):
    """Stop job `jobid`'s tasks now; the job then reports cd. (A host that no longer runs
    it ignores it.)"""

    jobid: int


class GetHostedJobs(Message):
    """Ask a job host which jobs it runs (after a crash: which to take over)."""


class HostedJobs(Message):
    jobids: tuple[int, ...]


PROCESS_MESSAGES: tuple[type, ...] = (
    ComponentSpec, StepSpec, Place, Snapshots, JobSpec, MakeOutputs, OutputsMade, JobFinished,
    JobCollected, Reports, RunJob, CancelRun, GetHostedJobs, HostedJobs,
)
