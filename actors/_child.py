"""The child's side of supervision: say ready (or why not), and know when to stop."""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import anyio

from ._client import connect
from ._codec import Codec
from .errors import ActorError
from .messages import Ping

logger = logging.getLogger(__name__)

T = TypeVar("T")

READY_LINE = b"READY\n"
FAILED = b"FAILED "
"""Starts the line of a child that cannot start, followed by why (one line)."""
MAX_LINE = 4096


def signal_ready() -> None:
    """Called by a child once it serves: tells the parent, then points stdout at stderr.

    If the parent stopped waiting (it gave up or is shutting down), the child exits quietly.
    """
    try:
        os.write(1, READY_LINE)
    except BrokenPipeError:
        os._exit(0)
    os.dup2(2, 1)


def read_config(codec: Codec, cls: type[T]) -> T:
    """The configuration the parent wrote to this process's standard input: one message of
    type `cls`, its fields checked (never on the command line, which every user of the
    machine can read). A child that gets anything else says why and exits."""
    try:
        config = codec.decode(sys.stdin.buffer.read())
    except Exception as exc:  # not msgpack, an unknown type, a field of another type
        config = exc
    if not isinstance(config, cls):
        why = f"{type(config).__name__}: {config}" if isinstance(config, Exception) else \
            f"a {type(config).__name__}"
        sys.exit(f"error: standard input: a {cls.__name__} expected, not {why}")
    return config


def signal_failed(reason: str) -> None:
    """Called by a child that cannot start: tells the parent why (one line)."""
    line = FAILED + " ".join(reason.split()).encode()[: MAX_LINE - 16] + b"\n"
    try:
        os.write(1, line)
    except BrokenPipeError:
        pass


def python_argv(module: str, *args: str) -> tuple[str, ...]:
    """The argv that runs `python -m module args` with this interpreter."""
    return (sys.executable, "-m", module, *args)


async def run_until_signalled() -> None:
    """Return when the process gets SIGTERM or SIGINT (the caller then shuts down)."""
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            return


ORPHAN_GRACE = 60.0
"""Seconds a child waits, by default, for its supervisor to be back before it stops (once
idle); the service passes its `[jobs] orphan_grace` to each child."""


async def until_released(supervisor: Path | None, grace: float,
                         is_idle: Callable[[], bool] = lambda: True) -> None:
    """What a child waits for before it stops: SIGTERM or SIGINT, or its supervisor (serving
    at `supervisor`) not answering a ping for `grace` seconds while the child `is_idle()`.
    A busy child goes on with its work and stops once idle, unless the supervisor (or a
    successor on the same socket) is back by then."""
    async with anyio.create_task_group() as tg:
        async def signalled() -> None:
            await run_until_signalled()
            tg.cancel_scope.cancel()

        async def orphaned(path: Path) -> None:
            interval = min(grace / 3, 5.0)
            last_seen = anyio.current_time()
            while True:
                await anyio.sleep(interval)
                try:
                    with anyio.fail_after(interval):
                        async with connect(path, Codec()) as conn:
                            await conn.ask(Ping(), timeout=interval)
                    last_seen = anyio.current_time()
                except (TimeoutError, ActorError):
                    if anyio.current_time() - last_seen >= grace and is_idle():
                        logger.warning("the supervisor at %s is gone (for %g s): stopping",
                                       path, anyio.current_time() - last_seen)
                        tg.cancel_scope.cancel()
                        return

        tg.start_soon(signalled)
        if supervisor is not None:
            tg.start_soon(orphaned, supervisor)
