"""Frames over a non-blocking Unix socket, with as few trips through the event loop as can be.

A frame is a 4-byte big-endian length, then that many bytes. `FrameSocket` takes whatever
the kernel has in one read (`fill`, called when the event loop says the socket is
readable) and cuts whole frames out of it (`cut`); it writes a frame straight into the
kernel's buffer when there is room (nearly always): an ask costs the client two passes of
the event loop (send, then wake on the reply) where a stream with per-call checkpoints,
locks and exact reads took six. Only a write that does not fit waits, in `flush`.
"""

from __future__ import annotations

import errno
import os
import socket
import threading
from pathlib import Path

import anyio

from ._frame import HEADER, MAX_FRAME
from .errors import ProtocolError

_CHUNK = 256 * 1024
_LOCAL = threading.local()
"""Its `scratch`: where the kernel's bytes land first, copied out at once, one buffer per
thread (clients in several threads read at once): recv(N) would allocate N bytes at every
call."""


def _scratch() -> memoryview:
    try:
        return _LOCAL.scratch  # type: ignore[no-any-return]
    except AttributeError:
        _LOCAL.scratch = memoryview(bytearray(_CHUNK))
        return _LOCAL.scratch  # type: ignore[no-any-return]

# What a peer going away looks like.
DISCONNECTS = (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError,
               anyio.ClosedResourceError, ConnectionError)


class FrameSocket:
    """One connected socket: `fill` then `cut` frames; `send_nowait`, `send` or `flush`."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.sock = sock
        self._in = bytearray()
        self._pos = 0
        self._out = bytearray()
        self._flushing = anyio.Lock()
        self.closed = False

    def fill(self) -> bool:
        """Take what the kernel has (one read, without waiting); False if it had nothing.
        Raises EndOfStream or IncompleteRead when the peer closed the connection."""
        try:
            scratch = _scratch()
            size = self.sock.recv_into(scratch)
        except BlockingIOError:
            return False
        except OSError as exc:
            raise anyio.BrokenResourceError(str(exc)) from None
        if not size:
            raise anyio.IncompleteRead if len(self._in) > self._pos else anyio.EndOfStream
        if self._pos:
            del self._in[:self._pos]
            self._pos = 0
        self._in += scratch[:size]
        return True

    def cut(self) -> bytes | None:
        """The next whole frame already read, if there is one."""
        start = self._pos + HEADER.size
        if len(self._in) < start:
            return None
        (size,) = HEADER.unpack_from(self._in, self._pos)
        if size > MAX_FRAME:
            raise ProtocolError(f"frame of {size} bytes exceeds {MAX_FRAME}")
        if len(self._in) < start + size:
            return None
        self._pos = start + size
        return bytes(self._in[start:self._pos])

    def send_nowait(self, data: bytes) -> bool:
        """Write `data` now, as far as the kernel takes it; the rest waits for `flush`
        (in order). True when all of it is written. Raises BrokenResourceError."""
        if self.closed:
            raise anyio.ClosedResourceError
        if not self._out:
            try:
                sent = self.sock.send(data)
            except BlockingIOError:
                sent = 0
            except OSError as exc:
                raise anyio.BrokenResourceError(str(exc)) from None
            if sent == len(data):
                return True
            data = data[sent:]
        self._out += data
        return False

    async def flush(self) -> None:
        """Write everything `send_nowait` left over, waiting for room as needed."""
        async with self._flushing:
            while self._out:
                await anyio.wait_writable(self.sock)
                try:
                    sent = self.sock.send(self._out)
                except BlockingIOError:
                    continue
                except OSError as exc:
                    raise anyio.BrokenResourceError(str(exc)) from None
                del self._out[:sent]

    @property
    def unsent(self) -> int:
        """Bytes written but not yet taken by the kernel (the peer is not reading)."""
        return len(self._out)

    async def send(self, data: bytes) -> None:
        if not self.send_nowait(data):
            await self.flush()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.sock.close()


async def connect_unix(path: Path, timeout: float = 5.0) -> FrameSocket:
    """Connect to the Unix socket at `path`; raises OSError (e.g. FileNotFoundError,
    ConnectionRefusedError) when nothing listens there."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        with anyio.fail_after(timeout):
            while True:
                try:
                    sock.connect(os.fspath(path))
                    break
                except BlockingIOError:  # the listener's backlog is full: try again
                    await anyio.sleep(0.001)
    except TimeoutError:
        sock.close()
        raise OSError(errno.EAGAIN, f"{path} accepts no connection") from None
    except BaseException:
        sock.close()
        raise
    return FrameSocket(sock)


def listen_unix(path: Path, mode: int = 0o600) -> socket.socket:
    """A listening, non-blocking socket at `path` with file mode `mode`."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(os.fspath(path))
        os.chmod(path, mode)
        sock.listen(socket.SOMAXCONN)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def accept(listener: socket.socket) -> FrameSocket:
    """The next connection to `listener`."""
    while True:
        try:
            sock, _ = listener.accept()
        except BlockingIOError:
            await anyio.wait_readable(listener)
            continue
        return FrameSocket(sock)
