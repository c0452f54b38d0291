"""The service's side of the output processes: it starts the output servers and asks them
(or a one-off output process) for a job's outputs and snapshots. yadg never loads here."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path

import anyio
from anyio.abc import TaskGroup

from tomato.actors import (
    ActorError,
    ChildSpec,
    Deferred,
    ProcessSupervisor,
    connect,
    python_argv,
)

from ...childconfig import OutputServerConfig
from ...codec import CODEC
from ...errors import ConflictError, OutputError
from ...jobfolder import log_to_job
from ...jobspec import JobSpec, Place
from ...jobstatus import Status
from ...messages import JobInfo, SnapshotTaken
from ...paths import socket_path
from ...processmessages import MakeOutputs, OutputsMade
from ...writable import can_write

logger = logging.getLogger(__name__)

OUTPUT_TIMEOUT = 3600.0
SERVER_WAIT = 120.0
"""How long a request waits for an output server to be up before a one-off process is
started for it (each loads yadg: `python benchmarks/run.py --only outputs` says what that
costs)."""
ONE_OFF_AT_ONCE = 2
"""One-off output processes running at once (each loads yadg); more wait."""


class Outputs:
    """Makes outputs by the `count` output servers (yadg loaded once), each job starting at
    a different one; with none configured (or none up for long), by an output process of
    the request's own."""

    def __init__(self, runtime_dir: Path, count: int, tg: TaskGroup, orphan_grace: float
                 ) -> None:
        self._socks = [socket_path(runtime_dir, f"outputs-{i}") for i in range(count)]
        self._supervisor = socket_path(runtime_dir, "tomato")
        self._grace = orphan_grace
        self._tg = tg
        self._one_off = anyio.CapacityLimiter(ONE_OFF_AT_ONCE)
        self._periodic: dict[int, anyio.CancelScope] = {}
        """Jobs whose snapshots are taken periodically."""

    async def start_server(self, procs: ProcessSupervisor, number: int) -> None:
        """Start output server `number` under `procs` (an error is logged: jobs then use
        one-off output processes)."""
        sock = self._socks[number]
        try:
            config = OutputServerConfig(str(self._supervisor), self._grace)
            await procs.start(ChildSpec(
                id=sock.stem, group="outputs",
                argv=python_argv("tomato.outputs", "--serve", str(sock)),
                stdin=CODEC.encode(config), socket=sock, ping_interval=5.0, start_timeout=60.0))
        except ActorError as exc:
            if not procs.stopping:
                logger.error("output server %d did not start (%s)", number, exc)

    async def make(self, request: MakeOutputs) -> OutputsMade:
        """Write the outputs `request` asks for; returns their paths (and notes) or raises
        OutputError.
        A busy server queues it; while none is up (the service has just started, or one is
        being restarted) it waits for one, up to SERVER_WAIT; only then, or with no servers
        configured, a one-off output process makes them."""
        k = request.spec.jobid % len(self._socks) if self._socks else 0
        with anyio.move_on_after(SERVER_WAIT if self._socks else 0):
            pause = 0.05
            while True:
                for server in (*self._socks[k:], *self._socks[:k]):
                    try:
                        async with connect(server, CODEC) as conn:
                            logger.debug("job %d: outputs asked of %s", request.spec.jobid,
                                         server.stem)
                            made: OutputsMade = await conn.ask(request, timeout=OUTPUT_TIMEOUT)
                        return made
                    except OutputError:
                        raise
                    except ActorError as exc:
                        logger.debug("output server %s unavailable (%s)", server.name, exc)
                await anyio.sleep(pause)
                pause = min(pause * 2, 1.0)
        if self._socks:
            logger.warning("job %d: no output server answered within %g s: a one-off output "
                           "process makes its outputs", request.spec.jobid, SERVER_WAIT)
        else:
            logger.info("job %d: outputs by a one-off output process", request.spec.jobid)
        async with self._one_off:
            result = await anyio.run_process(python_argv("tomato.outputs"),
                                             input=CODEC.encode(request), check=False)
        if result.returncode != 0:
            lines = result.stderr.decode(errors="replace").strip().splitlines() or ["no message"]
            raise OutputError(lines[-1])
        said = json.loads(result.stdout)
        return OutputsMade(tuple(said["files"]), tuple(said["notes"]))

    async def final(self, jobdir: Path, spec: JobSpec, status: str, reason: str | None
                    ) -> tuple[str, str | None, list[str]]:
        """Make a finished job's datagram and archive where its payload says, and note them
        (or why not) in its log; returns its final status (`ce` if they failed), reason and
        files."""
        files: list[str] = []
        try:
            made = await self.make(MakeOutputs(str(jobdir), spec, spec.output, status))
            files = list(made.files)
            note = logging.INFO, f"outputs: {', '.join(files)}"
            if made.notes:
                reason = "; ".join(filter(None, (reason, *made.notes)))
                note = logging.WARNING, f"{note[1]} ({'; '.join(made.notes)})"
        except (OutputError, OSError) as exc:
            problem = str(exc) if isinstance(exc, OutputError) else f"outputs failed: {exc}"
            note = logging.ERROR, f"{problem}; the data stays in {jobdir}"
            status, reason = Status.FAILED, "; ".join(filter(None, (reason, problem)))
        with contextlib.suppress(OSError):  # the log may be on a full disk: the status says it
            log_to_job(jobdir, *note)
        return status, reason, files

    def take_snapshot(self, job: JobInfo, spec: JobSpec, cwd: Path, uid: int) -> Deferred:
        """`ketchup snapshot`: into the caller's folder (written as the caller, `uid`,
        could), beside the supervisor's mailbox."""
        if (why := can_write(cwd, uid)) is not None:
            raise ConflictError(f"snapshot not written to {cwd}: it is written as you could; "
                                f"{why}")
        owner = None if uid == os.getuid() else uid
        if job.jobpath is None:
            raise ConflictError(f"job {job.jobid} has not started ({job.status}): "
                                "there is no data to snapshot yet")
        warning = (f"job {job.jobid} has finished ({job.status}); the snapshot holds all "
                   "its data" if job.completed else None)
        jobdir, place = Path(job.jobpath), Place(str(cwd), f"snapshot.{job.jobid}", owner)

        async def work() -> SnapshotTaken:
            made = await self.make(MakeOutputs(str(jobdir), spec, place, job.status))
            said = "; ".join(filter(None, (warning, *made.notes))) or None
            return SnapshotTaken(made.files, said)

        return Deferred(work)

    async def snapshot(self, jobdir: Path, spec: JobSpec, place: Place, status: str
                       ) -> list[str]:
        """The job's data so far as `<place>.{nc,zip}`, the job `status`; raises
        OutputError."""
        return list((await self.make(MakeOutputs(str(jobdir), spec, place, status))).files)

    def start_snapshots(self, jobdir: Path, spec: JobSpec) -> None:
        """Take the payload's periodic snapshots of a running job, if it asks for them."""
        if spec.snapshots is not None:
            self._periodic[spec.jobid] = scope = anyio.CancelScope()
            self._tg.start_soon(self._snapshot_periodically, jobdir, spec, scope)

    def stop_snapshots(self, jobid: int) -> None:
        """The job's data is collected: no more periodic snapshots."""
        if (scope := self._periodic.pop(jobid, None)) is not None:
            scope.cancel()

    async def _snapshot_periodically(self, jobdir: Path, spec: JobSpec,
                                     scope: anyio.CancelScope) -> None:
        """A failed snapshot is logged in the job log; it never stops the job."""
        with scope:
            while spec.snapshots is not None:
                await anyio.sleep(spec.snapshots.interval)
                try:
                    await self.snapshot(jobdir, spec, spec.snapshots.place, Status.RUNNING)
                except OutputError as exc:
                    logger.error("job %d: periodic snapshot: %s", spec.jobid, exc)
                    with contextlib.suppress(OSError):
                        log_to_job(jobdir, logging.ERROR, f"periodic snapshot: {exc}")
