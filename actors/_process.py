"""OTP-style supervision of child processes: child specs as data, restart budgets, back-off."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import anyio
from anyio.abc import Process, TaskGroup
from anyio.streams.buffered import BufferedByteReceiveStream

from ._child import FAILED, MAX_LINE, READY_LINE
from ._client import connect
from ._codec import Codec
from .errors import ActorError, ChildStartError, NoDescriptorsError
from .messages import Ping

logger = logging.getLogger(__name__)

Restart = Literal["permanent", "transient", "temporary"]


@dataclass(frozen=True)
class ChildSpec:
    """How to start, watch and restart one child process (an OTP child spec)."""

    id: str
    argv: tuple[str, ...]
    group: str = ""
    """What kind of child it is, for whoever hears its events (the runtime does not care)."""
    restart: Restart = "permanent"
    intensity: int = 3
    """Restarts allowed within `period` seconds; one more and the child is failed."""
    period: float = 60.0
    backoff: float = 0.2
    """Delay before the first restart, doubled for each one after it (at most 5 s)."""
    start_timeout: float = 15.0
    stop_timeout: float = 5.0
    socket: Path | None = None
    """Where the child serves its actor; used for liveness pings."""
    ping_interval: float | None = None
    ping_timeout: float = 5.0
    ping_misses: int = 2
    """Pings missed in a row before the child is killed as hung (one slow answer, on a
    machine under load, is not a hang)."""
    cwd: Path | None = None
    stdin: bytes = b""
    """What the child reads on its standard input, then end of file: its configuration
    where argv would show it to every user (`ps`), e.g. a driver's password."""


@dataclass(frozen=True, slots=True)
class ChildEvent:
    """What happened to a child: started, exited, restarting, failed or stopped."""

    id: str
    kind: Literal["started", "adopted", "exited", "restarting", "failed", "stopped"]
    group: str = ""
    """The child spec's group."""
    pid: int | None = None
    returncode: int | None = None
    restarts: int = 0
    reason: str = ""


