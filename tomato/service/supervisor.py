"""The supervisor actor: the queue, the pipelines, matching, and the single writer of state."""

from __future__ import annotations

import json
import logging
import os
import pwd
import time
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskGroup

from actors import (
    Actor,
    ActorDeadError,
    ActorError,
    ActorRef,
    ChildEvent,
    Context,
    Deferred,
    Ok,
    ProcessSupervisor,
)
from drivers import Technique

from ..errors import ConflictError, NotFoundError
from ..messages import (
    CancelJobs,
    EjectSample,
    GetJobs,
    GetPipelines,
    GetServiceStatus,
    GetWatchState,
    JobCollected,
    JobData,
    JobFinished,
    JobInfo,
    JobStatusChanged,
    LoadSample,
    NextJob,
    PipelineChanged,
    PipelineInfo,
    SearchJobs,
    ServiceStatus,
    SetReady,
    SnapshotTaken,
    StepStarted,
    StopService,
    SubmitJob,
    TakeSnapshot,
    WatchState,
)
from ..paths import device_socket, socket_path
from .devices import Devices
from .devicesfile import Lab
from .jobprocs import JobProcesses
from .outputs import final_outputs, make_outputs, output_servers
from .payload import LATEST, check_method, needs_of, normalise_payload
from .progress import Progress
from .scheduler import Pending, Pipeline, components_of, matching, plan
from .settings import Settings
from .store import ACTIVE, FINISHED, PENDING, Store, can_move, now

logger = logging.getLogger(__name__)


class CancelAll:
    """Local message of the service: cancel every running job (it is shutting down)."""


