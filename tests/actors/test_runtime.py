"""The actor runtime on real Unix sockets: asks, tells, events, bad frames, peer credentials."""

from __future__ import annotations

import os
import socket
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest

from tomato import actors

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


@dataclass(frozen=True, slots=True)
class Add:
    a: int
    b: int


@dataclass(frozen=True, slots=True)
class Boom:
    kind: str


@dataclass(frozen=True, slots=True)
class WhoAmI:
    pass


@dataclass(frozen=True, slots=True)
class Slow:
    seconds: float


@dataclass(frozen=True, slots=True)
class Big:
    size: int


class Refused(actors.ActorError):
    """Raised by the test actor when asked to."""


class Calc(actors.Actor):
    async def handle(self, msg, ctx):
        match msg:
            case Add(a, b):
                self.events.publish(Add(a, b), topic=a)
                return a + b
            case Boom("refused"):
                raise Refused("no, thank you", {"why": "test"})
            case Boom(kind):
                raise ValueError(kind)
            case WhoAmI():
                return [ctx.uid, ctx.pid]
            case Slow(seconds):
                await anyio.sleep(seconds)
                return "done"
            case Big(size):
                return b"x" * size


CODEC = actors.Codec([Add, Boom, WhoAmI, Slow, Big], [Refused])


@pytest.fixture
async def served():
    with tempfile.TemporaryDirectory(prefix="at-") as tmp:
        path = Path(tmp) / "sub" / "calc.sock"
        async with actors.start_actor(Calc()) as ref, anyio.create_task_group() as tg:
            await tg.start(actors.serve_actor, ref, path, CODEC)
            yield path
            tg.cancel_scope.cancel()


async def test_ask_returns_the_reply_and_errors_come_back_typed(served):
    async with actors.connect(served, CODEC) as conn:
        assert await conn.ask(Add(2, 3)) == 5
        with pytest.raises(Refused) as info:
            await conn.ask(Boom("refused"))
        assert info.value.message == "no, thank you" and info.value.details == {"why": "test"}
        with pytest.raises(actors.HandlerError, match="kaput"):
            await conn.ask(Boom("kaput"))
        assert await conn.ask(Add(1, 1)) == 2  # the actor survived errors of asks


async def test_peer_credentials_are_those_of_the_caller(served):
    async with actors.connect(served, CODEC) as conn:
        assert await conn.ask(WhoAmI()) == [os.getuid(), os.getpid()]


async def test_the_socket_and_its_folder_are_private(served):
    assert served.stat().st_mode & 0o777 == 0o600
    assert served.parent.stat().st_mode & 0o777 == 0o700


async def test_an_ask_without_reply_in_time_raises_ask_timeout(served):
    async with actors.connect(served, CODEC) as conn:
        with pytest.raises(actors.AskTimeout):
            await conn.ask(Slow(0.5), timeout=0.1)


async def test_calls_on_one_connection_are_answered_concurrently_in_order(served):
    async with actors.connect(served, CODEC) as conn:
        results = {}

        async def one(i):
            results[i] = await conn.ask(Add(i, i))

        async with anyio.create_task_group() as tg:
            for i in range(50):
                tg.start_soon(one, i)
        assert results == {i: 2 * i for i in range(50)}


async def test_a_tell_that_fails_crashes_the_actor_and_later_asks_fail_fast():
    with pytest.raises(ExceptionGroup) as info:
        async with actors.start_actor(Calc()) as ref:
            await ref.tell(Boom("in a tell"))
            with pytest.raises(actors.ActorDeadError):
                with anyio.fail_after(5):
                    while True:
                        await ref.ask(Add(1, 1), timeout=1)
                        await anyio.sleep(0.01)
    assert info.group_contains(ValueError, match="in a tell")


class Forgiving(Calc):
    """Goes on after a failed tell, keeping what failed."""

    def __init__(self):
        self.failures = []

    async def on_failure(self, msg, exc):
        self.failures.append((msg, exc))


async def test_an_actor_knows_its_ref_and_with_on_failure_outlives_a_tell_that_fails():
    actor = Forgiving()
    async with actors.start_actor(actor) as ref:
        assert actor.ref is ref
        await ref.tell(Boom("in a tell"))
        assert await ref.ask(Add(1, 1)) == 2  # handled after the tell: the actor went on
    [(msg, exc)] = actor.failures
    assert msg == Boom("in a tell") and isinstance(exc, ValueError)


async def test_subscribers_get_events_and_a_slow_one_is_told_what_it_missed(served):
    async with actors.connect(served, CODEC) as conn:
        async with conn.subscribe() as events, conn.subscribe(buffer=2) as slow:
            for i in range(5):
                await conn.ask(Add(i, 0))
            got = [await events.__anext__() for _ in range(5)]
            assert got == [Add(i, 0) for i in range(5)]
            first = [await slow.__anext__() for _ in range(3)]
            assert first == [Add(0, 0), Add(1, 0), actors.EventsMissed(3)]


