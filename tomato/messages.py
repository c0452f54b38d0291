"""tomato's messages: what ketchup (or any client) and the service say to each other
(commands, replies, watch events). What the supervisor, its job hosts and the output
servers say to each other is in `processmessages.py`."""

from __future__ import annotations

from dataclasses import field
from typing import Any

from tomato.actors import Message


# ketchup → supervisor: commands.
class SubmitJob(Message):
    """Queue a payload; `cwd` is where ketchup ran (default output folder). `check`: only
    check it against the lab, queue nothing (the reply is PayloadChecked)."""

    payload: dict[str, Any]
    filename: str
    cwd: str
    jobname: str | None = None
    check: bool = False
    submitter: str | None = None
    """Who submitted it through the web page or API (a token's name): said by tomato's web
    process, which runs as the service's user; refused from anyone else."""
    after: tuple[int, ...] = ()
    after_any: bool = False
    hold: bool = False
    priority: int = 0
    pipeline: str | None = None
    """Pin it to this pipeline."""


class HoldJobs(Message):
    """Hold queued jobs (`held`), or release them; the reply: the jobs."""

    jobids: tuple[int, ...]
    held: bool


class SetPriority(Message):
    """Give queued jobs a priority; the reply: the jobs."""

    jobids: tuple[int, ...]
    priority: int


class RequeueJob(Message):
    """Queue a finished job again as it was (its payload, name, folder, `after`, priority,
    pin); the reply: the new job."""

    jobid: int
    after: tuple[int, ...] | None = None
    """The jobs it is to run after now (None: as before)."""


class PayloadChecked(Message):
    """A payload that a submit would take: its version, the pipelines that could run it."""

    filename: str
    version: str
    pipelines: tuple[str, ...]


class GetPipelines(Message):
    """List every pipeline."""


class GetJobs(Message):
    """Jobs by id, or the queue (`finished` too when asked: those that ended at or after
    `since`, a UTC time as the records write it, or all)."""

    jobids: tuple[int, ...] = ()
    finished: bool = False
    since: str | None = None


class SearchJobs(Message):
    """Jobs whose name contains `text`; `complete` includes finished ones."""

    text: str
    complete: bool = False


class CancelJobs(Message):
    jobids: tuple[int, ...]


class LoadSample(Message):
    pipeline: str
    sample: str


class EjectSample(Message):
    pipeline: str


class SetReady(Message):
    pipeline: str
    ready: bool


class TakeSnapshot(Message):
    """Write snapshot.<jobid>.{nc,zip} of a running (or finished) job into `cwd`."""

    jobid: int
    cwd: str


class SnapshotTaken(Message):
    files: tuple[str, ...]
    warning: str | None = None


class RestartDevice(Message):
    """Start a device's process again, with a fresh restart budget: a failed one, or a
    running one (its driver loaded anew); `force`: even under a running job (which waits
    for it, as after a crash)."""

    device: str
    force: bool = False


class ListComponents(Message):
    """Ask for every component: a channel of a device, with the pipelines it is part of."""


class ForComponent(Message):
    """A request (a drivers message: GetComponent, GetAttrs, SetAttr, GetLastData,
    Measure, RegisterComponent, ResetComponent) for the component `DEVICE:CHANNEL`.
    Setting, registering and resetting are refused on a component a running job uses
    unless `force`."""

    component: str
    request: Any
    force: bool = False


class Reload(Message):
    """Read the devices file and the drivers' settings again, and apply them."""


class Reloaded(Message):
    """What a reload did: devices added, restarted (changed), removed, failed to start; and
    settings read but applied only when tomato restarts."""

    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    failed: tuple[str, ...]
    not_applied: tuple[str, ...]


class GetServiceStatus(Message):
    """Ask for the service's pid, paths and devices."""


class StopService(Message):
    """Stop the service; refused while jobs run unless `force` (they are then cancelled)."""

    force: bool = False


