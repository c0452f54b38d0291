"""Matching jobs to pipelines (DESIGN §5), as pure functions over in-memory state."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace

from ...jobspec import Habits, JobSpec
from ...jobstatus import Status
from ...messages import JobInfo
from ..config.devicesfile import Component, PipelineSpec

NO_HABITS = Habits()


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
    priority: int = 0
    held: bool = False
    waits_for: set[int] = field(default_factory=set)
    """Jobs it runs after that have not ended yet."""
    after_any: bool = False
    """Whether it runs after those however they end (else: once each completed, `c`)."""
    pinned: str | None = None

    @property
    def eligible(self) -> bool:
        return not self.held and not self.waits_for


class Queue:
    """The queued jobs, highest priority first, then in submission order, each with the
    pipelines that could run it."""

    def __init__(self, pipelines: Mapping[str, Pipeline]) -> None:
        self._pipelines = pipelines
        self.pending: dict[int, Pending] = {}
        self._by_priority: dict[int, dict[int, Pending]] = {}
        """priority → its jobs in jobid (submission) order."""
        self._dependents: dict[int, set[int]] = {}
        """A job → the queued jobs that run after it."""
        self._matches: dict[tuple[tuple[str, str], ...], tuple[tuple[str, ...],
                                                              frozenset[str]]] = {}
        self.last_pass = 0.0
        """How long the last `plan` took (s)."""

    def add(self, spec: JobSpec, habits: Habits = NO_HABITS, unmet: Iterable[int] = ()
            ) -> Pending:
        """Queue `spec`, to start once the jobs `unmet` (of those it runs after) end."""
        needs = tuple((s.role, s.task.technique) for s in spec.steps)
        job = Pending(spec.jobid, spec.sample, needs, priority=habits.priority,
                      held=habits.held, waits_for=set(unmet), after_any=habits.after_any,
                      pinned=habits.pinned)
        job.matches, job.match_set = self._match(job)
        self.drop(spec.jobid)
        self.pending[spec.jobid] = job
        self._place(job)
        for other in job.waits_for:
            self._dependents.setdefault(other, set()).add(job.jobid)
        return job

    def _match(self, job: Pending) -> tuple[tuple[str, ...], frozenset[str]]:
        if job.needs not in self._matches:  # capabilities are fixed: once per kind of job
            names = matching(job.needs, self._pipelines.values())
            self._matches[job.needs] = (names, frozenset(names))
        names, found = self._matches[job.needs]
        if job.pinned is None:
            return names, found
        return ((job.pinned,), frozenset((job.pinned,))) if job.pinned in found else \
            ((), frozenset())

    def _place(self, job: Pending) -> None:
        bucket = self._by_priority.setdefault(job.priority, {})
        late = bucket and next(reversed(bucket)) > job.jobid
        bucket[job.jobid] = job
        if late:  # kept in jobid order: first come, first served within a priority
            self._by_priority[job.priority] = dict(sorted(bucket.items()))

    def ordered(self) -> Iterator[Pending]:
        """The queued jobs in the order they are served."""
        for priority in sorted(self._by_priority, reverse=True):
            yield from self._by_priority[priority].values()

    def drop(self, jobid: int) -> None:
        """`jobid` no longer waits here (it ended, or another tomato runs it)."""
        job = self.pending.pop(jobid, None)
        if job is not None:
            bucket = self._by_priority[job.priority]
            del bucket[jobid]
            if not bucket:
                del self._by_priority[job.priority]

    def hold(self, jobid: int, held: bool) -> None:
        self.pending[jobid].held = held

    def set_priority(self, jobid: int, priority: int) -> None:
        job = self.pending[jobid]
        self.drop(jobid)
        job.priority = priority
        self.pending[jobid] = job
        self._place(job)

    def ended(self, jobid: int, status: str) -> tuple[list[tuple[int, str]], bool]:
        """Job `jobid` ended `status`: the queued jobs that ran after it may start (once the
        rest of what they wait for ends); those that needed it completed are returned, with
        why, to be cancelled; and whether one may start now."""
        failed, freed = [], False
        for other in sorted(self._dependents.pop(jobid, ())):
            job = self.pending.get(other)
            if job is None or jobid not in job.waits_for:
                continue
            if status == Status.COMPLETED or job.after_any:
                job.waits_for.discard(jobid)
                freed = freed or job.eligible
            else:
                failed.append((other, f"job {jobid} it was to run after ended {status}"))
        return failed, freed

    def rematch(self) -> None:
        """The pipelines changed (reload): match every queued job again."""
        self._matches.clear()
        for job in self.pending.values():
            job.matches, job.match_set = self._match(job)

    def explained(self, jobs: list[JobInfo]) -> list[JobInfo]:
        """`jobs`, each queued one with why it waits (its `reason`), in a phrase a person
        can act on."""
        if not any(j.jobid in self.pending and not j.reason for j in jobs):
            return jobs
        busy = busy_parts(self._pipelines.values())
        ahead = jobs_ahead(self.ordered(), self._pipelines, busy)
        cache: dict[tuple[tuple[tuple[str, str], ...], str], str] = {}
        shown = []
        for j in jobs:
            job = self.pending.get(j.jobid)
            if job is not None and not j.reason:
                key = (job.needs, job.sample)
                if not job.eligible or job.pinned is not None:
                    j = replace(j, reason=why_held(job, self._pipelines, ahead.get(
                        job.jobid, {}), busy))
                elif key not in cache or job.jobid in ahead:
                    cache[key] = why_waiting(job, self._pipelines, ahead.get(job.jobid, {}),
                                             busy)
                if not j.reason:
                    j = replace(j, reason=cache[key])
            shown.append(j)
        return shown

    def plan(self) -> list[tuple[int, str]]:
        """The jobs that start now and where (taken off the queue)."""
        start = time.perf_counter()
        starts = plan(self.ordered(), self._pipelines)
        for jobid, _ in starts:
            self.drop(jobid)
        self.last_pass = time.perf_counter() - start
        return starts


def matching(needs: tuple[tuple[str, str], ...], pipelines: Iterable[Pipeline]) -> tuple[str, ...]:
    return tuple(p.name for p in pipelines if p.can_run(needs))


def busy_parts(pipelines: Iterable[Pipeline]) -> set[tuple[str, str]]:
    """Device channels in use by a running job."""
    return {part for p in pipelines if p.jobid is not None for part in p.parts}


def plan(pending: Iterable[Pending], pipelines: Mapping[str, Pipeline]) -> list[tuple[int, str]]:
    """Which queued jobs start now, and where.

    Jobs are taken in the order given (highest priority first, then submission order);
    one that cannot start never blocks the next; a held one, or one waiting for others to
    end, is passed over. A job starts on the first of its matching pipelines that is ready,
    holds its sample, is not failed and shares no device channel with a running job.
    """
    busy = busy_parts(pipelines.values())
    free = free_pipelines(pipelines, busy)
    starts: list[tuple[int, str]] = []
    if not free:
        return starts
    samples = {p.sample for p in free.values()}
    for job in pending:
        if job.sample not in samples or not job.eligible:
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
        if not job.eligible:
            continue
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


def why_held(job: Pending, pipelines: Mapping[str, Pipeline], ahead: Mapping[str, int],
             busy: set[tuple[str, str]]) -> str:
    """Why `job`, held, waiting for others or pinned, has not started."""
    if job.held:
        return f"held: it starts once released (`ketchup release {job.jobid}`)"
    if job.waits_for:
        others = ", ".join(map(str, sorted(job.waits_for)))
        return (f"waits for job {others} to end" if job.after_any else
                f"waits for job {others} to complete")
    if not job.matches:
        return f"pinned to pipeline {job.pinned}, which cannot run it"
    return why_waiting(job, pipelines, ahead, busy)


def components_of(spec: PipelineSpec) -> tuple[str, ...]:
    return tuple(_describe(c) for c in spec.components)


def _describe(c: Component) -> str:
    return f"{c.role}: {c.device}:{c.channel}"
