"""Reaching an actor served on a Unix socket: ask, tell, subscribe.

Replies are read in a callback of the asyncio event loop (`add_reader`), which hands each
straight to the task waiting for it: the runtime is asyncio's, under anyio's structure.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel

from ._actor import DEFAULT_TIMEOUT, Subscription, _Reply
from ._codec import (
    CALL,
    CAST,
    ERROR,
    EVENT,
    PROTOCOL_VERSION,
    REPLY,
    SUBSCRIBE,
    UNSUBSCRIBE,
    Codec,
)
from ._frame import frame
from ._wire import DISCONNECTS, FrameSocket, connect_unix
from .errors import (
    OUT_OF_DESCRIPTORS,
    ActorDeadError,
    AskTimeout,
    NoDescriptorsError,
    ProtocolError,
)


class Connection:
    """A client connection; use `async with connect(path, codec) as conn`."""

    def __init__(self, conn: FrameSocket, codec: Codec, path: Path) -> None:
        self._conn = conn
        self._codec = codec
        self._path = path
        self._ids = itertools.count(1)
        self._pending: dict[int, _Reply] = {}
        self._subs: dict[int, Subscription] = {}
        self._closed: str | None = None

    @property
    def closed(self) -> bool:
        """The connection is lost or closed: asks on it fail."""
        return self._closed is not None

    async def ask(self, msg: Any, timeout: float | None = DEFAULT_TIMEOUT) -> Any:
        """Send `msg`, return the reply or raise the handler's error, within `timeout`."""
        cid = next(self._ids)
        reply = self._pending[cid] = _Reply()
        try:
            with anyio.fail_after(timeout if timeout is not None else math.inf):
                await self._send(CALL, cid, msg)
                return await reply.wait()
        except TimeoutError:
            raise AskTimeout(f"{type(msg).__name__} to {self._path} got no reply "
                             f"in {timeout} s") from None
        finally:
            self._pending.pop(cid, None)

    async def tell(self, msg: Any) -> None:
        await self._send(CAST, next(self._ids), msg)

    @asynccontextmanager
    async def subscribe(self, topic: Any = None, buffer: int = 10_000
                        ) -> AsyncIterator[Subscription]:
        """Yield an async iterator over the actor's events (those published under `topic`
        only, if given: a string or an integer) until the block ends."""
        cid = next(self._ids)
        sub = self._subs[cid] = Subscription(None, buffer)
        try:
            await self._send(SUBSCRIBE, cid, topic)
            yield sub
        finally:
            self._subs.pop(cid, None)
            sub.close()
            self._unsubscribe(cid)

    def _unsubscribe(self, cid: int) -> None:
        """Tell the actor to stop the subscription `cid` (without waiting: this runs as a
        block ends, cancelled or not); the connection may go on serving others."""
        if self._closed:
            return
        with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            self._conn.send_nowait(frame(self._codec.encode(
                [PROTOCOL_VERSION, UNSUBSCRIBE, cid, "None", None])))

    async def _send(self, kind: str, cid: int, body: Any) -> None:
        await anyio.lowlevel.checkpoint_if_cancelled()  # a send that fits does not wait
        if self._closed:
            raise ActorDeadError(self._closed)
        data = frame(self._codec.encode([PROTOCOL_VERSION, kind, cid, type(body).__name__,
                                         body]))
        try:
            await self._conn.send(data)
        except DISCONNECTS:
            raise ActorDeadError(f"connection to {self._path} lost") from None

    def _on_readable(self) -> None:
        """Called by the event loop when the socket has data: replies and events go to
        their waiters straight from here (no reader task to wake in between)."""
        if self._closed:
            return
        try:
            self._conn.fill()
            while (data := self._conn.cut()) is not None:
                _v, kind, cid, _op, body = self._codec.decode(data)
                self._deliver(kind, cid, body)
        except (*DISCONNECTS, ProtocolError) as exc:
            self._lost(f"connection to {self._path} lost ({type(exc).__name__})")
        except Exception as exc:  # a reply we cannot make sense of: that peer is not ours
            self._lost(f"connection to {self._path} closed: bad reply ({exc})")

    def _lost(self, why: str) -> None:
        self._closed = why
        asyncio.get_running_loop().remove_reader(self._conn.sock)
        for reply in self._pending.values():
            reply.set(error=ActorDeadError(why))
        for sub in self._subs.values():
            sub.close()

    def _deliver(self, kind: str, cid: int, body: Any) -> None:
        if kind == EVENT:
            if (sub := self._subs.get(cid)) is not None:
                sub.offer(body)
            return
        reply = self._pending.get(cid)
        if reply is None:
            return  # the asker gave up (timeout) before the reply came
        if kind == REPLY:
            reply.set(body)
        elif kind == ERROR:
            reply.set(error=self._codec.rebuild_error(body))


@asynccontextmanager
async def connect(path: Path, codec: Codec) -> AsyncIterator[Connection]:
    """Connect to the actor at `path`; raises ActorDeadError when nothing listens there."""
    try:
        sock = await connect_unix(path)
    except OSError as exc:
        if exc.errno in OUT_OF_DESCRIPTORS:
            raise NoDescriptorsError(f"cannot connect to {path}: {exc.strerror}") from None
        raise ActorDeadError(f"nothing listens at {path} ({exc.strerror})") from None
    conn = Connection(sock, codec, Path(path))
    asyncio.get_running_loop().add_reader(sock.sock, conn._on_readable)
    try:
        yield conn
    finally:
        if not conn._closed:
            conn._lost("connection closed")
        sock.close()
