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
    ORPHAN_GRACE,
    Actor,
    ActorError,
    Context,
    serve_actor,
    signal_failed,
    signal_ready,
    start_actor,
    task_group,
    until_released,
)

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


async def _serve(args: argparse.Namespace) -> None:
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
        host, port = parse_listen(args.listen)
        sock = await _bind(host, port)
    except (ValueError, OSError) as exc:
        signal_failed(str(exc))
        raise SystemExit(1) from None
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    owner_token = secrets.token_urlsafe(32)
    fanout = Fanout(args.service)
    web = Web(args.service, Tokens(args.tokens), owner_token, args.results, fanout)
    server = Server(uvicorn.Config(make_app(web), log_level="warning", access_log=False,
                                   lifespan="off", timeout_graceful_shutdown=SHUTDOWN))
    async with task_group() as tg, start_actor(_Pinged()) as ref:
        tg.start_soon(fanout.run)
        await tg.start(serve_actor, ref, args.socket, CODEC)
        async with anyio.create_task_group() as http:  # ends once uvicorn has shut down
            http.start_soon(server.serve, [sock])
            with _address_file(args.address_file, {"url": url, "token": owner_token,
                                                   "pid": os.getpid()}):
                logger.info("the web page is at %s", url)
                signal_ready()
                await until_released(args.supervisor, args.orphan_grace)
            fanout.close()  # event streams end: their responses finish
            server.should_exit = True
        tg.cancel_scope.cancel()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tomato.web")
    parser.add_argument("--listen", required=True, help="HOST:PORT (port 0: any free one)")
    parser.add_argument("--service", required=True, type=Path, help="the service's socket")
    parser.add_argument("--socket", required=True, type=Path, help="this process's mailbox")
    parser.add_argument("--tokens", required=True, type=Path, help="the tokens file")
    parser.add_argument("--results", required=True, type=Path,
                        help="where jobs submitted over the API write their results")
    parser.add_argument("--address-file", required=True, type=Path,
                        help="written (0600) with the page's address and the owner's token")
    parser.add_argument("--supervisor", type=Path, default=None)
    parser.add_argument("--orphan-grace", type=float, default=ORPHAN_GRACE)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level,
                        format="%(asctime)s %(levelname)s web: %(message)s")
    anyio.run(_serve, args)


if __name__ == "__main__":
    main()
