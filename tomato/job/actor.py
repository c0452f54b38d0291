"""The job actor: one per running job, many in one job host. Runs the steps, appends the
data, reports."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio

from tomato.actors import (
    Actor,
    ActorDeadError,
    ActorError,
    Context,
    Flag,
    Ok,
    Ping,
    connect,
)
from tomato.drivers import DataBatch, StartTask, StopTask, Task, record_scalars

from ..codec import CODEC
from ..jobfolder import JOB_LOG, JOB_LOG_FORMAT
from ..jobspec import StepSpec
from ..jobstatus import Status
from ..messages import JobData, StepStarted
from ..processmessages import CancelRun, RunJob
from ..rawdata import DataFile, RecordFile
from .links import READ_TIMEOUT, DeviceLink, DeviceLinks
from .reporter import Reporter

STOP_TIMEOUT = 1.0
RESUME_TIMEOUT = 30.0
"""How long a job waits for a restarted device before its step fails."""
RESUME_POLL = 0.2

logger = logging.getLogger(__name__)

JOBS_LOGGER = "tomato.job"
"""The parent of every job's logger: what reaches the host's own log (warnings)."""


class StepFailed(Exception):
    """A device reported an error for a step."""


class JobLog(logging.Handler):
    """Appends a job's records to its `jobdata.log`, opening it for each record: a host
    with a thousand jobs keeps no thousand files open for lines written a few times a job."""

    def __init__(self, path: Path, level: int) -> None:
        super().__init__(level)
        self.path = path
        self.setFormatter(logging.Formatter(JOB_LOG_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            with self.path.open("a", encoding="utf-8") as log:
                log.write(self.format(record) + "\n")
        except OSError:
            self.handleError(record)


def job_logger(jobid: int, jobdir: Path, verbosity: str) -> logging.Logger:
    """The job's own logger: its records go to the job log (at least INFO, DEBUG if the
    payload asks) and, from WARNING, to the host's log. Not registered by name, so that a
    host running jobs for weeks does not keep one logger per job it ever ran."""
    log = logging.Logger(f"{JOBS_LOGGER}.{jobid}")
    log.parent = logging.getLogger(JOBS_LOGGER)
    handler = JobLog(jobdir / JOB_LOG, min(logging.INFO, logging.getLevelName(verbosity)))
    log.addHandler(handler)
    log.setLevel(handler.level)
    return log


class JobActor(Actor):
    """One job: `run` collects its data; CancelRun cancels the run. The outputs are the
    supervisor's."""

    def __init__(self, job: RunJob, reporter: Reporter, links: DeviceLinks) -> None:
        self.reporter = reporter
        self.links = links
        self.spec = job.spec
        self.jobdir = Path(job.jobdir)
        self.jobid = job.spec.jobid
        self.log = job_logger(self.jobid, self.jobdir, job.spec.verbosity)
        self.scope = anyio.CancelScope()
        self.cancelled = False
        self._started: defaultdict[str, anyio.Event] = defaultdict(anyio.Event)
        """Set as each named step (`task_name`) starts: what triggers wait for."""
        self._stoppers: defaultdict[str, list[anyio.CancelScope]] = defaultdict(list)
        """The running steps each named step stops when it starts."""
        self.notes: list[str] = []
        """What the user should know of a run that still completed (e.g. a device restart)."""

    async def handle(self, msg: Any, ctx: Context) -> Any:
        match msg:
            case CancelRun(jobid) if jobid == self.jobid:
                self.cancel(ctx.uid)
                return Ok()
        raise ActorError(f"a job does not understand {type(msg).__name__}")

    def cancel(self, uid: int | None = None) -> None:
        if not self.cancelled:
            self.log.warning("cancel requested%s", f" (by uid {uid})" if uid is not None else "")
        self.cancelled = True
        self.scope.cancel()

    async def run(self) -> tuple[str, str | None]:
        """Run every step (and periodic snapshots); returns the status and its reason."""
        try:
            return await self._collect()
        finally:
            for handler in self.log.handlers:
                handler.close()

    async def _collect(self) -> tuple[str, str | None]:
        steps: dict[str, list[StepSpec]] = defaultdict(list)
        for step in self.spec.steps:
            steps[step.role].append(step)
        self.log.info("job %d started on pipeline %s", self.jobid, self.spec.pipeline)
        failures: list[BaseException] = []
        try:
            with self.scope:
                async with anyio.create_task_group() as tg:
                    for role, role_steps in steps.items():
                        tg.start_soon(self._run_role, role, role_steps)
        except* (StepFailed, ActorError, OSError) as group:
            failures.extend(_leaves(group))
        if failures:
            reason = "; ".join(str(e) for e in failures)
            self.log.error("job %d failed: %s", self.jobid, reason)
            return Status.FAILED, reason
        if self.cancelled:
            self.log.warning("job %d cancelled", self.jobid)
            return Status.CANCELLED, "cancelled while running"
        self.log.info("job %d completed", self.jobid)
        return Status.COMPLETED, "; ".join(self.notes) or None

    async def _run_role(self, role: str, steps: list[StepSpec]) -> None:
        """Run the steps of one component in order. If its device process dies, wait for
        the restarted one (bounded) and run the rest of the step on it."""
        component = self.spec.component(role)
        channel, sock = component.channel, Path(component.socket)
        pending = list(steps)
        run: _StepRun | None = None
        try:
            while pending:
                try:
                    async with self.links.use(sock) as device:
                        while pending:
                            if run is None:
                                run = _StepRun(pending[0], self.jobdir, self.log)
                            await self._run_step(device, channel, run)
                            run.close()
                            run = None
                            pending.pop(0)
                except (_DeviceLost, ActorDeadError):
                    await self._await_device(sock, role, run)
        finally:
            if run is not None:
                run.close()

    async def _await_device(self, sock: Path, role: str, run: _StepRun | None) -> None:
        """Wait for the device to serve again; raises StepFailed after RESUME_TIMEOUT."""
        where = f"step {run.step.index}: " if run is not None else ""
        self.log.warning("%slost its device on %s; waiting for it to be back (up to %g s)",
                       where, role, RESUME_TIMEOUT)
        with anyio.move_on_after(RESUME_TIMEOUT):
            while True:
                try:
                    async with connect(sock, CODEC) as device:
                        await device.ask(Ping(), timeout=RESUME_POLL * 10)
                    return
                except ActorError:
                    await anyio.sleep(RESUME_POLL)  # another process: polled, bounded
        raise StepFailed(f"{where}the device of {role} was not back within "
                         f"{RESUME_TIMEOUT:g} s")

    async def _run_step(self, device: DeviceLink, channel: str, run: _StepRun) -> None:
        """Run (or, after a device restart, go on with) a step; raises _DeviceLost."""
        index, step = run.step.index, run.step
        if step.start_with is not None and run.started is None:
            self.log.info("step %d waits for step %r to start", index, step.start_with)
            await self._started[step.start_with].wait()
        task, task_id = run.rest(), f"{self.jobid}.{index}"
        if task.max_duration <= 0:
            return  # the device came back after the step's time was up
        try:
            await device.ask(StartTask(channel, task, task_id))
        except ActorDeadError:
            raise _DeviceLost from None
        if run.started is None:
            run.started = time.monotonic()
            if step.name is not None:
                self._announce(step.name)
            self.reporter.post(StepStarted(self.jobid, index, step.role, task.technique,
                                           task.max_duration, time.time(),
                                           len(self.spec.steps)))
            self.log.info("step %d (%s) started on %s", index, task.technique, step.role)
        else:
            self.notes.append(f"step {index}: its device restarted; the step went on for "
                              f"its last {task.max_duration:.3g} s (points may be missing "
                              "in between)")
            self.log.warning("%s", self.notes[-1])
        reader = _Reader(self, device, channel, run, task_id)
        stop = anyio.CancelScope()
        if step.stop_with is not None:
            self._stoppers[step.stop_with].append(stop)
            if self._started[step.stop_with].is_set():
                stop.cancel()
        try:
            with stop:
                await reader.until_done()
            if stop.cancel_called:
                self.log.info("step %d stopped: step %r started", index, step.stop_with)
        except ActorDeadError:
            raise _DeviceLost from None
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(2 * STOP_TIMEOUT):
                try:
                    await device.ask(StopTask(channel), timeout=STOP_TIMEOUT)
                    await reader.read(timeout=STOP_TIMEOUT)
                except ActorDeadError:
                    pass  # the device is gone: what it had not handed over went with it

    def _announce(self, name: str) -> None:
        """The step named `name` started: start the steps waiting for it, stop those it
        stops."""
        self._started[name].set()
        for scope in self._stoppers.pop(name, []):
            scope.cancel()


