"""One question, asked blocking: what a command-line client that asks once needs, without
loading an event loop (asyncio and anyio cost a short command most of its start)."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

from ._codec import CALL, ERROR, PROTOCOL_VERSION, REPLY, Codec
from ._frame import HEADER, MAX_FRAME, frame
from .errors import OUT_OF_DESCRIPTORS, ActorDeadError, AskTimeout, NoDescriptorsError


def ask_now(path: Path, codec: Codec, msg: Any, timeout: float = 30.0) -> Any:
    """Send `msg` to the actor at `path` and return its reply (or raise its error), as
    `Connection.ask` does, in this thread, blocking up to `timeout`."""
    deadline = time.monotonic() + timeout
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except OSError as exc:
            if exc.errno in OUT_OF_DESCRIPTORS:
                raise NoDescriptorsError(f"cannot connect to {path}: {exc.strerror}") from None
            raise ActorDeadError(f"nothing listens at {path} ({exc.strerror})") from None
        payload = codec.encode([PROTOCOL_VERSION, CALL, 1, type(msg).__name__, msg])
        try:
            sock.sendall(frame(payload))
            while True:
                (size,) = HEADER.unpack(_read(sock, HEADER.size, deadline, path))
                if size > MAX_FRAME:
                    raise ActorDeadError(f"connection to {path} closed: a reply of {size} "
                                         "bytes")
                _v, kind, cid, _op, body = codec.decode(_read(sock, size, deadline, path))
                if cid == 1 and kind == REPLY:
                    return body
                if cid == 1 and kind == ERROR:
                    raise codec.rebuild_error(body)
        except TimeoutError:
            raise AskTimeout(f"{type(msg).__name__} to {path} got no reply in {timeout} s"
                             ) from None
        except (ConnectionError, BrokenPipeError) as exc:
            raise ActorDeadError(f"connection to {path} lost ({type(exc).__name__})") from None
    finally:
        sock.close()


def _read(sock: socket.socket, size: int, deadline: float, path: Path) -> bytes:
    data = bytearray()
    while len(data) < size:
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        chunk = sock.recv(min(size - len(data), 1 << 20))
        if not chunk:
            raise ActorDeadError(f"connection to {path} lost (closed)")
        data += chunk
    return bytes(data)
