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
                   delay: float = RETRY_DELAY, attempts: int | None = None) -> T:
    """`attempt()` until it returns, its result; after each failure of a kind in `on`
    (told to `failed` first), `delay` seconds later. With `attempts`, the failure of the
    last is raised; without, it never gives up: bound it with a cancel scope
    (`anyio.move_on_after`) where patience ends."""
    tried = 0
    while True:
        try:
            return await attempt()
        except on as exc:
            tried += 1
            if failed is not None:
                failed(exc)
            if attempts is not None and tried >= attempts:
                raise
            await anyio.sleep(delay)
