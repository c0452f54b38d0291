"""The supervisor actor: the queue, the jobs' lifecycle, and the single writer of state."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskGroup

from tomato.actors import Actor, ActorDeadError, ActorError, ChildEvent, Context, Deferred

from ..errors import ConflictError
from ..jobfolder import JOB_RECORD
from ..jobspec import JobSpec
from ..jobstatus import FINISHED, PENDING, Status, can_move
from ..messages import (
    CancelJobs,
    EjectSample,
    ForComponent,
    HoldJobs,
    JobData,
    JobInfo,
    JobStatusChanged,
    LoadSample,
    PayloadChecked,
    Reload,
    Reloaded,
    RequeueJob,
    RestartDevice,
    SetPriority,
    SetReady,
    StepStarted,
    StopService,
    SubmitJob,
    TakeSnapshot,
)
from ..processmessages import JobCollected, JobFinished, Reports
from .children import ChildNews, child_news
from .cluster.local import PASS, Alone
from .config.settings import Settings
from .guard import CancelAll, refuse_forged
from .jobs.jobhosts import JobHosts
from .jobs.outputs import Outputs
from .jobs.progress import Progress
from .lab.components import Components
from .lab.devices import Devices, stop_and_save
from .lab.reload import reload_lab
from .queries import QUERIES, Queries
from .scheduling.habits import as_submitted, change, waiting
from .scheduling.pipelines import Pipelines
from .scheduling.queue import Pending, Queue
from .scheduling.submit import accept
from .state.statecheck import note_end
from .state.store import Store, now
from .status import request_stop
from .takeover import recover_jobs

if TYPE_CHECKING:
    from .cluster import Cluster

logger = logging.getLogger(__name__)


class Supervisor(Actor):
    """Owns the jobs: queues them, starts them where they match, hears how they end."""

    def __init__(self, settings: Settings, devices: Devices, pipelines: Pipelines, store: Store,
                 jobhosts: JobHosts, outputs: Outputs, tg: TaskGroup,
                 survivors: dict[str, int]) -> None:
        self.settings = settings
        self.devices = devices
        self.pipelines = pipelines
        self.store = store
        self.jobhosts = jobhosts
        self.outputs = outputs
        self.tg = tg
        self.stop_requested = anyio.Event()
        self.queue = Queue(pipelines.all)
        self.running: dict[int, JobSpec] = {}
        """The specs of jobs started whose data is not yet collected."""
        self.failures: dict[int, str] = {}
        """Running jobs stopped because a device of theirs failed, and why."""
        self.progress = Progress()
        self.components = Components(devices, pipelines, settings.runtime_dir)
        self._survivors = survivors  # processes an earlier service left: socket name → pid
        self.cluster: Cluster | Alone = Alone(self.start_job)  # the other tomatos (serve.py)
        self.queries = Queries(store, pipelines, self.queue, self.progress, self.components,
                               devices, jobhosts)
        self._job = self.queries.job
        self.running_jobs = self.queries.running

    async def on_start(self) -> None:
        """Rebuild the queue, take over what an earlier service left running."""
        found = await recover_jobs(self.store, self.jobhosts, self.pipelines,
                                   self.settings.jobs_dir, self._survivors)
        for spec in found.followed:
            self.follow(spec)
        for spec, status, why in found.lost:
            self.lost(spec, status, why)
        for spec in found.queued:
            self.enqueue(spec)
        for spec, status, reason in found.collected:  # collected, no outputs yet
            self.tg.start_soon(self._finish, spec, status, reason)

    def use_cluster(self, cluster: Cluster) -> None:
        """Be one tomato of a cluster (DESIGN §9): joined once this supervisor runs."""
        self.cluster = cluster

    async def on_failure(self, msg: Any, exc: Exception) -> None:
        """A one-way message that failed is logged; the service goes on."""
        logger.error("%s failed: %s", type(msg).__name__, exc)

    async def handle(self, msg: Any, ctx: Context) -> Any:
        try:
            return await self._handle(msg, ctx)
        except sqlite3.DatabaseError as exc:  # a damaged page met while running
            raise self.store.damaged(exc) from None

    async def _handle(self, msg: Any, ctx: Context) -> Any:
        refuse_forged(msg, ctx, self.jobhosts, self.store)
        if (done := self.cluster.handle(msg)) is not PASS:
            return done  # for another tomato, or news of the cluster
        match msg:
            case SubmitJob() | RequeueJob():  # requeued: as it was, by whoever asks now
                return self._queued(await accept(as_submitted(msg, self.store), ctx.uid,
                    self.pipelines, self.cluster.roles(), self.store, self.cluster.next_jobid))
            case HoldJobs() | SetPriority():  # in a cluster, the others are told
                changed = change(self.store, self.queue, msg, self.cluster.changed)
                return self._scheduled(self.queries.shown(changed, self.cluster))
            case _ if isinstance(msg, QUERIES):
                return await self.queries.answer(msg, self.cluster, self.settings)
            case CancelJobs(jobids):  # on a full disk too: stopping an experiment must work
                return self._cancel(jobids)
            case LoadSample(name, sample):
                return self._scheduled(self.pipelines.load(name, sample))
            case EjectSample(name):
                return self.pipelines.eject(name)
            case SetReady(name, ready):
                return self._scheduled(self.pipelines.set_ready(name, ready))
            case JobCollected(jobid, status, reason):
                self.jobhosts.finished(jobid)
                if (failure := self.failures.pop(jobid, None)) is not None:
                    status, reason = Status.FAILED, failure  # its device failed: it was stopped
                return self._collected(jobid, status, reason)
            case JobFinished(jobid, status, reason, outputs):
                return self._end_job(jobid, status, reason, outputs)
            case StepStarted() | JobData() | Reports():
                return self.progress.take(msg.items if isinstance(msg, Reports) else (msg,),
                                          self.running, self.events.publish)
            case TakeSnapshot(jobid, cwd):
                return self.outputs.take_snapshot(self._job(jobid), self.store.spec(jobid),
                                                  Path(cwd), ctx.uid)
            case StopService(force):
                return request_stop(self.running_jobs(), force, self.stop_requested)
            case RestartDevice(name, force):
                return Deferred(lambda: self.devices.restart(name, self.pipelines, force))
            case ForComponent():
                return Deferred(lambda: self.components.forward(msg))
            case Reload():
                return Deferred(self._reload)
            case CancelAll():
                return self._cancel(tuple(self.running_jobs()))
            case ChildEvent():
                return self._apply(child_news(msg, self.jobhosts, self.devices,
                                              self.pipelines, self.store, self.running))
        raise ActorError(f"the supervisor does not understand {type(msg).__name__}")

    # Jobs.
    def _queued(self, spec: JobSpec | PayloadChecked) -> JobInfo | PayloadChecked:
        if isinstance(spec, PayloadChecked):  # `ketchup submit --check`: nothing queued
            return spec
        job = self.enqueue(spec)
        logger.info("job %d queued (%s)", spec.jobid, "matches " + ", ".join(job.matches)
                    if job.matches else "no pipeline can run it yet")
        self.schedule()
        return self._job(spec.jobid)

    def enqueue(self, spec: JobSpec) -> Pending:
        habits, unmet, never = waiting(info := self._job(spec.jobid), self.store)
        job = self.queue.add(spec, habits, unmet)
        if job.matches and info.status == Status.QUEUED:
            self._move(spec.jobid, Status.MATCHED)
        self.cluster.changed(spec.jobid)  # in a cluster, the others queue it too
        if never is not None:  # what it was to run after ended otherwise (a restart between)
            self._end_job(spec.jobid, Status.CANCELLED, never)
        return job

    def _scheduled(self, reply: Any) -> Any:
        self.schedule()
        return reply

    def schedule(self) -> None:
        for jobid, name in self.queue.plan():  # in a cluster, once this tomato claimed it
            self.cluster.claim(jobid, name)

    def start_job(self, jobid: int, pipeline: str) -> None:
        jobdir = self.settings.jobs_dir / str(jobid)
        jobdir.mkdir(parents=True, exist_ok=True)
        spec = self.pipelines.take(self.pipelines.all[pipeline], self.store.spec(jobid),
                                   self.settings.runtime_dir)
        self.store.set_spec(spec)
        record = {**self.store.record(jobid), "pipeline": pipeline}
        (jobdir / JOB_RECORD).write_text(json.dumps(record, indent=1))
        self._move(jobid, Status.RUNNING, executed=now(), pipeline=pipeline, jobpath=str(jobdir))
        self.tg.start_soon(self._spawn_job, spec, jobdir)
        self.follow(spec)

    def follow(self, spec: JobSpec) -> None:
        """Keep a started job's spec while it runs, and its periodic snapshots going."""
        self.running[spec.jobid] = spec
        self.outputs.start_snapshots(self._jobdir(spec.jobid), spec)

    async def _spawn_job(self, spec: JobSpec, jobdir: Path) -> None:
        try:
            await self.jobhosts.launch(spec, jobdir)
        except ActorError as exc:
            self.lost(spec, Status.FAILED, f"job host did not start: {exc}")
            return
        self.store.set_job(spec.jobid, pid=self.jobhosts.pid_of(spec.jobid))

    def _collected(self, jobid: int, status: str, reason: str | None) -> None:
        """The job's data is in: free its pipeline, make its outputs beside the mailbox."""
        spec = self.running.pop(jobid, None)
        if spec is None:  # already collected
            return
        self.store.log("job collected", str(jobid), json.dumps([status, reason]))
        self.store.set_job(jobid, pid=None)
        # Its pipeline is free (ready again only after `c` with unlock_when_done).
        self.outputs.stop_snapshots(jobid)
        self.pipelines.release(spec.pipeline, jobid,
                               status == Status.COMPLETED and spec.unlock_when_done)
        self.schedule()
        self.tg.start_soon(self._finish, spec, status, reason)

    def lost(self, spec: JobSpec, status: str, reason: str) -> None:
        """The job's process is gone before it reported: stop what it left running on its
        devices and save the points they still hold, then collect it as it would have (its
        pipeline freed, its outputs made with what was written)."""
        logger.error("job %d: %s", spec.jobid, reason)
        self.running[spec.jobid] = spec

        async def stop_then_collect() -> None:
            await stop_and_save(spec, self._jobdir(spec.jobid))
            await self.ref.tell(JobCollected(spec.jobid, status, reason))

        self.tg.start_soon(stop_then_collect)

    async def _finish(self, spec: JobSpec, status: str, reason: str | None) -> None:
        """Make the job's outputs, then end it (through the mailbox)."""
        status, reason, files = await self.outputs.final(self._jobdir(spec.jobid), spec, status,
                                                         reason)
        try:
            await self.ref.tell(JobFinished(spec.jobid, status, reason, tuple(files)))
        except ActorDeadError:  # stopped meanwhile: the next start makes them again
            logger.warning("job %d: outputs made after the supervisor stopped", spec.jobid)

    def _move(self, jobid: int, status: str, **fields: Any) -> None:
        job = self._job(jobid)
        if not can_move(job.status, status):
            logger.warning("job %d: ignored move %s → %s", jobid, job.status, status)
            return
        self.store.set_job(jobid, status=status, **fields)
        self.events.publish(JobStatusChanged(jobid, status, fields.get("pipeline", job.pipeline),
                                             fields.get("reason")))

    def _end_job(self, jobid: int, status: str, reason: str | None,
                 outputs: tuple[str, ...] = ()) -> None:
        job = self.store.job(jobid)
        if job is None or job.status in FINISHED:
            return
        self.queue.drop(jobid)
        self._move(jobid, status, completed=now(), reason=reason,
                   outputs=json.dumps(list(outputs)) if outputs else None)
        self.ended(jobid, status)
        logger.info("job %d ended %s%s", jobid, status, f": {reason}" if reason else "")
        if job.jobpath is not None:  # it ran here: its folder says how it ended too
            note_end(Path(job.jobpath), jobid, status, reason)
        self.progress.forget(jobid)

    def ended(self, jobid: int, status: str) -> None:
        """Job `jobid` ended (here, or on another tomato): the jobs to run after it may start;
        those that needed it completed are cancelled by the tomato that decides about them."""
        failed, freed = self.queue.ended(jobid, status)
        for other, why in failed:
            if self.cluster.writes(other):
                self._end_job(other, Status.CANCELLED, why)
        if freed:
            self.schedule()

    def _cancel(self, jobids: tuple[int, ...]) -> list[JobInfo]:
        jobs = [self._job(j) for j in jobids]
        if done := [j for j in jobs if j.status in FINISHED]:
            raise ConflictError("; ".join(f"job {j.jobid} has already finished ({j.status})"
                                          for j in done))
        for job in jobs:
            if job.status in PENDING:
                self._end_job(job.jobid, Status.CANCELLED, "cancelled while queued")
            elif job.status == Status.RUNNING:
                self._move(job.jobid, Status.CANCELLING)
                self.tg.start_soon(self.jobhosts.cancel, job.jobid)
        return [self._job(j) for j in jobids]

    def _jobdir(self, jobid: int) -> Path:
        return Path(self._job(jobid).jobpath or self.settings.jobs_dir / str(jobid))


    # The lab.
    def _apply(self, news: ChildNews) -> None:
        for jobid, status, reason in news.lost:
            self.lost(self.running[jobid], status, reason)
        for jobid, why in news.stopped:
            self.failures[jobid] = why
            self.tg.start_soon(self.jobhosts.cancel, jobid)
        if news.reschedule:
            self.schedule()

    async def _reload(self) -> Reloaded:
        report, self.settings = await reload_lab(self.settings, self.devices, self.pipelines,
                                                 self.components)
        self.queue.rematch()
        self.schedule()  # new pipelines may take queued jobs
        return report

