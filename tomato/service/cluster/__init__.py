"""tomato in a cluster (DESIGN §9): a `[cluster]` table in settings.toml joins this service
to the lab's NATS JetStream. Without one, nothing here runs (nor does nats-py load)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import anyio

from tomato.actors import ActorRef, Deferred, EventHub, EventsMissed
from tomato.drivers import Technique

from ...errors import ConflictError
from ...jobspec import JobSpec, Place
from ...jobstatus import FINISHED, PENDING, Status, moves
from ...messages import (
    CancelJobs,
    EjectSample,
    HoldJobs,
    JobInfo,
    JobStatusChanged,
    LoadSample,
    PipelineChanged,
    PipelineInfo,
    SetPriority,
    SetReady,
    SnapshotTaken,
    TakeSnapshot,
)
from ..config.settings import ClusterSettings
from ..scheduling.payload import job_spec
from ..scheduling.pipelines import Pipelines
from ..scheduling.queue import Queue
from ..state.store import Store
from . import events, results, rpc
from .entries import JobEntry
from .jobs import ClusterJobs
from .link import Link
from .local import PASS, Claimed, Copy, LinkBack
from .view import ClusterView

logger = logging.getLogger(__name__)

EVENTS_BUFFER = 10_000
"""Events the link's subscription holds while it writes (points are most of them)."""

__all__ = ["PASS", "Cluster", "Home", "join"]


@dataclass(frozen=True)
class Home:
    """What the cluster uses of this tomato: the supervisor's collaborators, and the moves
    only the supervisor makes (each called in its mailbox, as the cluster's are)."""

    store: Store
    pipelines: Pipelines
    queue: Queue
    events: EventHub
    ref: ActorRef
    jobs_dir: Path
    start_job: Callable[[int, str], None]
    """Start a claimed job on a pipeline."""
    schedule: Callable[[], None]
    """Match the queue to the free pipelines."""
    enqueue: Callable[[JobSpec], object]
    """Queue a job (a copy of another tomato's)."""
    forget: Callable[[int], None]
    """Drop what is known of a finished job's progress."""
    ended: Callable[[int, str], None]
    """A job ended (on another tomato): those queued here to run after it may start."""


