"""Errors of the actor runtime. Each travels over the wire as (type, message, details)."""

from __future__ import annotations

import errno
from typing import Any


class ActorError(Exception):
    """Base of every error the runtime raises or carries back from a handler."""

    code = "actor_error"

    def __init__(self, message: str = "", details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def __str__(self) -> str:
        return self.message


class ProtocolError(ActorError):
    """Raised when a frame is oversized, not msgpack, or not a known message."""

    code = "protocol"


class ActorDeadError(ActorError):
    """Raised when the actor (or its connection) is gone before it replied."""

    code = "actor_dead"


class NoDescriptorsError(ActorDeadError):
    """Raised when this process cannot open a connection: it is out of file descriptors
    (its fault, not the peer's)."""

    code = "no_descriptors"


OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
"""What an OSError says when the process (or the system) has no descriptor or buffer left."""


class AskTimeout(ActorError):
    """Raised when an ask got no reply within its deadline."""

    code = "timeout"


class HandlerError(ActorError):
    """Raised at the caller for a handler error whose type the caller's codec does not know."""

    code = "handler"


class ChildStartError(ActorError):
    """Raised when a child process exits or stays silent before it says it is ready."""

    code = "child_start"
