"""The cluster's entries, typed: a job's (`tomato_jobs`: `job.<id>`, `payload.<id>`) and a
host's heartbeat (`tomato_hosts`). Read from the wire once, each field checked against its
declared type; what does not fit is not an entry (ValueError, logged by the reader, left
alone). Written as maps of their fields, as before they were typed."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from tomato.actors import typed

from ...jobstatus import Status
from .link import pack, unpack


@dataclass(frozen=True)
class JobEntry:
    """A job as its writer (its home until claimed, then its host) publishes it."""

    jobid: int
    status: str
    home: str | None = None
    """The tomato it was submitted on."""
    host: str | None = None
    """The tomato that claimed it (None: not claimed yet)."""
    jobname: str | None = None
    sample: str | None = None
    submitted: str | None = None
    executed: str | None = None
    completed: str | None = None
    pipeline: str | None = None
    """HOST:PIPELINE once claimed."""
    reason: str | None = None
    owner: int | None = None
    owner_name: str | None = None
    priority: int = 0
    held: bool = False
    after: tuple[int, ...] = ()
    after_any: bool = False
    pinned: str | None = None
    """Its habits (`ketchup submit --priority, --hold, --after, --pipeline`): every tomato
    queues it so, and claims it only as they allow."""
    results: tuple[str, ...] = ()
    """Its results in the cluster's object store (run for another tomato), for its home."""
    outputs: tuple[str, ...] | None = None
    """Where its home wrote those results (in this tomato only, never published)."""

    def __post_init__(self) -> None:
        if self.status not in set(Status):
            raise TypeError(f"field 'status' must be a job status, not {self.status!r}")


@dataclass(frozen=True)
class PayloadEntry:
    """A job's payload and the folder it was submitted from, written once with its entry."""

    payload: dict[str, Any]
    cwd: str


@dataclass(frozen=True)
class HostEntry:
    """A tomato's heartbeat, or its last word (`stopped`)."""

    host: str
    version: str | None = None
    since: str | None = None
    stopped: bool = False


E = TypeVar("E", "JobEntry", "PayloadEntry", "HostEntry")


def read(cls: type[E], data: bytes) -> E:
    """The entry of type `cls` in `data`; ValueError naming what does not fit."""
    try:
        return typed(cls, unpack(data))
    except TypeError as exc:
        raise ValueError(str(exc)) from None


def written(entry: JobEntry | PayloadEntry | HostEntry) -> bytes:
    fields = asdict(entry)
    if isinstance(entry, JobEntry):
        del fields["outputs"]  # this tomato's own
    return pack(fields)
