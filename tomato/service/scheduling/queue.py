"""Matching jobs to pipelines (DESIGN §5), as pure functions over in-memory state."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from ...messages import JobInfo, JobSpec
from ..config.devicesfile import Component, PipelineSpec


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
    failed_device: str | None = None
    """The device whose failure `failed` tells."""

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

    def drop(self, jobid: int) -> None:
        """`jobid` no longer waits here (it ended, or another tomato runs it)."""
        self.pending.pop(jobid, None)

    def rematch(self) -> None:
        """The pipelines changed (reload): match every queued job again."""
        self._matches.clear()
        for job in list(self.pending.values()):
            names = self._matches.get(job.needs)
            if names is None:
                found = matching(job.needs, self._pipelines.values())
                names = self._matches[job.needs] = (found, frozenset(found))
            job.matches, job.match_set = names

    def explained(self, jobs: list[JobInfo]) -> list[JobInfo]:
        """`jobs`, each queued one with why it waits (its `reason`), in a phrase a person
        can act on."""
        if not any(j.jobid in self.pending and not j.reason for j in jobs):
            return jobs
        busy = busy_parts(self._pipelines.values())
        ahead = jobs_ahead(self.pending.values(), self._pipelines, busy)
        cache: dict[tuple[tuple[tuple[str, str], ...], str], str] = {}
        shown = []
        for j in jobs:
            job = self.pending.get(j.jobid)
            if job is not None and not j.reason:
                key = (job.needs, job.sample)
                if key not in cache or job.jobid in ahead:
                    cache[key] = why_waiting(job, self._pipelines, ahead.get(job.jobid, {}),
                                             busy)
                j = replace(j, reason=cache[key])
            shown.append(j)
        return shown

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
    free = free_pipelines(pipelines, busy)
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


def free_pipelines(pipelines: Mapping[str, Pipeline], busy: set[tuple[str, str]]
                   ) -> dict[str, Pipeline]:
    """The pipelines a job may start on now: ready, holding a sample, running nothing, not
    failed, sharing no device channel with a running job (`busy`)."""
    return {name: p for name, p in pipelines.items()
            if p.ready and p.sample is not None and p.jobid is None and p.failed is None
            and not p.parts & busy}


def jobs_ahead(pending: Iterable[Pending], pipelines: Mapping[str, Pipeline],
               busy: set[tuple[str, str]]) -> dict[int, dict[str, int]]:
    """For each queued job, the free pipelines with its sample that an earlier queued job
    will take first: jobid → pipeline → that job."""
    free = free_pipelines(pipelines, busy).values()
    first: dict[str, int] = {}
    ahead: dict[int, dict[str, int]] = {}
    for job in pending:
        for p in free:
            if p.sample == job.sample and p.name in job.match_set:
                if p.name in first:
                    ahead.setdefault(job.jobid, {})[p.name] = first[p.name]
                else:
                    first[p.name] = job.jobid
    return ahead


def why_waiting(job: Pending, pipelines: Mapping[str, Pipeline], ahead: Mapping[str, int],
                busy: set[tuple[str, str]]) -> str:
    """Why `job` has not started: the first obstacle of the pipelines that could run it,
    the most actionable first (a pipeline not ready, its sample not loaded)."""
    able = [pipelines[name] for name in job.matches if name in pipelines]
    if not able:
        return "no pipeline can run it (no pipeline has all its roles and techniques)"
    holding = [p for p in able if p.sample == job.sample]
    if not holding:
        empty = next((p.name for p in able if p.sample is None), None)
        hint = f" (`ketchup load {job.sample} {empty}`)" if empty else ""
        return f"sample {job.sample} is not loaded in a pipeline that can run it{hint}"
    reasons = []
    for p in holding:
        if p.failed is not None:
            reasons.append((2, p.failed))
        elif p.jobid is not None:
            reasons.append((3, f"pipeline {p.name} is running job {p.jobid}"))
        elif p.parts & busy:
            reasons.append((3, f"pipeline {p.name} shares a device with a running job"))
        elif not p.ready:
            reasons.append((1, f"pipeline {p.name} is not ready (`ketchup ready {p.name}`; "
                               "ready is cleared after each job)"))
        elif p.name in ahead:
            reasons.append((4, f"behind job {ahead[p.name]} on {p.name}"))
        else:
            reasons.append((5, f"pipeline {p.name} is about to start it"))
    return min(reasons)[1]


def components_of(spec: PipelineSpec) -> tuple[str, ...]:
    return tuple(_describe(c) for c in spec.components)


def _describe(c: Component) -> str:
    return f"{c.role}: {c.device}:{c.channel}"
