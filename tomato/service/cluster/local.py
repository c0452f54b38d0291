"""Messages the cluster's tasks send the supervisor's mailbox (never on the wire), and the
cluster of a tomato in none."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tomato.drivers import Technique

from ...messages import JobInfo, PipelineInfo
from .entries import JobEntry

PASS = object()
"""What Cluster.handle returns for a message that is not the cluster's."""


@dataclass(frozen=True)
class Copy:
    """Local message: the entry of a job this tomato does not write, to copy into its store
    (with its payload and submit folder if the store has no copy yet)."""

    record: JobEntry
    payload: dict[str, Any] | None = None
    cwd: str = ""


@dataclass(frozen=True)
class Claimed:
    """Local message: how the claim of `jobid` for `pipeline` went."""

    jobid: int
    pipeline: str
    won: bool
    why: str = ""
    record: JobEntry | None = None
    """Lost to another tomato: its entry."""


@dataclass(frozen=True)
class LinkBack:
    """Local message: the link is up again: what waited for a claim may be planned."""


class Alone:
    """The cluster of a tomato that is in none: nothing is elsewhere, what it plans it runs."""

    def __init__(self, start_job: Callable[[int, str], None]) -> None:
        self._start_job = start_job

    def handle(self, msg: Any) -> Any:
        return PASS

    def roles(self) -> dict[str, dict[str, dict[str, Technique]]]:
        return {}

    def pipelines(self) -> list[PipelineInfo]:
        return []

    def next_jobid(self) -> int | None:
        return None  # the store's next

    def changed(self, jobid: int) -> None:
        pass

    def claim(self, jobid: int, pipeline: str) -> None:
        self._start_job(jobid, pipeline)

    def writes(self, jobid: int) -> bool:
        return True

    def shown(self, jobs: list[JobInfo]) -> list[JobInfo]:
        return jobs