# Replies.
class JobInfo(Message):
    jobid: int
    jobname: str | None
    status: str
    sample: str
    submitted: str
    executed: str | None
    completed: str | None
    pipeline: str | None
    owner: int | None
    """The submitter's uid."""
    reason: str | None
    jobpath: str | None
    outputs: list[str] | None = None
    owner_name: str | None = None
    """The submitter's user name, as it was at submission."""
    pid: int | None = None
    """The job process running it (while it runs here)."""
    priority: int = 0
    """Among the queued jobs a pipeline can run, higher first (then in submission order)."""
    held: bool = False
    """Queued but not to start until released (`ketchup release`)."""
    after: tuple[int, ...] = ()
    """Jobs it starts after: once each completed (`c`), or ended at all (`after_any`)."""
    after_any: bool = False
    pinned: str | None = None
    """The one pipeline it may run on."""


class PipelineInfo(Message):
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


class DeviceInfoRow(Message):
    name: str
    driver: str
    state: str
    pid: int | None
    restarts: int
    reason: str | None
    channels: dict[str, str]
    """channel → state of the task on it, as the device reports."""


class ComponentRow(Message):
    name: str
    """DEVICE:CHANNEL"""
    device: str
    channel: str
    driver: str
    state: str
    """The device's: running, failed, ..."""
    pipelines: tuple[str, ...]
    jobid: int | None
    """The running job that uses it."""


class JobHostInfo(Message):
    """A job host process: its name, pid and how many jobs it runs."""

    name: str
    pid: int
    jobs: int


class ServiceStatus(Message):
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
    standby: int = 0
    """Job hosts started with room for a job."""
    job_hosts: tuple[JobHostInfo, ...] = ()


class StepStarted(Message):
    """A job started step `step` on the component `role` (also an event for watchers)."""

    jobid: int
    step: int
    role: str
    technique: str
    max_duration: float
    started: float
    total: int
    """How many steps the job has."""


class JobData(Message):
    """New points of a step: [uts, value per column] (also an event for watchers); of a
    free-form step, its scalar values."""

    jobid: int
    step: int
    role: str
    columns: list[str]
    units: list[str]
    points: list[list[Any]]


class GetWatchState(Message):
    """What `ketchup watch` shows before the first event: pipelines, active jobs, progress."""

    jobid: int | None = None
    points: bool = True
    """False: without the recent points (the web's lab page: progress only)."""


class WatchState(Message):
    pipelines: list[PipelineInfo]
    jobs: list[JobInfo]
    methods: dict[int, list[dict[str, Any]]]
    """jobid → its steps: role, technique, max_duration."""
    steps: dict[int, dict[str, StepStarted]]
    """jobid → role → the step running on it."""
    latest: dict[int, dict[str, JobData]]
    """jobid → role → the recent points of its current step (up to 1000)."""
    idle: dict[str, ComponentData] = field(default_factory=dict)
    """component → its last idle measurement."""


# Events (subscribe).
class ComponentData(Message):
    """A point measured on an idle component (DEVICE:CHANNEL): its numbers, as JobData."""

    component: str
    columns: list[str]
    units: list[str]
    points: list[list[Any]]


class PipelineChanged(Message):
    pipeline: PipelineInfo


class JobStatusChanged(Message):
    jobid: int
    status: str
    pipeline: str | None
    reason: str | None


CLIENT_MESSAGES: tuple[type, ...] = (
    SubmitJob, HoldJobs, SetPriority, RequeueJob, PayloadChecked, GetPipelines, GetJobs,
    SearchJobs, CancelJobs, LoadSample, EjectSample, SetReady, TakeSnapshot, SnapshotTaken,
    RestartDevice, GetServiceStatus, StopService, JobInfo, PipelineInfo, DeviceInfoRow,
    JobHostInfo, ServiceStatus, StepStarted, JobData, GetWatchState, WatchState,
    PipelineChanged, JobStatusChanged, ListComponents, ForComponent, ComponentRow, Reload,
    Reloaded, ComponentData,
)


MESSAGES = CLIENT_MESSAGES
