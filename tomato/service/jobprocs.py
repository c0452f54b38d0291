"""Job processes: started for a job, or taken warm from a few kept on standby."""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import anyio
from anyio.abc import TaskGroup

from tomato.actors import ActorError, ChildEvent, ChildSpec, ProcessSupervisor, connect, python_argv

from ..codec import CODEC
from ..messages import CancelRun, JobSpec, RunJob
from ..paths import socket_path
from .settings import Settings

logger = logging.getLogger(__name__)

CANCEL_TIMEOUT = 5.0
REFILL_DELAY = 2.0


class JobProcesses:
    """Runs each job in a process of its own. `settings.standby` processes wait ready-made
    (imports done, connected), so a job starts without the CPU of a new Python; a
    process whose job ended goes back on standby while the pool has room. Without a waiting
    process, one is started for the job; either way the job is handed over as RunJob."""

    def __init__(self, settings: Settings, procs: ProcessSupervisor, tg: TaskGroup) -> None:
        self._settings = settings
        self._procs = procs
        self._tg = tg
        self._refill_pending = False
        self._idle: list[str] = []
        self._starting = 0
        self._jobs: dict[int, str] = {}
        """jobid → the child (id) running it."""
        self._numbers = itertools.count(1)
        self._cancelled: set[int] = set()

    def _spec(self, child: str) -> ChildSpec:
        s = self._settings
        sock = self.socket(child)
        argv = python_argv(
            "tomato.job", "--socket", str(sock),
            "--supervisor", str(socket_path(s.runtime_dir, "tomato")),
            "--poll-interval", str(s.poll_interval), "--log-level", s.log_level,
            "--orphan-grace", str(s.orphan_grace))
        return ChildSpec(id=child, argv=argv, group="job", restart="temporary", socket=sock,
                         ping_interval=5.0)  # a hung one is killed: its job ends, its data kept

    async def _start(self) -> str:
        """Start a job process (it waits for RunJob); raises ActorError."""
        child = f"job-{next(self._numbers)}"
        await self._procs.start(self._spec(child))
        return child

    async def fill(self) -> None:
        """Start standby processes until there are `settings.standby` of them."""
        while (len(self._idle) + self._starting < self._settings.standby
               and not self._procs.stopping):
            self._starting += 1
            try:
                self._idle.append(await self._start())
            except ActorError as exc:
                if not self._procs.stopping:
                    logger.error("a standby job process did not start: %s", exc)
                return
            finally:
                self._starting -= 1

    async def launch(self, spec: JobSpec, jobdir: Path) -> None:
        """Run the job in a standby process, or in a new one; raises ActorError."""
        while self._idle:
            child = self._idle.pop(0)
            try:
                await self._hand(child, spec, jobdir)
            except ActorError as exc:
                logger.warning("standby %s did not take job %d (%s)", child, spec.jobid, exc)
                continue
            logger.info("job %d: handed to %s, which was waiting", spec.jobid, child)
            self._refill_later()
            return
        await self._hand(child := await self._start(), spec, jobdir)
        logger.info("job %d: handed to %s, started for it (none was waiting)", spec.jobid, child)

    async def _hand(self, child: str, spec: JobSpec, jobdir: Path) -> None:
        self._jobs[spec.jobid] = child  # before: its first reports may come before the reply
        try:
            async with connect(self.socket(child), CODEC) as conn:
                await conn.ask(RunJob(spec, str(jobdir)))
        except ActorError:
            del self._jobs[spec.jobid]
            raise
        if spec.jobid in self._cancelled:  # cancelled while its process was starting
            await self.cancel(spec.jobid)

    async def adopt(self, jobid: int, child: str, pid: int) -> None:
        """Take over `child` (pid `pid`), left running job `jobid` by an earlier service;
        raises ActorError if it is gone."""
        await self._procs.adopt(self._spec(child), pid)
        self._jobs[jobid] = child
        number = child.rpartition("-")[2]
        if number.isdigit():  # new names must not clash with it
            self._numbers = itertools.count(max(next(self._numbers), int(number) + 1))

    def finished(self, jobid: int) -> bool:
        """The job's process reported its end: keep it on standby if the pool wants it."""
        child = self._jobs.pop(jobid, None)
        if child is None or len(self._idle) + self._starting >= self._settings.standby:
            return False
        self._idle.append(child)
        return True

    def _refill_later(self) -> None:
        """Top the pool up after a while: processes of ending jobs come back to it first,
        and starting new ones now would take CPU from jobs that are starting."""
        if not self._refill_pending:
            self._refill_pending = True
            self._tg.start_soon(self._refill)

    async def _refill(self) -> None:
        await anyio.sleep(REFILL_DELAY)
        self._refill_pending = False
        await self.fill()

    def standby(self) -> int:
        """How many processes wait for a job."""
        return len(self._idle)

    def socket(self, child: str) -> Path:
        return socket_path(self._settings.runtime_dir, child)

    def is_ours(self, pid: int) -> bool:
        """`pid` is one of our job processes (started or taken over)."""
        return any(self._procs.pid(c) == pid for c in (*self._jobs.values(), *self._idle))

    def children_of(self, jobids: list[int]) -> list[str]:
        """The children (ids) running these jobs."""
        return [self._jobs[j] for j in jobids if j in self._jobs]

    def pid_of(self, jobid: int) -> int | None:
        child = self._jobs.get(jobid)
        return self._procs.pid(child) if child else None

    def job_of(self, ev: ChildEvent) -> int | None:
        """The job a child's event concerns (None: an idle standby, or not a job process)."""
        for jobid, child in self._jobs.items():
            if child == ev.id:
                if ev.kind in ("exited", "stopped"):
                    del self._jobs[jobid]
                return jobid
        if ev.kind == "exited" and ev.id in self._idle:
            self._idle.remove(ev.id)
        return None

    async def cancel(self, jobid: int) -> None:
        """Ask the job's process to stop its job; if it does not answer, stop the process."""
        child = self._jobs.get(jobid)
        if child is None:  # not handed over yet: cancelled once it is
            self._cancelled.add(jobid)
            return
        self._cancelled.discard(jobid)
        try:
            with anyio.fail_after(CANCEL_TIMEOUT):
                async with connect(self.socket(child), CODEC) as conn:
                    await conn.ask(CancelRun(jobid), timeout=CANCEL_TIMEOUT)
        except (TimeoutError, ActorError) as exc:
            logger.error("job %d did not take the cancel (%s): stopping its process", jobid, exc)
            await self._procs.stop(child)