class Supervisor(Actor):
    """Owns jobs and pipelines; starts job processes; hears about device and job exits."""

    def __init__(self, settings: Settings, lab: Lab, store: Store, procs: ProcessSupervisor,
                 tg: TaskGroup, techniques: dict[str, dict[str, Technique]]) -> None:
        self.settings = settings
        self.lab = lab
        self.store = store
        self.procs = procs
        self.tg = tg
        self.ref: ActorRef | None = None
        self.stop_requested = anyio.Event()
        self.device_techniques = techniques
        self.techniques = {t.name: t for ts in techniques.values() for t in ts.values()}
        self.devices = Devices(lab, settings.runtime_dir, store)
        self.jobprocs = JobProcesses(settings, procs, tg)
        self.pipelines = self._load_pipelines()
        self.pending: dict[int, Pending] = {}
        self.matches: dict[tuple[tuple[str, str], ...], tuple[tuple[str, ...], frozenset[str]]] = {}
        self.last_pass = 0.0
        self.progress = Progress()
        self.unfinished: list[tuple[JobInfo, str, str | None]] = []
        """Jobs whose data was collected before a restart, and how it ended."""

    # Start-up.
    def _load_pipelines(self) -> dict[str, Pipeline]:
        rows = self.store.sync_pipelines([p.name for p in self.lab.pipelines])
        pipelines = {}
        for spec in self.lab.pipelines:
            caps = {c.role: frozenset(self.device_techniques[c.device]) for c in spec.components}
            sample, ready, jobid = rows[spec.name]
            pipelines[spec.name] = Pipeline(spec, caps, sample, ready, jobid)
        return pipelines

    def resume(self) -> None:
        """Once the actor runs: make the outputs of jobs collected before a restart."""
        for job, status, reason in self.unfinished:
            self.tg.start_soon(self._finish, job, status, reason)
        self.unfinished.clear()

    async def recover(self, survivors: dict[str, int]) -> None:
        """Rebuild the queue from the store. Jobs a previous instance left running are taken
        over when their process still serves (`survivors`: socket name → pid); those whose
        data was all collected get their outputs made; the others end `ce`."""
        adopted = set()
        for job in self.store.jobs(ACTIVE):
            if (collected := self.store.collected(job.jobid)) is not None:
                logger.warning("job %d: data collected before a restart; making outputs",
                               job.jobid)
                self.unfinished.append((job, *collected))
                continue
            pid = self.store.job_pid(job.jobid)
            child = next((name for name, p in survivors.items() if pid and p == pid and
                          name.startswith(("job-", "standby-"))), None)
            if child is not None:
                try:
                    await self.jobprocs.adopt(job.jobid, child, survivors.pop(child))
                except ActorError as exc:
                    logger.warning("job %d: could not take over its process: %s",
                                   job.jobid, exc)
                else:
                    logger.warning("job %d: taken over, still running in %s", job.jobid,
                                   child)
                    adopted.add(job.jobid)
                    continue
            self._end_job(job.jobid, "ce", "tomato stopped while this job was running")
        for p in self.pipelines.values():
            if p.jobid is not None and p.jobid not in adopted:
                p.jobid = None
                self.store.set_pipeline(p.name, jobid=None)
        for job in self.store.jobs(PENDING):
            payload, _ = self.store.job_extra(job.jobid)
            self._enqueue(job.jobid, job.sample, needs_of(payload))

    # Messages.
    async def handle(self, msg: Any, ctx: Context) -> Any:
        match msg:
            case SubmitJob():
                return await self._submit(msg, ctx)
            case GetPipelines():
                return [self._pipeline_info(p) for p in self.pipelines.values()]
            case GetJobs(jobids, finished):
                if jobids:
                    return [self._job(j) for j in jobids]
                return self.store.jobs(None if finished else (*PENDING, *ACTIVE))
            case SearchJobs(text, complete):
                statuses = None if complete else (*PENDING, *ACTIVE)
                return self.store.jobs(statuses, name=text)
            case CancelJobs(jobids):
                return self._cancel(jobids)
            case LoadSample(name, sample):
                return self._load(self._pipeline(name), sample)
            case EjectSample(name):
                return self._eject(self._pipeline(name))
            case SetReady(name, ready):
                return self._set_ready(self._pipeline(name), ready)
            case JobCollected(jobid, status, reason):
                wait = self.jobprocs.finished(jobid)
                self._collected(jobid, status, reason)
                return NextJob(wait)
            case JobFinished(jobid, status, reason, outputs):
                self._end_job(jobid, status, reason, outputs)
                return None
            case StepStarted():
                self.progress.step_started(msg)
                self.events.publish(msg)
                return None
            case JobData(jobid=jobid):
                job = None if self.progress.knows(jobid) else self.store.job(jobid)
                if job is not None and job.status in FINISHED:
                    return None  # late, from a job that has ended: keep nothing for it
                self.progress.data(msg)
                self.events.publish(msg)
                return None
            case GetWatchState(jobid):
                return self._watch_state(jobid)
            case TakeSnapshot(jobid, cwd):
                return self._snapshot(self._job(jobid), Path(cwd))
            case StopService(force):
                return self._request_stop(force)
            case GetServiceStatus():
                return await self._service_status()
            case CancelAll():
                return self._cancel(tuple(self.running_jobs()))
            case ChildEvent():
                self._child_event(msg)
                return None
        raise ActorError(f"the supervisor does not understand {type(msg).__name__}")

    # Jobs.
    async def _submit(self, msg: SubmitJob, ctx: Context) -> JobInfo:
        version, payload = await anyio.to_thread.run_sync(
            normalise_payload, msg.payload, msg.filename)
        needs = check_method(version, payload, msg.filename, self.techniques)
        if version != LATEST:  # upgrading to 2.2 names the service's user; it is the submitter's
            payload["user"] = {"identifier": _user_name(ctx.uid)}
        sample = payload["sample"]["identifier"]
        jobid = self.store.add_job(payload, sample, msg.jobname, ctx.uid, msg.cwd, "q")
        job = self._enqueue(jobid, sample, needs)
        logger.info("job %d queued (%s)", jobid, "matches " + ", ".join(job.matches)
                    if job.matches else "no pipeline can run it yet")
        self._schedule()
        return self._job(jobid)

    def _enqueue(self, jobid: int, sample: str, needs: tuple[tuple[str, str], ...]) -> Pending:
        if needs not in self.matches:  # capabilities are fixed: compute once per kind of job
            names = matching(needs, self.pipelines.values())
            self.matches[needs] = (names, frozenset(names))
        job = Pending(jobid, sample, needs, *self.matches[needs])
        self.pending[jobid] = job
        if job.matches and self.store.job(jobid).status == "q":  # type: ignore[union-attr]
            self._move(jobid, "qw")
        return job

    def _schedule(self) -> None:
        start = time.perf_counter()
        for jobid, name in plan(self.pending.values(), self.pipelines):
            self._start_job(jobid, self.pipelines[name])
        self.last_pass = time.perf_counter() - start

    def _start_job(self, jobid: int, pipeline: Pipeline) -> None:
        del self.pending[jobid]
        jobdir = self.settings.jobs_dir / str(jobid)
        jobdir.mkdir(parents=True, exist_ok=True)
        self._write_jobdata(jobid, pipeline, jobdir)
        pipeline.ready, pipeline.jobid = False, jobid
        self.store.set_pipeline(pipeline.name, ready=0, jobid=jobid)
        self._move(jobid, "r", executed=now(), pipeline=pipeline.name, jobpath=str(jobdir))
        self._changed(pipeline)
        self.tg.start_soon(self._spawn_job, jobid, jobdir)

    def _write_jobdata(self, jobid: int, pipeline: Pipeline, jobdir: Path) -> None:
        payload, cwd = self.store.job_extra(jobid)
        job = self.store.job(jobid)
        assert job is not None
        components = {
            c.role: {"device": c.device, "channel": c.channel,
                     "socket": str(device_socket(self.settings.runtime_dir, c.device))}
            for c in pipeline.spec.components}
        jobdata = {"jobid": jobid, "jobname": job.jobname, "sample": job.sample,
                   "submitted": job.submitted, "owner": job.owner, "cwd": cwd,
                   "pipeline": {"name": pipeline.name, "components": components},
                   "payload": payload}
        (jobdir / "jobdata.json").write_text(json.dumps(jobdata, indent=1))

    async def _spawn_job(self, jobid: int, jobdir: Path) -> None:
        try:
            await self.jobprocs.launch(jobid, jobdir)
        except ActorError as exc:
            assert self.ref is not None
            await self.ref.tell(JobFinished(jobid, "ce", f"job process did not start: {exc}"))
            return
        self.store.set_job(jobid, pid=self.jobprocs.pid_of(jobid))

    def _output_servers(self, jobid: int) -> tuple[Path, ...]:
        return output_servers(self.settings.runtime_dir, self.settings.output_servers, jobid)

    def _collected(self, jobid: int, status: str, reason: str | None) -> None:
        """The job's data is in: free its pipeline, make its outputs beside the mailbox."""
        job = self.store.job(jobid)
        if job is None or job.status in FINISHED:
            return
        self.store.log("job collected", str(jobid), json.dumps([status, reason]))
        self.store.set_job(jobid, pid=None)
        self._release(jobid, status)
        self.tg.start_soon(self._finish, job, status, reason)

    async def _finish(self, job: JobInfo, status: str, reason: str | None) -> None:
        """Make the job's outputs, then end it (through the mailbox)."""
        status, reason, files = await final_outputs(Path(job.jobpath or ""), status, reason,
                                                    self._output_servers(job.jobid))
        assert self.ref is not None
        try:
            await self.ref.tell(JobFinished(job.jobid, status, reason, tuple(files)))
        except ActorDeadError:  # stopped meanwhile: the next start makes them again
            logger.warning("job %d: outputs made after the supervisor stopped", job.jobid)

    def _move(self, jobid: int, status: str, **fields: Any) -> None:
        job = self.store.job(jobid)
        assert job is not None
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
        self.pending.pop(jobid, None)
        self._move(jobid, status, completed=now(), reason=reason,
                   outputs=json.dumps(list(outputs)) if outputs else None)
        logger.info("job %d ended %s%s", jobid, status, f": {reason}" if reason else "")
        self._release(jobid, status)
        self.progress.forget(jobid)

    def _release(self, jobid: int, status: str) -> None:
        """Free the job's pipeline (ready again only after `c` with unlock_when_done)."""
        job = self.store.job(jobid)
        pipeline = self.pipelines.get(job.pipeline or "") if job else None
        if pipeline is not None and pipeline.jobid == jobid:
            payload, _ = self.store.job_extra(jobid)
            unlock = status == "c" and payload["settings"].get("unlock_when_done", False)
            pipeline.jobid, pipeline.ready = None, unlock
            self.store.set_pipeline(pipeline.name, jobid=None, ready=int(unlock))
            self._changed(pipeline)
        self._schedule()

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
                self.tg.start_soon(self.jobprocs.cancel, job.jobid)
        return [self._job(j) for j in jobids]

    def _watch_state(self, jobid: int | None) -> WatchState:
        jobs = [self._job(jobid)] if jobid is not None else self.store.jobs(ACTIVE)
        methods = {}
        for job in jobs:
            payload, _ = self.store.job_extra(job.jobid)
            methods[job.jobid] = [{"role": m["component_role"], "technique": m["technique_name"],
                                   "max_duration": m["max_duration"]} for m in payload["method"]]
        ids = {j.jobid for j in jobs}
        return WatchState([self._pipeline_info(p) for p in self.pipelines.values()], jobs,
                          methods, {j: s for j, s in self.progress.steps.items() if j in ids},
                          self.progress.latest(ids))

    def _changed(self, p: Pipeline) -> None:
        self.events.publish(PipelineChanged(self._pipeline_info(p)))

    def _snapshot(self, job: JobInfo, cwd: Path) -> Deferred:
        """Snapshot into the caller's folder, by the output process, beside the mailbox."""
        if job.status in PENDING or job.jobpath is None:
            raise ConflictError(f"job {job.jobid} has not started ({job.status}): "
                                "there is no data to snapshot yet")
        warning = (f"job {job.jobid} has finished ({job.status}); the snapshot holds all "
                   "its data" if job.status in FINISHED else None)

        async def work() -> SnapshotTaken:
            files = await make_outputs(Path(job.jobpath or ""), cwd, f"snapshot.{job.jobid}",
                                       servers=self._output_servers(job.jobid))
            return SnapshotTaken(tuple(files), warning)

        return Deferred(work)

    def _job(self, jobid: int) -> JobInfo:
        job = self.store.job(jobid)
        if job is None:
            raise NotFoundError(f"no job with jobid {jobid}")
        return job

    # Pipelines.
    def _pipeline(self, name: str) -> Pipeline:
        pipeline = self.pipelines.get(name)
        if pipeline is None:
            raise NotFoundError(f"no pipeline named {name!r} (pipelines: "
                                f"{', '.join(self.pipelines)})")
        return pipeline

    def _pipeline_info(self, p: Pipeline) -> PipelineInfo:
        caps = sorted({t for ts in p.capabilities.values() for t in ts})
        return PipelineInfo(p.name, p.sample, p.ready, p.jobid, tuple(p.capabilities),
                            components_of(p.spec), tuple(caps), p.failed)

    def _load(self, p: Pipeline, sample: str) -> PipelineInfo:
        if p.sample is not None:
            raise ConflictError(f"pipeline {p.name!r} already holds sample {p.sample!r}; "
                                f"eject it first")
        p.sample = sample
        self.store.set_pipeline(p.name, sample=sample)
        self._changed(p)
        self._schedule()
        return self._pipeline_info(p)

    def _eject(self, p: Pipeline) -> PipelineInfo:
        _refuse_if_running(p)
        p.sample = None
        self.store.set_pipeline(p.name, sample=None)
        self._changed(p)
        return self._pipeline_info(p)

    def _set_ready(self, p: Pipeline, ready: bool) -> PipelineInfo:
        _refuse_if_running(p)
        p.ready = ready
        self.store.set_pipeline(p.name, ready=int(ready))
        self._changed(p)
        self._schedule()
        return self._pipeline_info(p)

    # Service.
    def _request_stop(self, force: bool) -> Ok:
        running = self.running_jobs()
        if running and not force:
            raise ConflictError(f"job(s) {', '.join(map(str, running))} are running; cancel "
                                f"them or use 'tomato stop --force' to cancel them and stop")
        self.stop_requested.set()
        return Ok()

    async def _service_status(self) -> ServiceStatus:
        s = self.settings
        return ServiceStatus(os.getpid(), str(socket_path(s.runtime_dir, "tomato")),
                             str(s.config_dir), str(s.state_db), str(s.jobs_dir),
                             self.lab.source, tuple(await self.devices.rows()),
                             tuple(self.running_jobs()), len(self.pending),
                             self.last_pass * 1000, self.jobprocs.standby())

    def running_jobs(self) -> list[int]:
        """Jobs not yet ended (some may have released their pipeline to make outputs)."""
        return [j.jobid for j in self.store.jobs(ACTIVE)]

    def _child_event(self, ev: ChildEvent) -> None:
        if ev.id.startswith("outputs-"):
            logger.info("output server %s %s", ev.kind, ev.reason)
            return
        kind, _, name = ev.id.partition("-")
        if kind in ("job", "standby"):
            jobid = self.jobprocs.job_of(ev)
            if jobid is not None and ev.kind == "exited":
                job = self.store.job(jobid)
                status = "cd" if job is not None and job.status == "rd" else "ce"
                self._end_job(jobid, status, f"job process exited with code {ev.returncode} "
                                             "before it reported an end")
            return
        self._device_event(name, ev)

    def _device_event(self, device: str, ev: ChildEvent) -> None:
        reason = self.devices.record(device, ev)
        if ev.kind == "failed":
            logger.error("device %s failed: %s", device, reason)
            for p in self.pipelines.values():
                if any(c.device == device for c in p.spec.components):
                    p.failed = f"device {device} failed: {reason}"
                    self._changed(p)
                    if p.jobid is not None:
                        self._end_job(p.jobid, "ce", p.failed)


def _refuse_if_running(p: Pipeline) -> None:
    if p.jobid is not None:
        raise ConflictError(f"pipeline {p.name!r} is running job {p.jobid}; "
                            f"let it finish or cancel it first")


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)



