"""Job hosts: the processes that run job actors, many jobs each. One is kept waiting so
that a job starts without the CPU of a new Python; more are started as jobs fill them, and
one left without jobs stops when others have room."""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import anyio
from anyio.abc import TaskGroup

from tomato.actors import (
    ActorError,
    ChildEvent,
    ChildSpec,
    ProcessSupervisor,
    connect,
    python_argv,
)

from ...childconfig import JobHostConfig
from ...codec import CODEC
from ...jobspec import JobSpec
from ...messages import JobHostInfo
from ...paths import socket_path
from ...processmessages import CancelRun, RunJob
from ..config.settings import Settings

logger = logging.getLogger(__name__)

CANCEL_TIMEOUT = 5.0
PREFIX = "jobhost-"
"""Of a job host's child id (and socket name)."""


class JobHosts:
    """Places each job in a job host with room (`settings.per_host` jobs), the fullest
    first, so that few hosts run; keeps `settings.standby` hosts with room started ahead;
    starts a host for a job when none has room."""

    def __init__(self, settings: Settings, procs: ProcessSupervisor, tg: TaskGroup) -> None:
        self._settings = settings
        self._procs = procs
        self._tg = tg
        self._hosts: dict[str, set[int]] = {}
        """Every host started (or taken over): child id → the jobs it runs."""
        self._starting = anyio.Lock()
        """Held while a host starts: jobs that find no room wait for it, not start more."""
        self._jobs: dict[int, str] = {}
        """jobid → the host running it."""
        self._devices: dict[int, frozenset[str]] = {}
        """jobid → the devices it uses (hosts are chosen by them)."""
        self._numbers = itertools.count(1)
        self._cancelled: set[int] = set()

    def _spec(self, child: str) -> ChildSpec:
        s = self._settings
        sock = self.socket(child)
        config = JobHostConfig(str(socket_path(s.runtime_dir, "tomato")), s.orphan_grace,
                               s.poll_interval, s.log_level)
        return ChildSpec(id=child, argv=python_argv("tomato.job", str(sock)), group="job",
                         restart="temporary", socket=sock, stdin=CODEC.encode(config),
                         ping_interval=5.0)  # a hung one is killed: its jobs end, data kept

    async def _start(self) -> str:
        """Start a job host; raises ActorError."""
        child = f"{PREFIX}{next(self._numbers)}"
        await self._procs.start(self._spec(child))
        self._hosts[child] = set()
        return child

    async def _reserve(self, spec: JobSpec, tried: set[str]) -> str:
        """A place for the job in a host with room (not one of `tried`), starting one if
        none has: one at a time, however many jobs start at once (each waits for the start
        before it, which may have room for it). Raises ActorError."""
        devices = frozenset(c.device for c in spec.components)
        if (child := self._place(spec.jobid, devices, tried)) is not None:
            return child
        async with self._starting:
            while (child := self._place(spec.jobid, devices, tried)) is None:
                logger.info("%s started: no job host had room", await self._start())
        return child

    def _place(self, jobid: int, devices: frozenset[str], tried: set[str]) -> str | None:
        """Reserve room for the job in the best host with room, if one has."""
        room = [c for c in self._with_room(devices) if c not in tried]
        if not room:
            return None
        self._jobs[jobid] = room[0]
        self._devices[jobid] = devices
        self._hosts[room[0]].add(jobid)
        return room[0]

    def _with_room(self, devices: frozenset[str] = frozenset()) -> list[str]:
        """Hosts with room for a job, those running most jobs on `devices` first (a host
        hears each device it reads from at every tick: fewer hosts per device cost less),
        then the fullest."""
        room = [c for c, jobs in self._hosts.items() if len(jobs) < self._settings.per_host]

        def order(child: str) -> tuple[int, int]:
            jobs = self._hosts[child]
            return (-sum(1 for j in jobs if self._devices.get(j, frozenset()) & devices),
                    -len(jobs))

        return sorted(room, key=order)

    async def fill(self) -> None:
        """Start hosts until `settings.standby` of them have room."""
        async with self._starting:
            while (len(self._with_room()) < self._settings.standby
                   and not self._procs.stopping):
                try:
                    await self._start()
                except ActorError as exc:
                    if not self._procs.stopping:
                        logger.error("a job host did not start: %s", exc)
                    return

    async def launch(self, spec: JobSpec, jobdir: Path) -> None:
        """Run the job in a host with room (one is started if none has); raises
        ActorError if none takes it."""
        tried: set[str] = set()
        while True:
            # Reserved before the ask: its first reports may come before the reply.
            child = await self._reserve(spec, tried)
            try:
                async with connect(self.socket(child), CODEC) as conn:
                    await conn.ask(RunJob(spec, str(jobdir)))
            except ActorError as exc:
                self._forget(spec.jobid)
                if len(tried) >= 2:
                    raise
                tried.add(child)
                logger.warning("%s did not take job %d (%s)", child, spec.jobid, exc)
                continue
            logger.info("job %d: handed to %s (%d jobs)", spec.jobid, child,
                        len(self._hosts.get(child, ())))
            break
        if spec.jobid in self._cancelled:  # cancelled while its host was starting
            await self.cancel(spec.jobid)
        if len(self._with_room()) < self._settings.standby:
            self._tg.start_soon(self.fill)

    async def adopt(self, child: str, pid: int, jobids: tuple[int, ...]) -> None:
        """Take over the host `child` (pid `pid`) an earlier service left running `jobids`;
        raises ActorError if it is gone."""
        await self._procs.adopt(self._spec(child), pid)
        self._hosts[child] = set(jobids)
        self._jobs.update(dict.fromkeys(jobids, child))
        number = child.removeprefix(PREFIX)
        if number.isdigit():  # new names must not clash with it
            self._numbers = itertools.count(max(next(self._numbers), int(number) + 1))

    def _forget(self, jobid: int) -> str | None:
        self._devices.pop(jobid, None)
        child = self._jobs.pop(jobid, None)
        if child is not None and child in self._hosts:
            self._hosts[child].discard(jobid)
        return child

    def finished(self, jobid: int) -> None:
        """The job reported its end: its host has room again. A host left without jobs
        stops if enough others have room."""
        child = self._forget(jobid)
        if (child is not None and not self._hosts.get(child)
                and len(self._with_room()) > self._settings.standby
                and not self._procs.stopping):
            del self._hosts[child]
            logger.info("%s has no job left: stopping it", child)
            self._tg.start_soon(self._procs.stop, child)

    def standby(self) -> int:
        """How many hosts have room for a job."""
        return len(self._with_room())

    def hosts(self) -> list[JobHostInfo]:
        return [JobHostInfo(c, self._procs.pid(c) or 0, len(jobs))
                for c, jobs in self._hosts.items()]

    def socket(self, child: str) -> Path:
        return socket_path(self._settings.runtime_dir, child)

    def is_ours(self, pid: int) -> bool:
        """`pid` is one of our job hosts (started or taken over)."""
        return any(self._procs.pid(c) == pid for c in self._hosts)

    def children_of(self, jobids: list[int]) -> list[str]:
        """The hosts running these jobs."""
        return sorted({self._jobs[j] for j in jobids if j in self._jobs})

    def pid_of(self, jobid: int) -> int | None:
        child = self._jobs.get(jobid)
        return self._procs.pid(child) if child else None

    def jobs_of(self, ev: ChildEvent) -> list[int]:
        """The jobs a child's event concerns: those of a host that exited or was stopped
        (forgotten with it)."""
        if ev.kind not in ("exited", "stopped"):
            return sorted(self._hosts.get(ev.id, ()))
        jobs = self._hosts.pop(ev.id, set())
        for jobid in jobs:
            self._jobs.pop(jobid, None)
            self._devices.pop(jobid, None)
        return sorted(jobs)

    async def cancel(self, jobid: int) -> None:
        """Ask the job's host to stop the job. A host that does not answer is hung: its
        pings fail too, and it is killed (its jobs end with the points their devices kept)."""
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
            logger.error("job %d: %s did not take the cancel (%s)", jobid, child, exc)
