"""Matching jobs to pipelines (DESIGN §5), as pure functions over in-memory state."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..messages import JobSpec
from .devicesfile import Component, PipelineSpec


@dataclass
class Pipeline:
    """A pipeline's spec, what its roles can do, and its mutable state."""

    spec: PipelineSpec
    capabilities: dict[str, frozenset[str]]
    """role → techniques its device offers."""
    sample: str | None = None
    ready: bool = False
    jobid: int | None = None
    failed: str | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def parts(self) -> frozenset[tuple[str, str]]:
        return frozenset((c.device, c.channel) for c in self.spec.components)

    def can_run(self, needs: Iterable[tuple[str, str]]) -> bool:
        return all(tech in self.capabilities.get(role, ()) for role, tech in needs)


@dataclass
class Pending:
    """A queued job as the scheduler sees it."""

    jobid: int
    sample: str
    needs: tuple[tuple[str, str], ...]
    """(role, technique) of every step."""
    matches: tuple[str, ...] = field(default=())
    """Pipelines able to run it, in devices-file order."""
    match_set: frozenset[str] = field(default=frozenset())
    """The same, for look-ups (shared between jobs with the same needs)."""


class Queue:
    """The queued jobs in submission order, each with the pipelines that could run it."""

    def __init__(self, pipelines: Mapping[str, Pipeline]) -> None:
        self._pipelines = pipelines
        self.pending: dict[int, Pending] = {}
        self._matches: dict[tuple[tuple[str, str], ...], tuple[tuple[str, ...],
                                                              frozenset[str]]] = {}
        self.last_pass = 0.0
        """How long the last `plan` took (s)."""

    def add(self, spec: JobSpec) -> Pending:
        needs = tuple((s.role, s.task.technique) for s in spec.steps)
        if needs not in self._matches:  # capabilities are fixed: once per kind of job
            names = matching(needs, self._pipelines.values())
            self._matches[needs] = (names, frozenset(names))
        job = self.pending[spec.jobid] = Pending(spec.jobid, spec.sample, needs,
                                                 *self._matches[needs])
        return job

    def rematch(self) -> None:
        """The pipelines changed (reload): match every queued job again."""
        self._matches.clear()
        for job in list(self.pending.values()):
            names = self._matches.get(job.needs)
            if names is None:
                found = matching(job.needs, self._pipelines.values())
                names = self._matches[job.needs] = (found, frozenset(found))
            job.matches, job.match_set = names

    def plan(self) -> list[tuple[int, str]]:
        """The jobs that start now and where (taken off the queue)."""
        start = time.perf_counter()
        starts = plan(self.pending.values(), self._pipelines)
        for jobid, _ in starts:
            del self.pending[jobid]
        self.last_pass = time.perf_counter() - start
        return starts


def matching(needs: tuple[tuple[str, str], ...], pipelines: Iterable[Pipeline]) -> tuple[str, ...]:
    return tuple(p.name for p in pipelines if p.can_run(needs))


def busy_parts(pipelines: Iterable[Pipeline]) -> set[tuple[str, str]]:
    """Device channels in use by a running job."""
    return {part for p in pipelines if p.jobid is not None for part in p.parts}


def plan(pending: Iterable[Pending], pipelines: Mapping[str, Pipeline]) -> list[tuple[int, str]]:
    """Which queued jobs start now, and where.

    Jobs are taken in submission order; one that cannot start never blocks the next. A job
    starts on the first of its matching pipelines that is ready, holds its sample, is not
    failed and shares no device channel with a running job.
    """
    busy = busy_parts(pipelines.values())
    free = {name: p for name, p in pipelines.items()
            if p.ready and p.sample is not None and p.jobid is None and p.failed is None
            and not p.parts & busy}
    starts: list[tuple[int, str]] = []
    if not free:
        return starts
    samples = {p.sample for p in free.values()}
    for job in pending:
        if job.sample not in samples:
            continue
        # Free pipelines are few: look through them (in devices-file order), not the matches.
        for name, p in free.items():
            if name in job.match_set and p.sample == job.sample and not p.parts & busy:
                starts.append((job.jobid, name))
                busy |= p.parts
                del free[name]
                samples = {q.sample for q in free.values()}
                break
        if not free:
            break
    return starts


def components_of(spec: PipelineSpec) -> tuple[str, ...]:
    return tuple(_describe(c) for c in spec.components)


def _describe(c: Component) -> str:
    return f"{c.role}: {c.device}:{c.channel}"
