"""Reaching an actor served on a Unix socket: ask, tell, subscribe."""

from __future__ import annotations

import itertools
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import SocketStream
from anyio.streams.buffered import BufferedByteReceiveStream

from ._actor import DEFAULT_TIMEOUT, Subscription, _Reply, task_group
from ._codec import (
    CALL,
    CAST,
    DISCONNECTS,
    ERROR,
    EVENT,
    PROTOCOL_VERSION,
    REPLY,
    SUBSCRIBE,
    Codec,
    receive_frame,
    send_frame,
)
from .errors import ActorDeadError, AskTimeout, ProtocolError


class Connection:
    """A client connection; use `async with connect(path, codec) as conn`."""

    def __init__(self, stream: SocketStream, codec: Codec, path: Path) -> None:
        self._stream = stream
        self._codec = codec
        self._path = path
        self._ids = itertools.count(1)
        self._pending: dict[int, _Reply] = {}
        self._subs: dict[int, Subscription] = {}
        self._lock = anyio.Lock()
        self._closed: str | None = None

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

    async def _send(self, kind: str, cid: int, body: Any) -> None:
        if self._closed:
            raise ActorDeadError(self._closed)
        frame = self._codec.encode([PROTOCOL_VERSION, kind, cid, type(body).__name__, body])
        async with self._lock:
            try:
                await send_frame(self._stream, frame)
            except DISCONNECTS:
                raise ActorDeadError(f"connection to {self._path} lost") from None

    async def _read(self) -> None:
        reader = BufferedByteReceiveStream(self._stream)
        try:
            while True:
                _v, kind, cid, _op, body = self._codec.decode(await receive_frame(reader))
                self._deliver(kind, cid, body)
        except (*DISCONNECTS, ProtocolError) as exc:
            self._closed = f"connection to {self._path} lost ({type(exc).__name__})"
        for reply in self._pending.values():
            reply.set(error=ActorDeadError(self._closed))
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
        stream = await anyio.connect_unix(path)
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise ActorDeadError(f"nothing listens at {path} ({exc.strerror})") from None
    conn = Connection(stream, codec, Path(path))
    async with stream, task_group() as tg:
        tg.start_soon(conn._read)
        try:
            yield conn
        finally:
            tg.cancel_scope.cancel()
