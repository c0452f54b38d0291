"""Messages between ketchup, the supervisor and job processes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


# ketchup → supervisor: commands.
@dataclass(frozen=True, slots=True)
class SubmitJob:
    """Queue a payload; `cwd` is where ketchup ran (default output folder)."""

    payload: dict[str, Any]
    filename: str
    cwd: str
    jobname: str | None = None


@dataclass(frozen=True, slots=True)
class GetPipelines:
    """List every pipeline."""


@dataclass(frozen=True, slots=True)
class GetJobs:
    """Jobs by id, or the queue (`finished` too when asked)."""

    jobids: tuple[int, ...] = ()
    finished: bool = False


@dataclass(frozen=True, slots=True)
class SearchJobs:
    """Jobs whose name contains `text`; `complete` includes finished ones."""

    text: str
    complete: bool = False


@dataclass(frozen=True, slots=True)
class CancelJobs:
    jobids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class LoadSample:
    pipeline: str
    sample: str


@dataclass(frozen=True, slots=True)
class EjectSample:
    pipeline: str


@dataclass(frozen=True, slots=True)
class SetReady:
    pipeline: str
    ready: bool


@dataclass(frozen=True, slots=True)
class TakeSnapshot:
    """Write snapshot.<jobid>.{nc,zip} of a running (or finished) job into `cwd`."""

    jobid: int
    cwd: str


@dataclass(frozen=True, slots=True)
class SnapshotTaken:
    files: tuple[str, ...]
    warning: str | None = None


@dataclass(frozen=True, slots=True)
class MakeOutputs:
    """Ask the output server for `<outdir>/<prefix>.{nc,zip}` from a job folder."""

    jobdir: str
    outdir: str
    prefix: str
    status: str | None = None


@dataclass(frozen=True, slots=True)
class OutputsMade:
    files: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GetServiceStatus:
    """Ask for the service's pid, paths and devices."""


@dataclass(frozen=True, slots=True)
class StopService:
    """Stop the service; refused while jobs run unless `force` (they are then cancelled)."""

    force: bool = False


# job process → supervisor.
@dataclass(frozen=True, slots=True)
class JobFinished:
    """A job process ends its job with status c, ce or cd (committed before the reply)."""

    jobid: int
    status: str
    reason: str | None = None
    outputs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class JobCollected:
    """A job's devices are done (data collection ended as `status`); outputs follow."""

    jobid: int
    status: str


@dataclass(frozen=True, slots=True)
class NextJob:
    """Reply to JobFinished: `wait` for another job (standby), or end the process."""

    wait: bool


# supervisor → job process.
@dataclass(frozen=True, slots=True)
class RunJob:
    """Hand the job in `jobdir` to a job process started on standby."""

    jobdir: str


@dataclass(frozen=True, slots=True)
class CancelRun:
    """Stop job `jobid`'s tasks now; the job then reports cd. (A process that has moved on
    to another job, or back to standby, ignores it.)"""

    jobid: int


# Replies.
@dataclass(frozen=True, slots=True)
class JobInfo:
    jobid: int
    jobname: str | None
    status: str
    sample: str
    submitted: str
    executed: str | None
    completed: str | None
    pipeline: str | None
    owner: int | None
    reason: str | None
    jobpath: str | None
    outputs: list[str] | None = None


@dataclass(frozen=True, slots=True)
class PipelineInfo:
    name: str
    sample: str | None
    ready: bool
    jobid: int | None
    roles: tuple[str, ...]
    components: tuple[str, ...]
    """"role: device:channel" for each component."""
    capabilities: tuple[str, ...]
    failed: str | None = None
    """Why a device of this pipeline is failed, if one is."""


@dataclass(frozen=True, slots=True)
class DeviceInfoRow:
    name: str
    driver: str
    state: str
    pid: int | None
    restarts: int
    reason: str | None
    channels: dict[str, str]
    """channel → state of the task on it, as the device reports."""


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    pid: int
    socket: str
    config_dir: str
    state_db: str
    jobs_dir: str
    devices_file: str
    devices: tuple[DeviceInfoRow, ...]
    running_jobs: tuple[int, ...]
    queued: int = 0
    schedule_pass_ms: float = 0.0
    """How long the last scheduling pass took."""


@dataclass(frozen=True, slots=True)
class StepStarted:
    """A job started step `step` on the component `role` (also an event for watchers)."""

    jobid: int
    step: int
    role: str
    technique: str
    max_duration: float
    started: float
    total: int
    """How many steps the job has."""


@dataclass(frozen=True, slots=True)
class JobData:
    """New points of a step: [uts, value per column] (also an event for watchers)."""

    jobid: int
    step: int
    role: str
    columns: list[str]
    units: list[str]
    points: list[list[float]]


@dataclass(frozen=True, slots=True)
class GetWatchState:
    """What `ketchup watch` shows before the first event: pipelines, active jobs, progress."""

    jobid: int | None = None


@dataclass(frozen=True, slots=True)
class WatchState:
    pipelines: list[PipelineInfo]
    jobs: list[JobInfo]
    methods: dict[int, list[dict[str, Any]]]
    """jobid → its steps: role, technique, max_duration."""
    steps: dict[int, dict[str, StepStarted]]
    """jobid → role → the step running on it."""
    latest: dict[int, dict[str, JobData]]
    """jobid → role → the recent points of its current step (up to 1000)."""


# Events (subscribe).
@dataclass(frozen=True, slots=True)
class PipelineChanged:
    pipeline: PipelineInfo



@dataclass(frozen=True, slots=True)
class JobStatusChanged:
    jobid: int
    status: str
    pipeline: str | None
    reason: str | None


MESSAGES: tuple[type, ...] = (
    SubmitJob, GetPipelines, GetJobs, SearchJobs, CancelJobs, LoadSample, EjectSample,
    SetReady, TakeSnapshot, SnapshotTaken, GetServiceStatus, StopService, JobFinished,
    JobCollected, MakeOutputs, OutputsMade,
    RunJob, NextJob, CancelRun, JobInfo, PipelineInfo, DeviceInfoRow, ServiceStatus,
    JobStatusChanged,
    StepStarted, JobData, GetWatchState, WatchState, PipelineChanged,
)