class Cluster:
    """What the supervisor asks of the cluster, and what it hears from it (through its
    mailbox: Copy, Claimed, LinkBack)."""

    def __init__(self, link: Link, view: ClusterView, jobs: ClusterJobs, home: Home) -> None:
        self.link = link
        self.view = view
        self.jobs = jobs
        self._home = home

    def pipelines(self) -> list[PipelineInfo]:
        return self.view.infos()

    def roles(self) -> dict[str, dict[str, dict[str, Technique]]]:
        """What the other tomatos' pipelines can do, as HOST:PIPELINE."""
        return self.view.roles()

    def next_jobid(self) -> int:
        return self.jobs.next_jobid()

    def changed(self, jobid: int) -> None:
        """A job of this tomato's changed: the others are told."""
        self.jobs.changed(jobid)

    def writes(self, jobid: int) -> bool:
        """Whether this tomato decides about the job (its home until claimed, its host)."""
        return self.jobs.writes(jobid)

    def shown(self, jobs: list[JobInfo]) -> list[JobInfo]:
        """Jobs as this tomato shows them: one running (or claimed) on a host that is away
        says so in its reason; one that ran on another host says where its raw data is
        (`jobpath`: HOST:jobs/JOBID, its folder in that tomato's jobs folder)."""
        shown = []
        for job in jobs:
            if job.status in PENDING or (job.status in FINISHED and job.jobpath):
                shown.append(job)  # first: these need no look-up
                continue
            _, host = self._home.store.where(job.jobid)
            if host not in (None, self.link.host):
                if job.status not in FINISHED and (away := self.view.away(str(host))):
                    job = replace(job, reason="; ".join(filter(None, (job.reason, away))))
                if job.jobpath is None and job.executed is not None:
                    job = replace(job, jobpath=f"{host}:jobs/{job.jobid}")
            shown.append(job)
        return shown

    def claim(self, jobid: int, pipeline: str) -> None:
        """Start `jobid` on `pipeline` once claimed; meanwhile the pipeline is held for it."""
        self._home.pipelines.hold(pipeline, jobid)
        self.jobs.claim(jobid, pipeline)

    def handle(self, msg: Any) -> Any:
        """The supervisor's message if it is the cluster's (news of its link, or a command
        for another tomato): done, or Deferred; else PASS."""
        if isinstance(msg, (Copy, Claimed, LinkBack)):
            return self.apply(msg)
        if self.elsewhere(msg):
            return Deferred(lambda: self.forward(msg))
        return PASS

    def elsewhere(self, msg: Any) -> bool:
        """Whether `msg` is (also) for another tomato: a pipeline named HOST:PIPELINE, a
        job another tomato writes."""
        if isinstance(msg, (LoadSample, EjectSample, SetReady)):
            return ":" in msg.pipeline
        if isinstance(msg, (CancelJobs, HoldJobs, SetPriority)):
            return any(self._writer(jobid) != self.link.host for jobid in msg.jobids)
        if isinstance(msg, TakeSnapshot):
            return self._home.store.where(msg.jobid)[1] not in (None, self.link.host)
        return False

    def _writer(self, jobid: int) -> str | None:
        """The tomato that decides about a job: its host once claimed, else its home."""
        home, host = self._home.store.where(jobid)
        return host or home or self.link.host

    async def forward(self, msg: Any) -> Any:
        """Ask the tomato(s) `msg` is for; what is for jobs decided here is done here (a
        cancel, a hold, a priority, each by the tomato that decides about the job)."""
        if isinstance(msg, TakeSnapshot):  # made there, carried here
            _, host = self._home.store.where(msg.jobid)
            taken = await rpc.ask(self.link, str(host), msg)
            files = await results.fetch(self.link, list(taken.files), Place(msg.cwd, ""))
            return SnapshotTaken(tuple(files), taken.warning)
        if not isinstance(msg, (CancelJobs, HoldJobs, SetPriority)):
            host, _, name = msg.pipeline.partition(":")
            return await rpc.ask(self.link, host, replace(msg, pipeline=name))
        by_host: dict[str | None, list[int]] = {}
        for jobid in msg.jobids:
            by_host.setdefault(self._writer(jobid), []).append(jobid)
        replies: dict[int, Any] = {}
        for host, jobids in by_host.items():
            request = replace(msg, jobids=tuple(jobids))
            try:
                done = await (self._home.ref.ask(request) if host == self.link.host
                              else rpc.ask(self.link, str(host), request))
            except ConflictError:
                if not isinstance(msg, CancelJobs) or not self.view.away(str(host)):
                    raise
                done = await self._cancel_unclaimed(jobids)  # its home is away
            replies.update((j.jobid, j) for j in done)
        return [replies[j] for j in msg.jobids]

    async def _cancel_unclaimed(self, jobids: list[int]) -> list[JobInfo]:
        """Cancel queued jobs whose home is away, in their entries: each still unclaimed,
        or none is cancelled (ConflictError)."""
        if any(self._home.store.where(j)[1] is not None for j in jobids):
            raise ConflictError("the tomato running these jobs is away: they cannot be "
                                "cancelled until it is back")
        cancelled = []
        for jobid in jobids:
            if not await self.jobs.cancel_unclaimed(jobid):
                raise ConflictError(f"job {jobid} was claimed meanwhile: cancel it again")
            job = self._home.store.job(jobid)
            assert job is not None
            cancelled.append(replace(job, status=Status.CANCELLED,
                                     reason="cancelled while queued"))
        return cancelled

    def apply(self, msg: Copy | Claimed | LinkBack) -> None:
        home = self._home
        match msg:
            case Copy(record, payload, cwd):
                self._copy(record, payload, cwd)
            case Claimed(jobid, pipeline, won, why, record):
                home.pipelines.unhold(pipeline, jobid)
                if won:
                    home.store.set_job(jobid, host=self.link.host)
                    home.start_job(jobid, pipeline)
                    return
                logger.info("job %d not claimed for %s: %s", jobid, pipeline, why)
                if record is not None:  # another tomato has it
                    self._copy(record, None, "")
                    home.schedule()
                elif (job := home.store.job(jobid)) is not None and job.status in PENDING:
                    home.enqueue(home.store.spec(jobid))  # again once the link is back
            case LinkBack():
                home.schedule()

    def _pin(self, pinned: str | None) -> str | None:
        """A pin as this tomato's store keeps it: a pipeline of its own by its name, one of
        another tomato's as HOST:PIPELINE (no pipeline here matches it)."""
        mine = f"{self.link.host}:"
        return pinned.removeprefix(mine) if pinned else pinned

    def _copy(self, record: JobEntry, payload: dict[str, Any] | None, cwd: str) -> None:
        home = self._home
        jobid, status = record.jobid, record.status
        if record.host == self.link.host:  # claimed here: this tomato writes it
            return
        local = home.store.job(jobid)
        if local is None:
            if payload is None:
                return
            # Run here, its outputs go beside its data, to be carried home.
            spec = job_spec(payload, jobid, record.jobname,
                            str(home.jobs_dir / str(jobid) / "outputs"))
            home.store.copy_job({**asdict(record), "pinned": self._pin(record.pinned)}, payload,
                                cwd, spec)
            if status in PENDING and record.host is None:
                home.enqueue(spec)
                home.schedule()
            home.events.publish(JobStatusChanged(jobid, status, record.pipeline,
                                                 record.reason))
            if status in FINISHED:  # first seen ended: those here to run after it may start
                home.ended(jobid, status)
            return
        fields: dict[str, Any] = {k: getattr(record, k) for k in (
            "executed", "completed", "pipeline", "reason", "home", "host", "priority")}
        fields["held"] = int(record.held)
        queued = home.queue.pending.get(jobid)
        if queued is not None and (queued.held, queued.priority) != (record.held,
                                                                      record.priority):
            home.queue.hold(jobid, record.held)  # held, released or given a priority there
            home.queue.set_priority(jobid, record.priority)
            home.schedule()
        if record.host not in (None, self.link.host) or status in FINISHED:
            home.queue.drop(jobid)
        if status in FINISHED:
            home.forget(jobid)
        if moves(local.status, status):
            fields["status"] = status
        if record.outputs is not None:  # its results, taken home
            fields["outputs"] = json.dumps(list(record.outputs))
        home.store.set_job(jobid, **fields)
        if "status" in fields:
            home.events.publish(JobStatusChanged(jobid, status, fields["pipeline"],
                                                 fields["reason"]))
            if status in FINISHED:  # the jobs here to run after it may start
                home.ended(jobid, status)


