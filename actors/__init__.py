"""A small actor runtime: mailboxes, asks with deadlines, events, Unix sockets, supervision.

It knows nothing of the programs built on it.
"""

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
from ._client import Connection, connect
from ._codec import MAX_FRAME, PROTOCOL_VERSION, Codec
from ._process import (
    ChildEvent,
    ChildSpec,
    ProcessSupervisor,
    python_argv,
    run_until_signalled,
    signal_ready,
)
from ._server import peer_context, prepare_socket_path, serve_actor
from .errors import (
    ActorDeadError,
    ActorError,
    AskTimeout,
    ChildStartError,
    HandlerError,
    ProtocolError,
)
from .messages import EventsMissed, Ok, Ping, Pong

__all__ = [
    "DEFAULT_TIMEOUT",
    "LOCAL",
    "MAX_FRAME",
    "PROTOCOL_VERSION",
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
    "HandlerError",
    "Ok",
    "Ping",
    "Pong",
    "ProcessSupervisor",
    "ProtocolError",
    "Subscription",
    "connect",
    "peer_context",
    "prepare_socket_path",
    "python_argv",
    "run_actor",
    "run_until_signalled",
    "serve_actor",
    "signal_ready",
    "start_actor",
    "task_group",
]
