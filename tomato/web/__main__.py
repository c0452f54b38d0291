"""Entry point of the web process: `python -m tomato.web --listen HOST:PORT --service SOCK
…`, started and supervised by the service when `[web] listen` is set. It holds no state the
service does not: its crash or hang touches no job."""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import logging
import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import anyio

from tomato.actors import (
    Actor,
    ActorError,
    Context,
    read_config,
    serve_actor,
    signal_failed,
    signal_ready,
    start_actor,
    task_group,
    until_released,
)

from ..childconfig import WebConfig
from ..codec import CODEC
from ..paths import write_private

logger = logging.getLogger(__name__)
SHUTDOWN = 2
BIND_WAIT = 5.0
SEND_BUFFER = 256 * 1024
"""Seconds open connections (event streams) get to close when the process stops."""


class _Pinged(Actor):
    """The web process's mailbox: the service pings it (a hang is a restart)."""

    async def handle(self, msg: object, ctx: Context) -> object:
        raise ActorError(f"the web process does not understand {type(msg).__name__}")


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT` (`[::1]:PORT` for IPv6) → (host, port); raises ValueError."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host or int(port) > 65535:
        raise ValueError(f"listen {text!r}: HOST:PORT expected (e.g. 127.0.0.1:8742)")
    return host.strip("[]"), int(port)


async def _bind(host: str, port: int) -> socket.socket:
    """The listening socket; a port in use is tried again for BIND_WAIT seconds (the web
    process of a tomato that died may be stopping), then refused, saying so."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with anyio.move_on_after(BIND_WAIT):
        while True:
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            # Connections inherit it: what the kernel holds for a browser that does not
            # read stays small (autotuned, it grows to 4 MiB each), and such a browser is
            # soon behind by a whole queue, and dropped.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
            try:
                sock.bind((host, port))
            except OSError as exc:
                sock.close()
                if exc.errno != errno.EADDRINUSE:
                    raise OSError(f"[web] listen {host}:{port}: {exc.strerror}") from None
                await anyio.sleep(0.2)
                continue
            sock.listen(128)
            return sock
    raise OSError(f"[web] listen {host}:{port}: the address is in use (by another tomato or "
                  "program?); choose another port in settings.toml")


@contextlib.contextmanager
def _address_file(path: Path, data: dict[str, object]) -> Iterator[None]:
    """Where `ketchup web` finds the page and the owner's login token, while it serves."""
    write_private(path, data)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            if json.loads(path.read_text()).get("pid") == os.getpid():
                path.unlink()


async def _serve(socket: Path, config: WebConfig) -> None:
    import uvicorn

    from ..tokens import Tokens
    from .api import Web
    from .events import Fanout
    from .pages import make_app

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield  # SIGTERM is the process's to handle (until_released), not uvicorn's

    try:
        host, port = parse_listen(config.listen)
        sock = await _bind(host, port)
    except (ValueError, OSError) as exc:
        signal_failed(str(exc))
        raise SystemExit(1) from None
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    owner_token = secrets.token_urlsafe(32)
    service = Path(config.service)
    fanout = Fanout(service)
    web = Web(service, Tokens(Path(config.tokens)), owner_token, Path(config.results), fanout)
    server = Server(uvicorn.Config(make_app(web), log_level="warning", access_log=False,
                                   lifespan="off", timeout_graceful_shutdown=SHUTDOWN))
    async with task_group() as tg, start_actor(_Pinged()) as ref:
        tg.start_soon(fanout.run)
        await tg.start(serve_actor, ref, socket, CODEC)
        async with anyio.create_task_group() as http:  # ends once uvicorn has shut down
            http.start_soon(server.serve, [sock])
            with _address_file(Path(config.address_file), {"url": url, "token": owner_token,
                                                   "pid": os.getpid()}):
                logger.info("the web page is at %s", url)
                signal_ready()
                await until_released(service, config.orphan_grace)
            fanout.close()  # event streams end: their responses finish
            server.should_exit = True
        tg.cancel_scope.cancel()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tomato.web",
        description="The web process: the page and the API, its mailbox on SOCKET; a "
                    "WebConfig on standard input.")
    parser.add_argument("socket", type=Path, help="this process's mailbox")
    args = parser.parse_args(argv)
    config = read_config(CODEC, WebConfig)
    logging.basicConfig(level=config.log_level,
                        format="%(asctime)s %(levelname)s web: %(message)s")
    anyio.run(_serve, args.socket, config)


if __name__ == "__main__":
    main()
