"""What both command-line tools share: find the service, send one request, map errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from actors import ActorDeadError, connect

from ._codec import CODEC
from ._paths import runtime_dir, socket_path
from .errors import NotRunningError

REQUEST_TIMEOUT = 30.0


def service_socket(config_dir: Path) -> Path:
    return socket_path(runtime_dir(config_dir), "tomato")


async def request(config_dir: Path, msg: Any, timeout: float = REQUEST_TIMEOUT) -> Any:
    """Send `msg` to the service of `config_dir`; return its reply or raise its error."""
    sock = service_socket(config_dir)
    try:
        async with connect(sock, CODEC) as conn:
            return await conn.ask(msg, timeout=timeout)
    except ActorDeadError as exc:
        raise NotRunningError(f"tomato is not running for {config_dir} ({exc}); "
                              f"start it with 'tomato'") from None
