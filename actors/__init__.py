"""A small actor runtime: mailboxes, asks with deadlines, events, Unix sockets, supervision.

It knows nothing of the programs built on it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._codec import PROTOCOL_VERSION, Codec
from ._fieldcheck import typed
from .errors import (
    ActorDeadError,
    ActorError,
    AskTimeout,
    ChildStartError,
    HandlerError,
    NoDescriptorsError,
    ProtocolError,
)
from .messages import EventsMissed, Message, Ok, Ping, Pong

if TYPE_CHECKING:  # what the type checker sees; at run time they load on first use
    from ._actor import (
        DEFAULT_TIMEOUT,
        LOCAL,
        Actor,
        ActorRef,
        Context,
        Deferred,
        EventHub,
        Subscription,
        run_actor,
        start_actor,
        task_group,
    )
    from ._child import (
        ORPHAN_GRACE,
        python_argv,
        read_config,
        run_until_signalled,
        signal_failed,
        signal_ready,
        until_released,
    )
    from ._client import Connection, connect
    from ._flag import Flag
    from ._frame import MAX_FRAME
    from ._process import ChildEvent, ChildSpec, ProcessSupervisor
    from ._retry import RETRY_DELAY, retrying
    from ._server import peer_context, prepare_socket_path, serve_actor
    from ._sync import ask_now

_LAZY = {
    "DEFAULT_TIMEOUT": "._actor",
    "LOCAL": "._actor",
    "Actor": "._actor",
    "ActorRef": "._actor",
    "Context": "._actor",
    "Deferred": "._actor",
    "EventHub": "._actor",
    "Subscription": "._actor",
    "run_actor": "._actor",
    "start_actor": "._actor",
    "task_group": "._actor",
    "Connection": "._client",
    "connect": "._client",
    "Flag": "._flag",
    "ask_now": "._sync",
    "MAX_FRAME": "._frame",
    "ChildEvent": "._process",
    "ChildSpec": "._process",
    "ProcessSupervisor": "._process",
    "ORPHAN_GRACE": "._child",
    "python_argv": "._child",
    "read_config": "._child",
    "run_until_signalled": "._child",
    "signal_failed": "._child",
    "signal_ready": "._child",
    "until_released": "._child",
    "RETRY_DELAY": "._retry",
    "retrying": "._retry",
    "peer_context": "._server",
    "prepare_socket_path": "._server",
    "serve_actor": "._server",
}


def __getattr__(name: str) -> Any:
    """The event loop's parts (asyncio, anyio), process supervision and serving load on
    first use: a client that asks once, blocking (`ask_now`), starts without them."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_TIMEOUT",
    "LOCAL",
    "MAX_FRAME",
    "ORPHAN_GRACE",
    "PROTOCOL_VERSION",
    "RETRY_DELAY",
    "Actor",
    "ActorDeadError",
    "ActorError",
    "ActorRef",
    "AskTimeout",
    "ChildEvent",
    "ChildSpec",
    "ChildStartError",
    "Codec",
    "Connection",
    "Context",
    "Deferred",
    "EventHub",
    "EventsMissed",
    "Flag",
    "HandlerError",
    "Message",
    "NoDescriptorsError",
    "Ok",
    "Ping",
    "Pong",
    "ProcessSupervisor",
    "ProtocolError",
    "Subscription",
    "ask_now",
    "connect",
    "peer_context",
    "prepare_socket_path",
    "python_argv",
    "read_config",
    "retrying",
    "run_actor",
    "run_until_signalled",
    "serve_actor",
    "signal_failed",
    "signal_ready",
    "start_actor",
    "task_group",
    "typed",
    "until_released",
]
