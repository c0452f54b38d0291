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


# job process → supervisor.
class JobFinished(Message):
    """A job process ends its job with status c, ce or cd (committed before the reply)."""

    jobid: int
    status: str
    reason: str | None = None
    outputs: tuple[str, ...] = ()


class JobCollected(Message):
    """A job's devices are done (data collection ended as `status`); outputs follow."""

    jobid: int
    status: str


class NextJob(Message):
    """Reply to JobFinished: `wait` for another job (standby), or end the process."""

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
