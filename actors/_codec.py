"""msgpack codec for typed messages (the frames that carry them are in `_wire`)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable
from typing import Any

import msgpack

from ._fieldcheck import apply, field_checks
from .errors import (
    ActorDeadError,
    ActorError,
    AskTimeout,
    ChildStartError,
    HandlerError,
    NoDescriptorsError,
    ProtocolError,
)
from .messages import CONTROL_TYPES, Message

PROTOCOL_VERSION = 1
_EXT_MESSAGE = 1
_RUNTIME_ERRORS: tuple[type[ActorError], ...] = (
    ActorError, ProtocolError, ActorDeadError, AskTimeout, HandlerError, ChildStartError,
    NoDescriptorsError)

# Envelope kinds (DESIGN §3).
CALL, CAST, REPLY, ERROR, EVENT, SUBSCRIBE = "call", "cast", "reply", "error", "event", "sub"
UNSUBSCRIBE = "unsub"
"""Ends the subscription made under the same id (a connection shared by many users)."""


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
        self._local = threading.local()
        self._checks: dict[type, Any] = {}
        """Each message type's field checks, made at its first decode."""

    def encode(self, obj: Any) -> bytes:
        """`obj` as msgpack, its messages as extension types. The packers are kept (one per
        nesting level of messages, per thread): packb makes a new one at each call, which
        cost five times the packing of a small message."""
        local = self._local
        depth = getattr(local, "depth", 0)
        packers: list[msgpack.Packer] = local.__dict__.setdefault("packers", [])
        if depth == len(packers):
            packers.append(msgpack.Packer(default=self._default, use_bin_type=True))
        local.depth = depth + 1
        try:
            return packers[depth].pack(obj)
        finally:
            local.depth = depth

    def decode(self, data: bytes) -> Any:
        try:
            return msgpack.unpackb(data, ext_hook=self._ext_hook, raw=False,
                                   strict_map_key=False)
        except ProtocolError:
            raise
        except Exception as exc:
            raise ProtocolError(f"malformed message: {exc}") from None

    def _default(self, obj: Any) -> Any:
        if isinstance(obj, Message):  # the common case, without dataclasses.fields()
            if type(obj).__name__ not in self._types:
                raise TypeError(f"{type(obj).__name__} is not a registered message type")
            body = {name: getattr(obj, name) for name, _, _ in obj._spec}
            return msgpack.ExtType(_EXT_MESSAGE, self.encode([type(obj).__name__, body]))
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
        checks = self._checks.get(cls)
        if checks is None:
            checks = self._checks[cls] = field_checks(cls)
        try:
            if not isinstance(body, dict):
                raise TypeError("its fields must come as a map")
            return cls(**apply(cls, checks, body))
        except TypeError as exc:
            raise ProtocolError(f"bad fields for {name}: {exc}") from None

    def error_body(self, exc: BaseException) -> dict[str, Any]:
        details = exc.details if isinstance(exc, ActorError) else {}
        message = exc.message if isinstance(exc, ActorError) else str(exc)
        return {"type": type(exc).__name__, "message": message, "details": details}

    def rebuild_error(self, body: dict[str, Any]) -> ActorError:
        cls = self._errors.get(body.get("type", ""), HandlerError)
        return cls(body.get("message", ""), body.get("details") or {})
