"""A device process pushes its running channels' points with its ticks: each point once, in
order, kept until a read or an Acknowledge says its reader has it."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from tomato.actors import ORPHAN_GRACE, connect
from tomato.drivers import (
    Acknowledge,
    ChannelsReady,
    DataBatch,
    DeviceConfig,
    ReadData,
    StartTask,
    StopTask,
    Task,
)

from tomato.codec import CODEC

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def device() -> Iterator[Path]:
    """A dummy device with channels 1 and 2, in a process of its own."""
    with tempfile.TemporaryDirectory(prefix="tomato-dev-") as folder:  # short: a socket path
        sock = Path(folder) / "d.sock"
        proc = subprocess.Popen(
            [sys.executable, "-m", "tomato.drivers.device", str(sock)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            assert proc.stdin is not None
            proc.stdin.write(CODEC.encode(DeviceConfig(
                "d", "dummy", ("1", "2"), {}, None, "WARNING", None, ORPHAN_GRACE, None)))
            proc.stdin.close()
            assert proc.stdout is not None
            assert proc.stdout.readline(), "the device did not start"
            yield sock
        finally:
            proc.kill()
            proc.wait(timeout=10)
            assert proc.stdout is not None
            proc.stdout.close()


async def test_points_are_pushed_once_each_and_forgotten_when_acknowledged(device: Path
                                                                            ) -> None:
    task = Task("sequential", 1.0, 0.01)
    pushed: list[DataBatch] = []
    named: list[str] = []
    async with connect(device, CODEC) as conn, conn.subscribe("ready") as events:
        await conn.ask(StartTask("1", task, "a"))
        with anyio.fail_after(10):
            async for event in events:
                assert isinstance(event, ChannelsReady)
                pushed.extend(event.batches)
                named.extend(event.channels)
                if "1" in named:  # the task's end: named, to be read
                    break
        values = [p[1] for b in pushed for p in b.points]
        assert len(pushed) > 3  # over several ticks
        assert {(b.channel, b.task_id, b.state) for b in pushed} == {("1", "a", "running")}
        assert values == [float(k) for k in range(1, len(values) + 1)]  # none twice, in order
        assert [b.first for b in pushed] == [
            sum(len(b.points) for b in pushed[:i]) for i in range(len(pushed))]
        # Kept until acknowledged: a read from the start still has every point …
        whole = await conn.ask(ReadData("1", 0))
        assert whole.state == "done" and whole.first == 0
        assert [p[1] for p in whole.points][:len(values)] == values
        # … and after an Acknowledge only what follows it.
        await conn.tell(Acknowledge((("1", 40),)))
        rest = await conn.ask(ReadData("1", 0))
        assert rest.first == 40
        assert [p[1] for p in rest.points] == [p[1] for p in whole.points][40:]


async def test_a_channel_with_a_notice_or_an_end_is_named_not_pushed(device: Path) -> None:
    """Its reader must read it (the notice, the end and its error go with a read only)."""
    async with connect(device, CODEC) as conn, conn.subscribe("ready") as events:
        await conn.ask(StartTask("2", Task("random", 30.0, 0.05), "b"))
        await conn.ask(StopTask("2"))
        with anyio.fail_after(10):
            async for event in events:
                assert all(b.state == "running" for b in event.batches)
                if "2" in event.channels:
                    break
        batch = await conn.ask(ReadData("2", 0))
        assert batch.state == "stopped"
