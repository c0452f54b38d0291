"""msgpack codec for typed messages, and the length-prefixed frames that carry them."""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Iterable
from typing import Any

import anyio
import msgpack
from anyio.abc import ByteStream
from anyio.streams.buffered import BufferedByteReceiveStream

from .errors import (
    ActorDeadError,
    ActorError,
    AskTimeout,
    ChildStartError,
    HandlerError,
    ProtocolError,
)
from .messages import CONTROL_TYPES

PROTOCOL_VERSION = 1
MAX_FRAME = 16 * 1024 * 1024
_EXT_MESSAGE = 1
_HEADER = struct.Struct(">I")
_RUNTIME_ERRORS = (ActorError, ProtocolError, ActorDeadError, AskTimeout, HandlerError,
                   ChildStartError)

# What a peer going away looks like on a stream.
DISCONNECTS = (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError,
               anyio.ClosedResourceError, ConnectionError)

# Envelope kinds (DESIGN §3).
CALL, CAST, REPLY, ERROR, EVENT, SUBSCRIBE = "call", "cast", "reply", "error", "event", "sub"


class Codec:
    """Encodes and decodes frozen dataclass messages of the types it was built from.

    A message travels as a msgpack extension holding [type name, field map], so user data
    (which may hold any key) is never mistaken for a message. Unknown types are refused.
    """

    def __init__(self, types: Iterable[type] = (), errors: Iterable[type[ActorError]] = ()):
        self._types: dict[str, type] = {t.__name__: t for t in (*CONTROL_TYPES, *types)}
        self._errors: dict[str, type[ActorError]] = {
            e.__name__: e for e in (*_RUNTIME_ERRORS, *errors)
        }

    def encode(self, obj: Any) -> bytes:
        return msgpack.packb(obj, default=self._default, use_bin_type=True)

    def decode(self, data: bytes) -> Any:
        try:
            return msgpack.unpackb(data, ext_hook=self._ext_hook, raw=False,
                                   strict_map_key=False)
        except ProtocolError:
            raise
        except Exception as exc:
            raise ProtocolError(f"malformed message: {exc}") from None

    def _default(self, obj: Any) -> Any:
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            if type(obj).__name__ not in self._types:
                raise TypeError(f"{type(obj).__name__} is not a registered message type")
            body = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
            return msgpack.ExtType(_EXT_MESSAGE, self.encode([type(obj).__name__, body]))
        if isinstance(obj, (set, frozenset)):
            return sorted(obj)
        raise TypeError(f"cannot encode {type(obj).__name__}")

    def _ext_hook(self, code: int, data: bytes) -> Any:
        if code != _EXT_MESSAGE:
            raise ProtocolError(f"unknown extension type {code}")
        name, body = self.decode(data)
        cls = self._types.get(name)
        if cls is None:
            raise ProtocolError(f"unknown message type {name!r}")
        try:
            return cls(**body)
        except TypeError as exc:
            raise ProtocolError(f"bad fields for {name}: {exc}") from None

    def error_body(self, exc: BaseException) -> dict[str, Any]:
        details = exc.details if isinstance(exc, ActorError) else {}
        message = exc.message if isinstance(exc, ActorError) else str(exc)
        return {"type": type(exc).__name__, "message": message, "details": details}

    def rebuild_error(self, body: dict[str, Any]) -> ActorError:
        cls = self._errors.get(body.get("type", ""), HandlerError)
        return cls(body.get("message", ""), body.get("details") or {})


def frame(payload: bytes) -> bytes:
    """The bytes of one frame: a 4-byte big-endian length, then the payload."""
    if len(payload) > MAX_FRAME:
        raise ProtocolError(f"frame of {len(payload)} bytes exceeds {MAX_FRAME}")
    return _HEADER.pack(len(payload)) + payload


async def send_frame(stream: ByteStream, payload: bytes) -> None:
    await stream.send(frame(payload))


async def receive_frame(stream: BufferedByteReceiveStream) -> bytes:
    """Read one frame; raises ProtocolError on an oversized frame, anyio errors on EOF."""
    (size,) = _HEADER.unpack(await stream.receive_exactly(_HEADER.size))
    if size > MAX_FRAME:
        raise ProtocolError(f"frame of {size} bytes exceeds {MAX_FRAME}")
    return await stream.receive_exactly(size)
