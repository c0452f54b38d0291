"""Serving an actor on a Unix socket: one task per connection, calls answered concurrently."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import socket
import struct
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import msgpack
from anyio.abc import TaskStatus

from ._actor import ActorRef, Context, Subscription
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
from ._frame import MAX_FRAME, frame
from ._wire import DISCONNECTS, FrameSocket, accept, listen_unix
from .errors import OUT_OF_DESCRIPTORS, ActorDeadError, ActorError, ProtocolError
from .messages import Ping, Pong

logger = logging.getLogger(__name__)

_CREDS = struct.Struct("3i")
MAX_UNSENT = 2 * MAX_FRAME
"""Replies a client may leave unread before it is disconnected (the service's memory is
not a buffer for a peer that sends but never reads)."""


def peer_context(sock: socket.socket) -> Context:
    """The connected peer's uid and pid, read from the kernel (SO_PEERCRED)."""
    pid, uid, _gid = _CREDS.unpack(
        sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDS.size))
    return Context(uid=uid, pid=pid)


def _is_child(pid: int) -> bool:
    """Whether `pid` is a child of this process (read from /proc; False where there is
    none)."""
    try:
        parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return False
    return parent == os.getpid()


def prepare_socket_path(path: Path) -> None:
    """Make the socket's directory private (0700) and remove a stale socket file."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.is_socket():
        path.unlink()


PER_OTHER_USER = 64
"""Connections one user other than this process's may hold at once (a socket shared with a
group: `[sharing]`)."""
RETRY_ACCEPT = 0.1
WARN_EVERY = 10.0


_HELD: Counter[int] = Counter()
"""Connections held by this process's servers, by the peer's uid (one count for all its
sockets: they share its descriptors)."""


def connection_cap() -> int:
    """Connections a server holds at once: its descriptor limit, less a reserve for its
    own files, sockets and children (beyond it, a connection is accepted and closed)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(16, soft - max(64, soft // 8))


async def serve_actor(ref: ActorRef, path: Path, codec: Codec, *,
                      task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
    """Serve `ref` at `path` (mode 0600) until cancelled; started once it listens.

    Connections are bounded (`connection_cap` in all, PER_OTHER_USER from any other user;
    this process's children are always let in): one beyond is closed at once, and said in
    the log. Out of descriptors, accepting waits a moment and goes on: a flood of
    connections never ends the server."""
    prepare_socket_path(path)
    listener = listen_unix(path)
    ours = os.stat(path).st_ino
    held = _HELD
    cap, me, warned = connection_cap(), os.getuid(), -WARN_EVERY

    def refuse(why: str) -> None:
        nonlocal warned
        if anyio.current_time() - warned >= WARN_EVERY:  # once per burst, not per peer
            warned = anyio.current_time()
            logger.warning("%s: %s (said once per %g s)", path, why, WARN_EVERY)

    async def run(conn: _Connection) -> None:
        try:
            await conn.run()
        finally:
            held[conn.ctx.uid] -= 1

    try:
        async with anyio.create_task_group() as tg:
            task_status.started()
            while True:
                try:
                    sock = await accept(listener)
                except OSError as exc:
                    if exc.errno not in OUT_OF_DESCRIPTORS:
                        raise
                    refuse(f"cannot accept a connection ({exc.strerror}); waiting")
                    await anyio.sleep(RETRY_ACCEPT)
                    continue
                try:
                    ctx = peer_context(sock.sock)
                except OSError:  # gone already
                    sock.close()
                    continue
                over = (sum(held.values()) >= cap or
                        (ctx.uid != me and held[ctx.uid] >= PER_OTHER_USER))
                if over and not _is_child(ctx.pid):
                    sock.close()
                    refuse(f"connection of uid {ctx.uid} (pid {ctx.pid}) refused: "
                           f"{sum(held.values())} held, uid {ctx.uid} holds {held[ctx.uid]} "
                           f"(at most {cap} in all, {PER_OTHER_USER} per other user)")
                    continue
                held[ctx.uid] += 1  # now: a burst is accepted without a pause in between
                tg.start_soon(run, _Connection(sock, ref, codec, ctx))
    finally:
        listener.close()
        with contextlib.suppress(FileNotFoundError):  # unless a successor bound it since
            if os.stat(path).st_ino == ours:
                path.unlink()  # noqa: ASYNC240 - once, at shutdown


class _Connection:
    """One client: frames in; replies (written at once, or flushed when the socket is full)
    and events out."""

    def __init__(self, conn: FrameSocket, ref: ActorRef, codec: Codec, ctx: Context) -> None:
        self._conn = conn
        self._ref = ref
        self._codec = codec
        self.ctx = ctx
        self._tg: anyio.abc.TaskGroup | None = None
        self._flushing = False
        self._reading = False
        self._done = anyio.Event()
        self._subs: dict[int, Subscription] = {}

    async def run(self) -> None:
        """Frames are read and dispatched in an event-loop callback: a call reaches the
        mailbox without waking a reader task first."""
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                self._read(True)
                try:
                    await self._done.wait()
                finally:
                    self._read(False)
                tg.cancel_scope.cancel()
        finally:
            self._conn.close()

    def _read(self, on: bool) -> None:
        if on != self._reading and not self._conn.closed:
            loop = asyncio.get_running_loop()
            if on:
                loop.add_reader(self._conn.sock, self._on_readable)
            else:
                loop.remove_reader(self._conn.sock)
            self._reading = on

    def _on_readable(self) -> None:
        try:
            self._conn.fill()
        except DISCONNECTS:
            self._close()
            return
        self._dispatch_buffered()

    def _dispatch_buffered(self) -> None:
        """Dispatch the frames read so far, until one must wait (a full mailbox)."""
        try:
            while self._reading and (data := self._conn.cut()) is not None:
                try:
                    decoded = self._codec.decode(data)
                except ProtocolError as exc:
                    if (cid := _call_id(data)) is None:
                        raise
                    _ReplyTo(self, cid).set(error=exc)  # a call's message is refused
                    continue
                self._dispatch(*self._open(decoded))
        except ActorError as exc:
            logger.warning("closing connection from pid %s: %s", self.ctx.pid, exc)
            self._close()
        except Exception:
            logger.exception("closing connection from pid %s", self.ctx.pid)
            self._close()

    def _close(self) -> None:
        """Read no more from this client; `run` then ends the connection."""
        self._read(False)
        self._done.set()

    async def _when_room(self, item: tuple[Any, Context, Any]) -> None:
        """The mailbox was full: stop reading this client until it takes `item`."""
        try:
            await self._ref.put(item)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            self._close()
            return
        if not self._done.is_set():
            self._read(True)
            self._dispatch_buffered()

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

    def _dispatch(self, kind: str, cid: int, body: Any) -> None:
        assert self._tg is not None
        if kind == CALL and isinstance(body, Ping):
            _ReplyTo(self, cid).set(Pong(os.getpid()))
        elif kind in (CALL, CAST):
            item = (body, self.ctx, _ReplyTo(self, cid) if kind == CALL else None)
            try:
                if not self._ref.put_nowait(item):
                    self._read(False)
                    self._tg.start_soon(self._when_room, item)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                raise ActorDeadError(f"{type(self._ref.actor).__name__} has stopped") from None
        elif kind == SUBSCRIBE:
            if not (body is None or isinstance(body, (str, int))):
                raise ProtocolError("a subscription's topic must be a string, an integer or nil")
            sub = self._subs[cid] = self._ref.actor.events.subscribe(body)
            self._tg.start_soon(self._forward, cid, sub)
        elif kind == UNSUBSCRIBE:
            if (ended := self._subs.pop(cid, None)) is not None:
                ended.close()
        else:
            raise ProtocolError(f"unknown message kind {kind!r}")

    def encode(self, kind: str, cid: int, body: Any) -> bytes:
        try:
            return frame(self._codec.encode(
                [PROTOCOL_VERSION, kind, cid, type(body).__name__, body]))
        except (TypeError, ProtocolError) as exc:
            return frame(self._codec.encode([PROTOCOL_VERSION, ERROR, cid, "ProtocolError", {
                "type": "ProtocolError", "message": f"reply not encodable: {exc}",
                "details": {}}]))

    def queue(self, data: bytes) -> None:
        """Write a reply now; what the socket cannot take yet is flushed by a task. A client
        that leaves more than MAX_UNSENT bytes of replies unread is disconnected."""
        try:
            if self._conn.send_nowait(data):
                return
        except DISCONNECTS:
            return  # the reader sees the disconnect and closes the connection
        if self._conn.unsent > MAX_UNSENT:
            if not self._done.is_set():
                logger.warning("closing connection from pid %s: it left %d bytes of replies "
                               "unread", self.ctx.pid, self._conn.unsent)
            self._close()
        elif not self._flushing and self._tg is not None:
            self._flushing = True
            self._tg.start_soon(self._flush)

    async def _flush(self) -> None:
        try:
            await self._conn.flush()
        except DISCONNECTS:
            pass
        finally:
            self._flushing = False

    async def _forward(self, cid: int, sub: Subscription) -> None:
        """Events to the subscriber, as fast as it reads them: while it lags, the
        subscription's bounded queue fills and then counts what is missed."""
        try:
            async for event in sub:
                await self._conn.send(self.encode(EVENT, cid, event))
        except DISCONNECTS:
            pass
        finally:
            self._subs.pop(cid, None)
            sub.close()


def _call_id(data: bytes) -> int | None:
    """The id of the call a frame holds, its message left undecoded (None: the frame is
    not a well-formed call): whose message was refused can be told so."""
    try:
        envelope = msgpack.unpackb(data, ext_hook=lambda code, body: None, raw=False,
                                   strict_map_key=False)
    except Exception:
        return None
    if (isinstance(envelope, list) and len(envelope) == 5 and envelope[0] == PROTOCOL_VERSION
            and envelope[1] == CALL and isinstance(envelope[2], int)):
        return envelope[2]
    return None


class _ReplyTo:
    """Where the mailbox puts the answer to a call that came over a connection."""

    __slots__ = ("_cid", "_conn")

    def __init__(self, conn: _Connection, cid: int) -> None:
        self._conn = conn
        self._cid = cid

    def set(self, value: Any = None, error: BaseException | None = None) -> None:
        if error is not None:
            data = self._conn.encode(ERROR, self._cid, self._conn._codec.error_body(error))
        else:
            data = self._conn.encode(REPLY, self._cid, value)
        self._conn.queue(data)