async def answer(link: Link, home: Home, request: Any) -> Any:
    """A command from another tomato, answered by this one's supervisor; a snapshot is
    taken into the job's folder and put into the cluster's store for the asker."""
    if not isinstance(request, TakeSnapshot):
        return await home.ref.ask(request)
    here = home.jobs_dir / str(request.jobid) / "snapshots"
    taken = await home.ref.ask(TakeSnapshot(request.jobid, str(here)))
    names = await results.send(link, f"snapshot-{request.jobid}-{time.time_ns()}", taken.files)
    return SnapshotTaken(tuple(names), taken.warning)


async def join(settings: ClusterSettings, home: Home, *,
               task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
    """Be part of the cluster until cancelled: connect (retrying while the service runs),
    publish this tomato's pipelines and jobs, watch the others'. Started with the Cluster
    the supervisor uses."""
    link = Link(settings)
    view = ClusterView(link, home.pipelines)
    jobs = ClusterJobs(link, home.store, home.ref.tell)
    task_status.started(Cluster(link, view, jobs, home))
    sub = home.events.subscribe(buffer=EVENTS_BUFFER)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(link.connect)
            tg.start_soon(view.run)
            tg.start_soon(link.while_up, "answering the cluster", partial(
                rpc.serve, link, partial(answer, link, home)))
            tg.start_soon(link.while_up, "relaying events", partial(
                events.relay, link, home.ref.tell))
            await jobs.run(tg)
            async for event in sub:
                if isinstance(event, PipelineChanged):
                    view.changed()
                elif isinstance(event, JobStatusChanged):
                    jobs.changed(event.jobid)
                elif isinstance(event, events.RELAYED) and jobs.runs_here(event.jobid):
                    await events.publish(link, event)
                elif isinstance(event, EventsMissed):  # which jobs changed is not known
                    view.changed()
                    jobs.resync()
    finally:
        sub.close()
        await view.say_stopped()
        await link.close()
