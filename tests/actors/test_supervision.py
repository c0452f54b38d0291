"""Child processes under supervision: ready handshake, restarts with a budget, liveness."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import anyio
import pytest

from tomato import actors

pytestmark = pytest.mark.anyio
CHILD = str(Path(__file__).with_name("echo_child.py"))


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def sock():
    with tempfile.TemporaryDirectory(prefix="as-") as tmp:
        yield Path(tmp) / "child.sock"


def spec(mode, sock, **kw):
    return actors.ChildSpec(id=f"child-{mode}", argv=(sys.executable, CHILD, mode, str(sock)),
                            socket=sock, **kw)


class Recorder:
    def __init__(self):
        self.events: list[actors.ChildEvent] = []
        self.changed = anyio.Event()

    async def __call__(self, ev):
        self.events.append(ev)
        self.changed.set()
        self.changed = anyio.Event()

    async def wait_for(self, kind, timeout=20):
        with anyio.fail_after(timeout):
            while not any(e.kind == kind for e in self.events):
                await self.changed.wait()

    def kinds(self):
        return [e.kind for e in self.events]


async def test_a_child_serves_once_started_and_stops_on_request(sock):
    rec = Recorder()
    async with anyio.create_task_group() as tg:
        procs = actors.ProcessSupervisor(tg, actors.Codec(), rec)
        pid = await procs.start(spec("serve", sock))
        async with actors.connect(sock, actors.Codec()) as conn:
            assert (await conn.ask(actors.Ping())).pid == pid
        await procs.stop("child-serve")
        assert rec.kinds() == ["started", "exited", "stopped"]
        tg.cancel_scope.cancel()


async def test_a_child_still_starting_when_all_stop_is_not_left_behind(sock):
    outcome = []
    ended = anyio.Event()

    async def start() -> None:
        try:
            await procs.start(spec("slow", sock))
        except actors.ChildStartError as exc:
            outcome.append(exc)
        finally:
            ended.set()

    pidfile = Path(f"{sock}.pid")
    async with anyio.create_task_group() as tg:
        procs = actors.ProcessSupervisor(tg, actors.Codec(), Recorder())
        tg.start_soon(start)
        with anyio.fail_after(10):  # the child runs, not ready yet (another process: polled)
            while not os.path.exists(pidfile):  # noqa: ASYNC110, ASYNC240
                await anyio.sleep(0.01)
        await procs.stop_all()
        with anyio.fail_after(10):
            await ended.wait()
        tg.cancel_scope.cancel()
    assert outcome and "stopping" in str(outcome[0])
    with pytest.raises(ProcessLookupError):
        os.kill(int(pidfile.read_text()), 0)  # noqa: ASYNC240 - a few bytes


async def test_a_crashing_child_is_restarted_until_its_budget_is_spent(sock):
    rec = Recorder()
    async with anyio.create_task_group() as tg:
        procs = actors.ProcessSupervisor(tg, actors.Codec(), rec)
        await procs.start(spec("exit", sock, intensity=2, period=60, backoff=0.01))
        await rec.wait_for("failed")
        assert rec.kinds() == ["started", "exited", "restarting", "started", "exited",
                               "restarting", "started", "exited", "failed"]
        failed = rec.events[-1]
        assert failed.returncode == 3 and "restart budget (2) spent" in failed.reason
        tg.cancel_scope.cancel()


async def test_a_temporary_child_is_not_restarted(sock):
    rec = Recorder()
    async with anyio.create_task_group() as tg:
        procs = actors.ProcessSupervisor(tg, actors.Codec(), rec)
        await procs.start(spec("exit", sock, restart="temporary"))
        await rec.wait_for("exited")
        await anyio.sleep(0.3)
        assert rec.kinds() == ["started", "exited"]
        tg.cancel_scope.cancel()


async def test_a_hung_child_is_killed_by_the_liveness_check_and_restarted(sock):
    rec = Recorder()
    async with anyio.create_task_group() as tg:
        procs = actors.ProcessSupervisor(tg, actors.Codec(), rec)
        first = await procs.start(spec("hang", sock, ping_interval=0.2, ping_timeout=0.5,
                                       backoff=0.01))
        await rec.wait_for("restarting")
        exited = next(e for e in rec.events if e.kind == "exited")
        assert exited.pid == first and exited.returncode == -9
        assert exited.reason == "did not answer a ping within 0.5 s, 2 times in a row"
        await procs.stop("child-hang")
        tg.cancel_scope.cancel()


async def test_a_child_that_never_says_ready_fails_to_start(sock):
    async with anyio.create_task_group() as tg:
        procs = actors.ProcessSupervisor(tg, actors.Codec(), Recorder())
        with pytest.raises(actors.ChildStartError, match=r"not ready within 0\.5 s"):
            await procs.start(spec("silent", sock, start_timeout=0.5))
        tg.cancel_scope.cancel()