class _Reader:
    """Reads a running step's points from its device into its raw file and the reports:
    fed by the device's link on every tick with news (in the link's task), and read
    explicitly at the step's start and end. A batch is taken once: points it already has
    (by sequence number) are left out, so two reads in flight cost nothing twice."""

    def __init__(self, job: JobActor, device: DeviceLink, channel: str, run: _StepRun,
                 task_id: str) -> None:
        self.job, self.device, self.channel, self.run = job, device, channel, run
        self.task_id = task_id
        self.after = self.acked = 0
        self.pending = self.again = False
        self.names = [c.name for c in run.step.columns]
        self.units = [c.unit for c in run.step.columns]
        self.ended = Flag()
        self.error: BaseException | None = None
        self.feeding = False
        """Between the start and end of `until_done`: a read on news arriving later (its
        step's file may be closed) is left to the step's last read."""

    async def read(self, timeout: float = READ_TIMEOUT) -> DataBatch:
        """Fetch and keep the points the device has; raises StepFailed on its error."""
        batch = await self.device.read(self.channel, self.after, timeout)
        self._take(batch)
        return batch

    def give(self, batch: DataBatch) -> None:
        """A batch read on news: kept; the end of the step (or a failure) is noted for
        `until_done`."""
        if not self.feeding:
            return
        try:
            self._take(batch)
        except Exception as exc:  # StepFailed, OSError (a full disk): the step's to raise
            self.fail(exc)
        else:
            if batch.state != "running":
                self.ended.set()

    def fail(self, error: BaseException) -> None:
        if self.error is None:
            self.error = error
        self.ended.set()

    def _take(self, batch: DataBatch) -> None:
        step = self.run.step
        points = batch.points[max(self.after - batch.first, 0):]
        self.run.out.append(points)  # first: points not written are read again
        self.after = max(self.after, batch.first + len(batch.points))
        for text in batch.notices:
            self.job.notes.append(f"step {step.index}: {text}")
            self.job.log.warning("%s", self.job.notes[-1])
        if points:
            names, units, rows = ((self.names, self.units, points) if not step.free_form
                                  else record_scalars(points))
            self.job.reporter.post(JobData(self.job.jobid, step.index, step.role, names,
                                           units, rows))
        if batch.state == "error":
            raise StepFailed(f"step {step.index} ({step.task.technique}): {batch.error}")

    async def until_done(self) -> None:
        """Keep the points the device reads out on its ticks, until the step ends."""
        self.feeding = True
        try:
            with self.device.feed(self.channel, self):
                if (await self.read()).state != "running":
                    return
                await self.ended.wait()
        finally:
            self.feeding = False
        if self.error is not None:
            raise self.error


class _DeviceLost(Exception):
    """The connection to a device broke during a step (its process died)."""


class _StepRun:
    """One step of a job while it runs: its raw data file, when it started."""

    def __init__(self, step: StepSpec, jobdir: Path, log: logging.Logger) -> None:
        self.step = step
        self.log = log
        self.out = (RecordFile(jobdir / step.datafile) if step.free_form
                    else DataFile(jobdir / step.datafile, tuple(step.columns)))
        self.started: float | None = None

    def rest(self) -> Task:
        """The task for what is left of the step's time."""
        task = self.step.task
        if self.started is None:
            return task
        left = task.max_duration - (time.monotonic() - self.started)
        return replace(task, max_duration=max(left, 0.0))

    def close(self) -> None:
        self.out.close()
        self.log.info("step %d (%s on %s) ended with %d points", self.step.index,
                    self.step.task.technique, self.step.role, self.out.count)


def _leaves(group: BaseExceptionGroup) -> list[BaseException]:
    """The exceptions inside (nested) exception groups."""
    found: list[BaseException] = []
    for exc in group.exceptions:
        found.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return found