class Adopted:
    """A process started by an earlier supervisor (so not our child): watched through a
    pidfd, which becomes readable when it exits; its exit code is not ours to know (-1)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._fd = os.pidfd_open(pid)
        self._waiting = False
        self._news = anyio.Event()

    async def wait(self) -> int:
        """Wait for the process to exit (any number of tasks may wait)."""
        while self.returncode is None:
            if self._waiting:  # one task watches the pidfd; the others hear from it
                await self._news.wait()
                continue
            self._waiting = True
            try:
                await anyio.wait_readable(self._fd)
                os.close(self._fd)
                self.returncode = -1
            finally:
                self._waiting = False
                self._news.set()
                self._news = anyio.Event()
        return self.returncode

    def terminate(self) -> None:
        with suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)

    def kill(self) -> None:
        with suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)


@dataclass
class _Child:
    spec: ChildSpec
    process: Process | Adopted | None = None
    restarts: int = 0
    stopping: bool = False
    killed: str = ""
    """Why the liveness check killed its process (said in the "exited" event)."""
    failure: str = ""
    """Why it could not start (when it failed to)."""
    history: deque[float] = field(default_factory=deque)
    done: anyio.Event = field(default_factory=anyio.Event)


class ProcessSupervisor:
    """Starts children and keeps them running as their specs say; reports every event.

    `start` returns once the child printed READY (or raises ChildStartError). A child that
    exits is restarted (permanent; transient after a failure) until it needs more than
    `intensity` restarts within `period`; then it is failed and `on_event` hears why.
    """

    def __init__(self, tg: TaskGroup, codec: Codec,
                 on_event: Callable[[ChildEvent], Awaitable[None]]) -> None:
        self._tg = tg
        self._codec = codec
        self._on_event = on_event
        self._children: dict[str, _Child] = {}
        self.stopping = False
        """Set by `stop_all`: no child starts (or restarts) any more."""

    def pids(self) -> list[int]:
        """The pids of the children now running (started or adopted)."""
        return [c.process.pid for c in self._children.values()
                if c.process is not None and c.process.returncode is None]

    def failure(self, child_id: str) -> str:
        """Why the child could not start ("" if it did, or is unknown)."""
        child = self._children.get(child_id)
        return child.failure if child is not None else ""

    def pid(self, child_id: str) -> int | None:
        child = self._children.get(child_id)
        return child.process.pid if child and child.process else None

    async def start(self, spec: ChildSpec) -> int:
        """Spawn `spec`, wait for it to be ready, watch it; returns its pid."""
        if spec.id in self._children:
            raise ActorError(f"child {spec.id!r} is already supervised")
        self._refuse_if_stopping(spec)
        child = _Child(spec)
        process = await self._spawn(spec)
        if self.stopping:  # stop_all ran while it started: it must not outlive us
            with anyio.CancelScope(shield=True):
                await _terminate(process, spec.stop_timeout)
            self._refuse_if_stopping(spec)
        child.process = process
        self._children[spec.id] = child
        self._tg.start_soon(self._watch, child)
        await self._emit(child, "started")
        return child.process.pid

    async def try_start(self, spec: ChildSpec) -> int | None:
        """Start `spec`; if it cannot start, keep it as failed (a `failed` event says why),
        so that `restart` may start it later. Returns its pid, or None."""
        try:
            return await self.start(spec)
        except ChildStartError as exc:
            child = _Child(spec, failure=str(exc))
            child.done.set()
            self._children[spec.id] = child
            await self._emit(child, "failed", reason=str(exc))
            return None

    async def adopt(self, spec: ChildSpec, pid: int) -> None:
        """Supervise `pid`, a process of `spec` that an earlier supervisor started and that
        still serves; once it exits it is restarted (as a child of ours) as `spec` says."""
        if spec.id in self._children:
            raise ActorError(f"child {spec.id!r} is already supervised")
        self._refuse_if_stopping(spec)
        try:
            process = Adopted(pid)
        except ProcessLookupError:
            raise ChildStartError(f"{spec.id}: process {pid} is gone") from None
        child = _Child(spec, process)
        self._children[spec.id] = child
        self._tg.start_soon(self._watch, child)
        await self._emit(child, "adopted")

    async def restart(self, child_id: str, *, running: bool = False) -> int:
        """Start again a child that has failed (its restart budget spent), with a fresh
        budget; returns its pid. `running`: a child that runs is stopped first (a new
        process of the same spec). Raises ActorError if it has not failed (and is not
        `running`); ChildStartError if it fails again: it stays failed (a `failed` event
        says why), to be restarted later."""
        child = self._children.get(child_id)
        if child is None or child.stopping:
            raise ActorError(f"child {child_id!r} is not supervised: nothing to restart")
        if not child.done.is_set():
            if not running:
                raise ActorError(f"child {child_id!r} has not failed: nothing to restart")
            await self.remove(child_id)
        else:
            del self._children[child_id]
        pid = await self.try_start(child.spec)
        if pid is None:
            raise ChildStartError(self._children[child_id].failure)
        return pid

    async def stop(self, child_id: str) -> None:
        """Stop a child for good: SIGTERM, then SIGKILL after its stop timeout."""
        child = self._children.get(child_id)
        if child is None:
            return
        child.stopping = True
        with anyio.CancelScope(shield=True):
            if child.process is not None and child.process.returncode is None:
                await _terminate(child.process, child.spec.stop_timeout)
            with anyio.move_on_after(child.spec.stop_timeout):
                await child.done.wait()

    def release(self, child_ids: list[str]) -> None:
        """Stop supervising these children, and leave them running (to be adopted by a
        successor): `stop_all` passes them by."""
        for child_id in child_ids:
            self._children.pop(child_id, None)

    async def remove(self, child_id: str) -> None:
        """Stop a child for good and forget it (its id may be started again)."""
        await self.stop(child_id)
        self._children.pop(child_id, None)

    async def stop_all(self) -> None:
        """Stop every child, the last started first; children still starting are stopped
        as soon as they are ready, and none starts after this."""
        self.stopping = True
        for child_id in reversed(list(self._children)):
            await self.stop(child_id)

    def _refuse_if_stopping(self, spec: ChildSpec) -> None:
        if self.stopping:
            raise ChildStartError(f"{spec.id}: not started, supervision is stopping")

    async def _spawn(self, spec: ChildSpec) -> Process:
        try:
            process = await anyio.open_process(
                spec.argv, stdin=subprocess.PIPE if spec.stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=None, cwd=spec.cwd, start_new_session=True)
        except OSError as exc:  # out of descriptors or processes: a failed start, said
            raise ChildStartError(f"{spec.id}: could not be started ({exc.strerror})"
                                  ) from None
        assert process.stdout is not None
        if process.stdin is not None:  # a pipe holds 64 KiB: settings fit, it never blocks
            with anyio.move_on_after(spec.start_timeout):
                await process.stdin.send(spec.stdin)
            await process.stdin.aclose()
        reader = BufferedByteReceiveStream(process.stdout)
        try:
            with anyio.fail_after(spec.start_timeout):
                line = await reader.receive_until(b"\n", MAX_LINE)
        except TimeoutError:
            await _terminate(process, spec.stop_timeout)
            raise ChildStartError(f"{spec.id}: not ready within {spec.start_timeout} s") from None
        except (anyio.EndOfStream, anyio.IncompleteRead, anyio.DelimiterNotFound):
            rc = await process.wait()
            raise ChildStartError(f"{spec.id}: exited with code {rc} before it was ready"
                                  ) from None
        except BaseException:  # cancelled while it starts: leave no orphan behind
            with anyio.CancelScope(shield=True):
                await _terminate(process, spec.stop_timeout)
            raise
        finally:
            await process.stdout.aclose()
        if line + b"\n" != READY_LINE:
            await _terminate(process, spec.stop_timeout)
            if line.startswith(FAILED):
                raise ChildStartError(f"{spec.id}: {line[len(FAILED):].decode(errors='replace')}")
            raise ChildStartError(f"{spec.id}: said {line!r} instead of READY")
        return process

    async def _watch(self, child: _Child) -> None:
        while child.process is not None:
            rc = await self._wait_alive(child)
            await self._emit(child, "exited", returncode=rc, reason=child.killed)
            child.killed = ""
            if child.stopping:
                await self._emit(child, "stopped", returncode=rc)
                break
            if not self._restart_wanted(child, rc):
                break
            if (reason := self._budget_spent(child)) is not None:
                await self._emit(child, "failed", returncode=rc, reason=reason)
                break
            child.process = await self._restart(child)
            if child.process is not None:
                await self._emit(child, "started")
        child.done.set()

    async def _wait_alive(self, child: _Child) -> int:
        """Wait for the child to exit, killing it if it stops answering pings."""
        process = child.process
        assert process is not None
        async with anyio.create_task_group() as tg:
            if child.spec.ping_interval and child.spec.socket:
                tg.start_soon(self._ping_loop, child, process)
            rc = await process.wait()
            tg.cancel_scope.cancel()
        return rc

    async def _ping_loop(self, child: _Child, process: Process | Adopted) -> None:
        spec = child.spec
        assert spec.ping_interval is not None and spec.socket is not None
        missed = 0
        while True:
            await anyio.sleep(spec.ping_interval)
            try:
                with anyio.fail_after(spec.ping_timeout):
                    async with connect(spec.socket, self._codec) as conn:
                        await conn.ask(Ping(), timeout=spec.ping_timeout)
                missed = 0
            except NoDescriptorsError as exc:  # ours to lack, not the child's: next time
                logger.warning("%s not pinged: %s", spec.id, exc)
            except (TimeoutError, ActorError) as exc:
                missed += 1
                why = str(exc) or type(exc).__name__
                if missed < spec.ping_misses:
                    logger.warning("%s (pid %s) did not answer a ping (%s); %d more and it "
                                   "is killed", spec.id, process.pid, why,
                                   spec.ping_misses - missed)
                    continue
                logger.error("%s (pid %s) did not answer a ping (%s): killing it",
                             spec.id, process.pid, why)
                child.killed = f"did not answer a ping within {spec.ping_timeout:g} s" + (
                    f", {missed} times in a row" if missed > 1 else "")
                process.kill()
                return

    @staticmethod
    def _restart_wanted(child: _Child, rc: int) -> bool:
        restart = child.spec.restart
        return restart == "permanent" or (restart == "transient" and rc != 0)

    @staticmethod
    def _budget_spent(child: _Child) -> str | None:
        now = time.monotonic()
        child.history.append(now)
        while child.history and now - child.history[0] > child.spec.period:
            child.history.popleft()
        if len(child.history) > child.spec.intensity:
            return (f"exited {len(child.history)} times within {child.spec.period:g} s; "
                    f"restart budget ({child.spec.intensity}) spent")
        return None

    async def _restart(self, child: _Child) -> Process | None:
        """Respawn after back-off; a failed start counts against the budget like an exit."""
        while not (child.stopping or self.stopping):
            child.restarts += 1
            delay = min(child.spec.backoff * 2 ** (len(child.history) - 1), 5.0)
            await self._emit(child, "restarting", reason=f"in {delay:.1f} s")
            await anyio.sleep(delay)
            try:
                return await self._spawn(child.spec)
            except ChildStartError as exc:
                logger.error("restart of %s failed: %s", child.spec.id, exc)
                if (reason := self._budget_spent(child)) is not None:
                    await self._emit(child, "failed", reason=f"{exc}; {reason}")
                    return None
        return None

    async def _emit(self, child: _Child, kind: str, *, returncode: int | None = None,
                    reason: str = "") -> None:
        pid = child.process.pid if child.process is not None else None
        event = ChildEvent(child.spec.id, kind, child.spec.group,  # type: ignore[arg-type]
                           pid, returncode, child.restarts, reason)
        try:
            await self._on_event(event)
        except Exception:  # a failing listener must not stop supervision
            logger.exception("listener failed on %s", event)


async def _terminate(process: Process | Adopted, timeout: float) -> None:
    if process.returncode is not None:
        return
    process.terminate()
    with anyio.move_on_after(timeout):
        await process.wait()
        return
    process.kill()
    await process.wait()
