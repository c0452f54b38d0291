"""Actor runtime: ask round trips per second over one Unix socket, and event fan-out,
against a bare asyncio echo over the same kind of socket (the limit)."""

from __future__ import annotations

import asyncio
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import anyio

from tomato import actors

SERVER = '''
import sys, anyio, asyncio, struct
from pathlib import Path
from dataclasses import dataclass
from tomato import actors
sys.path.insert(0, sys.argv[3])
from actors_bench import Echo, Publish, CODEC, EchoActor

async def bare(path):
    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readexactly(4)
                body = await reader.readexactly(struct.unpack(">I", head)[0])
                writer.write(head + body)
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass
    server = await asyncio.start_unix_server(handle, path)
    print("READY", flush=True)
    await server.serve_forever()

async def actor(path):
    async with actors.start_actor(EchoActor()) as ref, anyio.create_task_group() as tg:
        await tg.start(actors.serve_actor, ref, Path(path), CODEC)
        print("READY", flush=True)
        await anyio.sleep_forever()

if sys.argv[1] == "bare":
    asyncio.run(bare(sys.argv[2]))
else:
    anyio.run(actor, sys.argv[2])
'''


@dataclass(frozen=True, slots=True)
class Echo:
    n: int


@dataclass(frozen=True, slots=True)
class Publish:
    count: int


class EchoActor(actors.Actor):
    async def handle(self, msg, ctx):
        match msg:
            case Echo():
                return msg
            case Publish(count):
                for i in range(count):
                    self.events.publish(Echo(i))
                return count


CODEC = actors.Codec([Echo, Publish])


def _server(kind: str, path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", SERVER, kind, str(path),
                             str(Path(__file__).parent)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "READY"
    return proc


async def _bare_rate(path: Path, n: int) -> float:
    reader, writer = await asyncio.open_unix_connection(str(path))
    body = CODEC.encode([1, "call", 1, "Echo", Echo(1)])
    frame = struct.pack(">I", len(body)) + body
    start = time.perf_counter()
    for _ in range(n):
        writer.write(frame)
        await writer.drain()
        head = await reader.readexactly(4)
        await reader.readexactly(struct.unpack(">I", head)[0])
    elapsed = time.perf_counter() - start
    writer.close()
    return n / elapsed


async def _ask_rate(path: Path, n: int, parallel: int) -> float:
    async with actors.connect(path, CODEC) as conn:
        async def worker(count: int) -> None:
            for i in range(count):
                await conn.ask(Echo(i))

        start = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(parallel):
                tg.start_soon(worker, n // parallel)
        return n / (time.perf_counter() - start)


async def _fanout_rate(path: Path, events: int, subscribers: int) -> float:
    async with anyio.create_task_group() as tg, actors.connect(path, CODEC) as conn:
        done = anyio.Event()
        received = [0]  # delivered, or reported missed
        missed = [0]
        ready = anyio.Event()
        subscribed = [0]

        async def subscriber() -> None:
            async with actors.connect(path, CODEC) as sub_conn, \
                    sub_conn.subscribe(buffer=events + 10) as sub:
                await sub_conn.ask(Echo(0))  # the subscription is in place
                subscribed[0] += 1
                if subscribed[0] == subscribers:
                    ready.set()
                async for event in sub:
                    if isinstance(event, actors.EventsMissed):
                        missed[0] += event.count
                        received[0] += event.count
                    else:
                        received[0] += 1
                    if received[0] == events * subscribers:
                        done.set()

        for _ in range(subscribers):
            tg.start_soon(subscriber)
        await ready.wait()
        start = time.perf_counter()
        chunk = min(events, 500)
        for _ in range(events // chunk):
            await conn.ask(Publish(chunk))
        with anyio.fail_after(120):
            await done.wait()
        elapsed = time.perf_counter() - start
        tg.cancel_scope.cancel()
    if missed[0]:
        print(f"  (fan-out: {missed[0]} of {events * subscribers} deliveries missed by slow "
              "subscribers)", flush=True)
    return (events * subscribers - missed[0]) / elapsed


def main(quick: bool = False) -> dict[str, float]:
    n = 500 if quick else 20000
    with tempfile.TemporaryDirectory(prefix="ab-") as tmp:
        bare_path, actor_path = Path(tmp) / "bare.sock", Path(tmp) / "actor.sock"
        bare, actor = _server("bare", bare_path), _server("actor", actor_path)
        try:
            figures = {
                "bare asyncio echo round trips (the limit)": asyncio.run(_bare_rate(bare_path,
                                                                                    n)),
                "actor ask round trips, one at a time": anyio.run(_ask_rate, actor_path, n, 1),
                "actor asks, 50 in flight on one connection": anyio.run(_ask_rate, actor_path,
                                                                        n, 50),
                "event fan-out to 20 subscribers (deliveries)": anyio.run(
                    _fanout_rate, actor_path, n // 10, 20),
            }
        finally:
            bare.kill()
            actor.kill()
            bare.wait()
            actor.wait()
    for name, rate in figures.items():
        print(f"{name}: {rate:,.0f} /s", flush=True)
    return figures


if __name__ == "__main__":
    main()
