"""The job spec: built once by the supervisor when a job starts, stored with the job, the
only description of it that a job process or an output process receives; and its habits,
how it is scheduled besides what it needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tomato.actors import Message

if TYPE_CHECKING:  # the drivers' messages load only where a job spec is decoded (not ketchup)
    from tomato.drivers import Column, Task


class ComponentSpec(Message):
    """One component of the job's pipeline: a channel of a device, and the device's socket."""

    role: str
    device: str
    channel: str
    socket: str
    driver: str = ""
    address: str | None = None
    capabilities: tuple[str, ...] = ()


class StepSpec(Message):
    """One step of the method: the task its component's driver runs, the columns it records."""

    index: int
    role: str
    task: Task
    columns: tuple[Column, ...] = ()
    """Empty until the job has a pipeline (they are its device's)."""
    free_form: bool = False
    """Its points are records of any shape (see drivers.Technique), not rows of columns."""
    name: str | None = None
    """The payload's `task_name`: what other steps' triggers refer to."""
    start_with: str | None = None
    """Wait until the step named so starts, then start."""
    stop_with: str | None = None
    """Stop when the step named so starts."""

    @property
    def datafile(self) -> str:
        """The name of the step's raw data file in the job folder: CSV for rows of columns,
        JSON Lines for records."""
        suffix = "jsonl" if self.free_form else "csv"
        return f"{self.index:02d}-{self.role}-{self.task.technique}.{suffix}"


class Place(Message):
    """Where outputs go: `<folder>/<prefix>.{nc,zip}`, written as `owner` could (a uid;
    None: as tomato's user)."""

    folder: str
    prefix: str
    owner: int | None = None


class Snapshots(Message):
    """Periodic snapshots of a running job (the payload's `snapshot`)."""

    place: Place
    interval: float


class JobSpec(Message):
    """A job as its processes need it; `pipeline` and `components` once it has started."""

    jobid: int
    jobname: str | None
    sample: str
    steps: tuple[StepSpec, ...]
    output: Place
    snapshots: Snapshots | None = None
    unlock_when_done: bool = False
    verbosity: str = "WARNING"
    pipeline: str | None = None
    components: tuple[ComponentSpec, ...] = ()

    def component(self, role: str) -> ComponentSpec:
        return next(c for c in self.components if c.role == role)


@dataclass(frozen=True)
class Habits:
    """How a queued job is to be scheduled besides its needs (`ketchup submit`'s options)."""

    priority: int = 0
    held: bool = False
    after: tuple[int, ...] = ()
    after_any: bool = False
    pinned: str | None = None
