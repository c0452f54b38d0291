"""What both command-line tools share: find the service, send one request, map errors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tomato.actors import ActorDeadError, Codec

from ..client_codec import CLIENT_CODEC
from ..errors import NotRunningError, PayloadError, TomatoError
from ..paths import runtime_dir, socket_path

REQUEST_TIMEOUT = 30.0



def service_socket(config_dir: Path) -> Path:
    """The service's socket: its own, or the one `TOMATO_SOCKET` names (a lab's tomato
    shared with a group: `[sharing]` in its settings)."""
    if shared := os.environ.get("TOMATO_SOCKET"):
        return Path(shared)
    return socket_path(runtime_dir(config_dir), "tomato")


async def request(config_dir: Path, msg: Any, timeout: float = REQUEST_TIMEOUT,
                  start: str = "tomato", codec: Codec = CLIENT_CODEC) -> Any:
    """Send `msg` to the service of `config_dir`; return its reply or raise its error
    (`start`: the command that would start that service, for the hint)."""
    from tomato.actors import connect  # the event loop's client: loaded when asked for

    sock = service_socket(config_dir)
    _refuse_undecodable(msg)
    connected = False
    try:
        async with connect(sock, codec) as conn:
            connected = True
            return await conn.ask(msg, timeout=timeout)
    except ActorDeadError as exc:
        raise _unanswered(exc, connected, config_dir, sock, start) from None


def _unanswered(exc: ActorDeadError, connected: bool, config_dir: Path, sock: Path,
                start: str) -> TomatoError:
    """What a client is told when no answer came: tomato is not running (nothing could be
    connected to), or it let go of the connection (stopping, or at its connection limit)."""
    if connected:
        return TomatoError(f"tomato at {sock} closed the connection before it answered "
                           f"({exc}): it is stopping, or holds as many connections as it "
                           "may; try again")
    return NotRunningError(f"tomato is not running for {config_dir} ({exc}); start it with "
                           f"'{start}'")


def _refuse_undecodable(msg: Any) -> None:
    """Raise PayloadError if a text field of `msg` holds bytes that were not UTF-8 on the
    command line (Python keeps them as surrogates: they cannot be sent)."""
    from dataclasses import fields, is_dataclass

    if not is_dataclass(msg):
        return
    for f in fields(msg):
        value = getattr(msg, f.name)
        if isinstance(value, str):
            try:
                value.encode()
            except UnicodeEncodeError:
                shown = value.encode(errors="surrogateescape").decode(errors="backslashreplace")
                raise PayloadError(f"{f.name}: not valid UTF-8: {shown!r}",
                                   {"field": f.name}) from None


def request_now(config_dir: Path, msg: Any, start: str = "tomato",
                timeout: float = REQUEST_TIMEOUT) -> Any:
    """`request`, blocking, without an event loop (a command that asks once)."""
    from tomato.actors import ask_now

    sock = service_socket(config_dir)
    _refuse_undecodable(msg)
    try:
        return ask_now(sock, CLIENT_CODEC, msg, timeout)
    except ActorDeadError as exc:  # ask_now's own words for a connection never made
        connected = not str(exc).startswith(("nothing listens", "cannot connect"))
        raise _unanswered(exc, connected, config_dir, sock, start) from None
