"""The supervisor actor: the queue, the jobs' lifecycle, and the single writer of state."""

from __future__ import annotations

import json
import logging
import os
import pwd
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskGroup

from tomato.actors import Actor, ActorDeadError, ActorError, ChildEvent, Context, Deferred

from ..errors import ConflictError, NotFoundError
from ..jobfolder import JOB_RECORD
from ..jobstatus import ACTIVE, FINISHED, PENDING
from ..messages import (
    CancelJobs,
    EjectSample,
    ForComponent,
    GetJobs,
    GetPipelines,
    GetServiceStatus,
    GetWatchState,
    JobCollected,
    JobData,
    JobFinished,
    JobInfo,
    JobSpec,
    JobStatusChanged,
    ListComponents,
    LoadSample,
    PayloadChecked,
    Reload,
    Reports,
    RestartDevice,
    SearchJobs,
    SetReady,
    StepStarted,
    StopService,
    SubmitJob,
    TakeSnapshot,
)
from .children import child_event
from .cluster.local import PASS
from .components import Components
from .devices import Devices, stop_and_save
from .jobhosts import JobHosts
from .outputs import Outputs
from .payload import LATEST, check_submission, job_spec, normalise_payload
from .pipelines import Pipelines
from .progress import Progress
from .reload import reload_lab
from .scheduler import Pending, Queue
from .settings import Settings
from .statecheck import note_end
from .status import request_stop, service_status
from .store import Store, can_move, now
from .takeover import recover_jobs

if TYPE_CHECKING:
    from .cluster import Cluster

logger = logging.getLogger(__name__)


class CancelAll:
    """Local message of the service: cancel every running job (it is shutting down)."""


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
        self.cluster: Cluster | None = None  # the other tomatos, if in a cluster (serve.py)

    async def on_start(self) -> None:
        """Rebuild the queue, take over what an earlier service left running."""
        for spec, status, reason in await recover_jobs(self, self._survivors):
            self.tg.start_soon(self._finish, spec, status, reason)  # collected, no outputs yet

    async def on_failure(self, msg: Any, exc: Exception) -> None:
        """A one-way message that failed is logged; the service goes on."""
        logger.error("%s failed: %s", type(msg).__name__, exc)

    async def handle(self, msg: Any, ctx: Context) -> Any:
        try:
            return await self._handle(msg, ctx)
        except sqlite3.DatabaseError as exc:  # a damaged page met while running
            raise self.store.damaged(exc) from None

    async def _handle(self, msg: Any, ctx: Context) -> Any:
        _refuse_forged(msg, ctx, self.jobhosts, self.store)
        if self.cluster is not None and (done := self.cluster.handle(self, msg)) is not PASS:
            return done  # for another tomato, or news of the cluster
        match msg:
            case SubmitJob():
                return await self._submit(msg, ctx)
            case GetPipelines():
                return self.pipelines.infos() + (self.cluster.pipelines() if self.cluster else [])
            case GetJobs(jobids, finished):
                return self._shown([self._job(j) for j in jobids] if jobids else
                                   self.store.jobs(None if finished else (*PENDING, *ACTIVE)))
            case SearchJobs(text, complete):
                return self._shown(self.store.jobs(None if complete else (*PENDING, *ACTIVE),
                                                   name=text))
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
                    status, reason = "ce", failure  # its device failed: it was stopped
                self._collected(jobid, status, reason)
                return None
            case JobFinished(jobid, status, reason, outputs):
                return self._end_job(jobid, status, reason, outputs)
            case StepStarted() | JobData() | Reports():
                for told in self.progress.take(msg.items if isinstance(msg, Reports) else
                                               (msg,), self.running):
                    self.events.publish(told)
                return None
            case GetWatchState(jobid, points):
                jobs = self._shown([self._job(jobid)]) if jobid is not None else \
                    self.store.jobs(ACTIVE)
                return self.progress.watch_state(self.pipelines.infos(), jobs, {
                    j.jobid: self.store.spec(j.jobid) for j in jobs}, self.components.idle,
                    points)
            case TakeSnapshot(jobid, cwd):
                return self.outputs.take_snapshot(self._job(jobid), self.store.spec(jobid),
                                                  Path(cwd), ctx.uid)
            case StopService(force):
                return request_stop(self, force)
            case RestartDevice(name, force):
                return Deferred(lambda: self.devices.restart(name, self.pipelines, force))
            case GetServiceStatus():
                return await service_status(self)
            case ListComponents():
                return self.components.rows(self.devices.states())
            case ForComponent():
                return Deferred(lambda: self.components.forward(msg))
            case Reload():
                return Deferred(lambda: reload_lab(self))
            case CancelAll():
                return self._cancel(tuple(self.running_jobs()))
            case ChildEvent():
                return child_event(self, msg)
        raise ActorError(f"the supervisor does not understand {type(msg).__name__}")

    # Jobs.
    async def _submit(self, msg: SubmitJob, ctx: Context) -> JobInfo | PayloadChecked:
        version, payload = await anyio.to_thread.run_sync(
            normalise_payload, msg.payload, msg.filename)
        checked = check_submission(version, payload, msg, ctx.uid, self.pipelines,
                                   self.cluster)
        if msg.check:  # `ketchup submit --check`: nothing queued
            return checked
        who = _submitter(msg, ctx.uid)
        if version != LATEST:  # upgrading to 2.2 names the service's user; it is the submitter's
            payload["user"] = {"identifier": who}
        owner = None if ctx.uid == os.getuid() else ctx.uid
        spec = self.store.add_job(payload, (ctx.uid, who), msg.cwd,
                                  lambda jobid: job_spec(payload, jobid, msg.jobname, msg.cwd,
                                                         owner),
                                  self.cluster.jobs.next_jobid() if self.cluster else None)
        job = self.enqueue(spec)
        logger.info("job %d queued (%s)", spec.jobid, "matches " + ", ".join(job.matches)
                    if job.matches else "no pipeline can run it yet")
        self.schedule()
        return self._job(spec.jobid)

    def enqueue(self, spec: JobSpec) -> Pending:
        job = self.queue.add(spec)
        if job.matches and self._job(spec.jobid).status == "q":
            self._move(spec.jobid, "qw")
        if self.cluster is not None:  # the others queue it too
            self.cluster.jobs.changed(spec.jobid)
        return job

    def _scheduled(self, reply: Any) -> Any:
        self.schedule()
        return reply

    def schedule(self) -> None:
        for jobid, name in self.queue.plan():
            if self.cluster is None:
                self.start_job(jobid, name)
            else:  # in a cluster, once this tomato has claimed it
                self.cluster.claim(self, jobid, name)

    def start_job(self, jobid: int, pipeline: str) -> None:
        jobdir = self.settings.jobs_dir / str(jobid)
        jobdir.mkdir(parents=True, exist_ok=True)
        spec = self.pipelines.take(self.pipelines.all[pipeline], self.store.spec(jobid),
                                   self.settings.runtime_dir)
        self.store.set_spec(spec)
        record = {**self.store.record(jobid), "pipeline": pipeline}
        (jobdir / JOB_RECORD).write_text(json.dumps(record, indent=1))
        self._move(jobid, "r", executed=now(), pipeline=pipeline, jobpath=str(jobdir))
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
            self.lost(spec, "ce", f"job host did not start: {exc}")
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
        self.pipelines.release(spec.pipeline, jobid, status == "c" and spec.unlock_when_done)
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
        self.queue.pending.pop(jobid, None)
        self._move(jobid, status, completed=now(), reason=reason,
                   outputs=json.dumps(list(outputs)) if outputs else None)
        logger.info("job %d ended %s%s", jobid, status, f": {reason}" if reason else "")
        if job.jobpath is not None:  # it ran here: its folder says how it ended too
            note_end(Path(job.jobpath), jobid, status, reason)
        self.progress.forget(jobid)

    def _cancel(self, jobids: tuple[int, ...]) -> list[JobInfo]:
        jobs = [self._job(j) for j in jobids]
        if done := [j for j in jobs if j.status in FINISHED]:
            raise ConflictError("; ".join(f"job {j.jobid} has already finished ({j.status})"
                                          for j in done))
        for job in jobs:
            if job.status in PENDING:
                self._end_job(job.jobid, "cd", "cancelled while queued")
            elif job.status == "r":
                self._move(job.jobid, "rd")
                self.tg.start_soon(self.jobhosts.cancel, job.jobid)
        return [self._job(j) for j in jobids]

    def _jobdir(self, jobid: int) -> Path:
        return Path(self._job(jobid).jobpath or self.settings.jobs_dir / str(jobid))

    def _shown(self, jobs: list[JobInfo]) -> list[JobInfo]:
        jobs = self.queue.explained(jobs)  # why each queued job waits
        return self.cluster.shown(self, jobs) if self.cluster is not None else jobs

    def _job(self, jobid: int) -> JobInfo:
        job = self.store.job(jobid)
        if job is None:
            raise NotFoundError(f"no job with jobid {jobid}")
        return job

    # Service.
    def running_jobs(self) -> list[int]:
        """Jobs not yet ended (some may have released their pipeline to make outputs)."""
        return [j.jobid for j in self.store.jobs(ACTIVE, local=True)]


