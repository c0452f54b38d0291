"""What the supervisor, its job processes and the output server say to each other."""

from __future__ import annotations

from actors import Message


# supervisor → output server.
class MakeOutputs(Message):
    """Ask the output server for `<outdir>/<prefix>.{nc,zip}` from a job folder."""

    jobdir: str
    outdir: str
    prefix: str
    status: str | None = None


class OutputsMade(Message):
    files: tuple[str, ...]


# supervisor → itself, once a job's outputs are made.
class JobFinished(Message):
    """End the job with status c, ce or cd."""

    jobid: int
    status: str
    reason: str | None = None
    outputs: tuple[str, ...] = ()


# job process → supervisor.
class JobCollected(Message):
    """A job's data collection ended as `status` (c, ce or cd, and why); the supervisor
    releases the pipeline, makes the outputs, then ends the job."""

    jobid: int
    status: str
    reason: str | None = None


class NextJob(Message):
    """Reply to JobCollected: `wait` for another job (standby), or end the process."""

    wait: bool


# supervisor → job process.
class RunJob(Message):
    """Hand the job in `jobdir` to a job process started on standby."""

    jobdir: str


class CancelRun(Message):
    """Stop job `jobid`'s tasks now; the job then reports cd. (A process that has moved on
    to another job, or back to standby, ignores it.)"""

    jobid: int


MESSAGES: tuple[type, ...] = (
    MakeOutputs, OutputsMade, JobFinished, JobCollected, NextJob, RunJob, CancelRun,
)
