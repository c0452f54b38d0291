"""One way to try again: the same pause after each failure, everywhere a process waits for
another to be back (a supervisor restarting, a device restarting, a link down)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

from .errors import ActorError

T = TypeVar("T")

RETRY_DELAY = 1.0
"""Seconds between two attempts: short enough that a restarted service is found again at
once as people see it, long enough that a process waiting for one costs nothing."""


async def retrying(attempt: Callable[[], Awaitable[T]], *,
                   on: type[Exception] | tuple[type[Exception], ...] = ActorError,
                   failed: Callable[[Exception], object] | None = None,
                   delay: float = RETRY_DELAY) -> T:
    """`attempt()` until it returns, its result; after each failure of a kind in `on`
    (told to `failed` first), `delay` seconds later. Never gives up: bound it with a cancel
    scope (`anyio.move_on_after`) where patience ends."""
    while True:
        try:
            return await attempt()
        except on as exc:
            if failed is not None:
                failed(exc)
            await anyio.sleep(delay)