def _refuse_forged(msg: Any, ctx: Context, jobhosts: JobHosts, store: Store) -> None:
    """What only the service itself, or only its job processes, may say: refused from anyone
    else (a client of the same user included). From another user (a socket shared with a
    group, `[sharing]`): cancel only their own jobs, and no stop, reload or restart."""
    if ctx.uid not in (0, os.getuid()):
        if isinstance(msg, (StopService, Reload, RestartDevice)):
            raise ConflictError(f"{type(msg).__name__}: only {_user_name(os.getuid())} (who "
                                "runs tomato) or root may")
        if isinstance(msg, CancelJobs) and (theirs := [
                j for j in msg.jobids if (job := store.job(j)) is not None
                and not _owned_by(job, store.where(j)[0], store.host, ctx.uid)]):
            raise ConflictError(f"job {theirs[0]} is not yours: only its owner, "
                                f"{_user_name(os.getuid())} or root may cancel it")
    if ctx.pid != os.getpid() and (isinstance(msg, (JobFinished, CancelAll, ChildEvent)) or (
            isinstance(msg, (JobCollected, StepStarted, JobData, Reports))
            and not jobhosts.is_ours(ctx.pid))):
        raise ActorError(f"{type(msg).__name__} is accepted from tomato's own processes only "
                         f"(not from pid {ctx.pid})")


def _owned_by(job: JobInfo, home: str | None, here: str | None, uid: int) -> bool:
    """Whether the user `uid` of this PC owns `job`: by uid if it was submitted here; by
    user name if on another PC of the cluster, whose uids need not be this PC's."""
    if home in (None, here):
        return job.owner == uid
    return job.owner_name is not None and job.owner_name == _user_name(uid)


def _submitter(msg: SubmitJob, uid: int) -> str:
    """The name a job is recorded under: its submitter's user name, or, from the web
    process (the service's own user), the token's name, marked as such."""
    if msg.submitter is None:
        return _user_name(uid)
    if uid != os.getuid():
        raise ConflictError("a submitter is named by tomato's web process only")
    return f"{msg.submitter} (web)"


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)
