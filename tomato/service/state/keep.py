"""`[jobs] keep`: the records of jobs that finished long ago are forgotten (their folders
and results are never touched, their ids never given again), so that `status queue -a`
and the state database do not grow for ever."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import anyio

from .store import Store

logger = logging.getLogger(__name__)

EVERY = 3600.0
"""Seconds between two looks."""


async def forget_old_jobs(store: Store, days: float) -> None:
    """Until cancelled: now, then every hour, forget the records of the jobs that finished
    more than `days` ago. In a cluster only those below this tomato's block of jobids (in
    its block, a forgotten id could be given again)."""
    while True:
        before = (datetime.now(UTC) - timedelta(days=days)).isoformat(sep=" ")
        block = store.meta("jobids")
        below = int(block.split(",")[0]) if block and store.host is not None else None
        if forgotten := store.forget_finished(before, below):
            logger.info("forgot the records of %d job(s) finished more than %g days ago "
                        "(their folders and results stay): %s", len(forgotten), days,
                        ", ".join(map(str, forgotten)))
        await anyio.sleep(EVERY)
