"""Serving an actor on a Unix socket: one task per connection, calls answered concurrently."""

from __future__ import annotations

import logging
import os
import socket
import struct
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import SocketAttribute, SocketStream, TaskStatus
from anyio.streams.buffered import BufferedByteReceiveStream

from ._actor import ActorRef, Context, Subscription
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
from .errors import ActorError, ProtocolError
from .messages import Ping, Pong

logger = logging.getLogger(__name__)

_CREDS = struct.Struct("3i")


def peer_context(stream: SocketStream) -> Context:
    """The connected peer's uid and pid, read from the kernel (SO_PEERCRED)."""
    sock: socket.socket = stream.extra(SocketAttribute.raw_socket)
    pid, uid, _gid = _CREDS.unpack(
        sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDS.size))
    return Context(uid=uid, pid=pid)


def prepare_socket_path(path: Path) -> None:
    """Make the socket's directory private (0700) and remove a stale socket file."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.is_socket():
        path.unlink()


async def serve_actor(ref: ActorRef, path: Path, codec: Codec, *,
                      task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
    """Serve `ref` at `path` (mode 0600) until cancelled; started once it listens."""
    prepare_socket_path(path)
    listener = await anyio.create_unix_listener(path, mode=0o600)
    try:
        async with listener, anyio.create_task_group() as tg:
            task_status.started()
            while True:
                stream = await listener.accept()
                tg.start_soon(_Connection(stream, ref, codec).run)
    finally:
        path.unlink(missing_ok=True)  # noqa: ASYNC240 - once, at shutdown


class _Connection:
    """One client: frames in, replies and events out under one send lock."""

    def __init__(self, stream: SocketStream, ref: ActorRef, codec: Codec) -> None:
        self._stream = stream
        self._ref = ref
        self._codec = codec
        self._lock = anyio.Lock()
        self._ctx = peer_context(stream)

    async def run(self) -> None:
        reader = BufferedByteReceiveStream(self._stream)
        async with self._stream, anyio.create_task_group() as tg:
            try:
                while True:
                    envelope = self._codec.decode(await receive_frame(reader))
                    await self._dispatch(tg, *self._open(envelope))
            except DISCONNECTS:
                pass
            except ActorError as exc:
                logger.warning("closing connection from pid %s: %s", self._ctx.pid, exc)
            tg.cancel_scope.cancel()

    @staticmethod
    def _open(envelope: Any) -> tuple[str, int, Any]:
        if not (isinstance(envelope, list) and len(envelope) == 5):
            raise ProtocolError("a frame must hold [version, kind, id, op, body]")
        version, kind, cid, _op, body = envelope
        if version != PROTOCOL_VERSION:
            raise ProtocolError(f"protocol version {version!r}, expected {PROTOCOL_VERSION}")
        if not isinstance(cid, int):
            raise ProtocolError("correlation id must be an integer")
        return kind, cid, body

    async def _dispatch(self, tg: anyio.abc.TaskGroup, kind: str, cid: int, body: Any) -> None:
        if kind == CALL and isinstance(body, Ping):
            await self._send(REPLY, cid, Pong(os.getpid()))
        elif kind == CALL:
            tg.start_soon(self._answer, cid, body)
        elif kind == CAST:
            await self._ref.tell(body, self._ctx)
        elif kind == SUBSCRIBE:
            tg.start_soon(self._forward, cid, self._ref.actor.events.subscribe(body or None))
        else:
            raise ProtocolError(f"unknown message kind {kind!r}")

    async def _answer(self, cid: int, body: Any) -> None:
        try:
            result = await self._ref.ask(body, self._ctx, timeout=None)
        except Exception as exc:
            await self._send(ERROR, cid, self._codec.error_body(exc))
        else:
            await self._send(REPLY, cid, result)

    async def _forward(self, cid: int, sub: Subscription) -> None:
        try:
            async for event in sub:
                await self._send(EVENT, cid, event)
        finally:
            sub.close()

    async def _send(self, kind: str, cid: int, body: Any) -> None:
        try:
            frame = self._codec.encode([PROTOCOL_VERSION, kind, cid, type(body).__name__, body])
        except TypeError as exc:
            frame = self._codec.encode([PROTOCOL_VERSION, ERROR, cid, "ProtocolError", {
                "type": "ProtocolError", "message": f"reply not encodable: {exc}",
                "details": {}}])
        async with self._lock:
            try:
                await send_frame(self._stream, frame)
            except DISCONNECTS:
                pass  # the reader sees the disconnect and closes the connection