async def test_a_full_mailbox_holds_the_client_back_and_loses_nothing():
    with tempfile.TemporaryDirectory(prefix="at-") as tmp:
        path = Path(tmp) / "calc.sock"
        async with actors.start_actor(Calc(), mailbox_size=2) as ref, \
                anyio.create_task_group() as tg:
            await tg.start(actors.serve_actor, ref, path, CODEC)
            async with actors.connect(path, CODEC) as conn, conn.subscribe() as events:
                results: dict[int, int] = {}

                async def ask(i: int) -> None:
                    await conn.ask(Slow(0.001))
                    results[i] = await conn.ask(Add(i, 1))

                async with anyio.create_task_group() as askers:
                    for i in range(50):
                        askers.start_soon(ask, i)
                    for i in range(50):
                        await conn.tell(Add(1000 + i, 0))
                assert results == {i: i + 1 for i in range(50)}
                told = []
                with anyio.fail_after(10):
                    async for event in events:
                        if event.a >= 1000:
                            told.append(event.a)
                            if len(told) == 50:
                                break
                assert told == list(range(1000, 1050))  # casts keep their order
            tg.cancel_scope.cancel()


async def test_a_subscription_to_a_topic_gets_that_topic_only(served):
    async with actors.connect(served, CODEC) as conn:
        async with conn.subscribe("none") as nothing, conn.subscribe(1) as ones, \
                conn.subscribe() as everything:
            for a in (0, 1, 2, 1):
                await conn.ask(Add(a, 5))
            assert [await ones.__anext__() for _ in range(2)] == [Add(1, 5), Add(1, 5)]
            assert [await everything.__anext__() for _ in range(4)] == [
                Add(0, 5), Add(1, 5), Add(2, 5), Add(1, 5)]
            with anyio.move_on_after(0.2) as scope:  # nothing more is on its way
                await nothing.__anext__()
            assert scope.cancelled_caught


@pytest.mark.parametrize("junk", [
    b"\x00\x00\x00\x05hello",                      # not msgpack
    struct.pack(">I", actors.MAX_FRAME + 1),       # oversized
    struct.pack(">I", 3) + b"\x93\x01\x02",        # msgpack, not an envelope
    struct.pack(">I", 2) + b"\xc7\x00",            # truncated extension
])
async def test_bad_frames_close_that_connection_only(served, junk):
    async with actors.connect(served, CODEC) as good:
        raw = socket.socket(socket.AF_UNIX)
        raw.settimeout(5)
        raw.connect(str(served))
        raw.sendall(junk)
        try:
            data = await anyio.to_thread.run_sync(raw.recv, 100)
        except ConnectionResetError:
            data = b""
        raw.close()
        assert data == b""
        assert await good.ask(Add(1, 2)) == 3


async def test_unknown_message_types_are_refused_by_the_codec():
    with pytest.raises(TypeError):
        actors.Codec().encode(Add(1, 2))
    data = CODEC.encode(Add(1, 2))
    with pytest.raises(actors.ProtocolError, match="unknown message type 'Add'"):
        actors.Codec().decode(data)


async def test_user_data_with_any_keys_round_trips():
    value = {"__t": "Add", "a": [1, 2.5, "x", None, True], "b": {"c": b"bytes"}}
    assert CODEC.decode(CODEC.encode(value)) == value


async def test_connecting_where_nothing_listens_raises_actor_dead():
    with pytest.raises(actors.ActorDeadError, match="nothing listens"):
        async with actors.connect(Path("/nonexistent/x.sock"), CODEC):
            pass


async def test_a_client_that_never_reads_its_replies_is_disconnected_not_buffered(served):
    from tomato.actors._frame import frame
    from tomato.actors._server import MAX_UNSENT

    size = 1024 * 1024

    def ask_and_never_read() -> int:  # a blocking peer: in a thread, off the server's loop
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(served))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(10)
            received = 0
            try:
                for cid in range(MAX_UNSENT // size + 8):  # replies that pass the bound
                    s.sendall(frame(CODEC.encode([actors.PROTOCOL_VERSION, "call", cid, "Big",
                                                  Big(size)])))
                while chunk := s.recv(1 << 20):  # what the server had sent, then its close
                    received += len(chunk)
            except (ConnectionResetError, BrokenPipeError):
                pass  # closed by the server (with our asks unread: a reset)
            return received

    assert await anyio.to_thread.run_sync(ask_and_never_read) < MAX_UNSENT
    async with actors.connect(served, CODEC) as conn:  # and serves everyone else
        assert await conn.ask(Add(1, 2)) == 3
