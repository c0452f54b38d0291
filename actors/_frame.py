"""How messages are cut on a stream: a 4-byte big-endian length, then the payload. Shared
by the event loop's sockets (`_wire`) and the blocking client (`_sync`)."""

from __future__ import annotations

import struct

from .errors import ProtocolError

MAX_FRAME = 16 * 1024 * 1024
HEADER = struct.Struct(">I")


def frame(payload: bytes) -> bytes:
    """The bytes of one frame: a 4-byte big-endian length, then the payload."""
    if len(payload) > MAX_FRAME:
        raise ProtocolError(f"frame of {len(payload)} bytes exceeds {MAX_FRAME}")
    return HEADER.pack(len(payload)) + payload
