"""What a job tells others while it runs, without ever waiting on them."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import anyio

from tomato.actors import ActorError, connect, retrying

from ..codec import CODEC
from ..processmessages import Reports

logger = logging.getLogger(__name__)

QUEUE = 10_000
BATCH = 500
DRAIN_TIMEOUT = 5.0


class Reporter:
    """Sends progress (steps, data) to the supervisor for `ketchup watch`.

    `post` never blocks: when the supervisor is slow or gone, messages beyond a bounded
    queue are dropped and counted. The data itself is safe in the job folder regardless.
    """

    def __init__(self, supervisor: Path) -> None:
        self._path = supervisor
        self._send, self._receive = anyio.create_memory_object_stream[Any](QUEUE)
        self.dropped = 0
        self._posted = 0
        self._done = 0
        """Messages taken, and those of them sent (or lost with a connection), in order."""
        self._sent = anyio.Event()

    def post(self, msg: Any) -> None:
        try:
            self._send.send_nowait(msg)
        except anyio.WouldBlock:
            self.dropped += 1
        else:
            self._posted += 1

    async def drain(self, timeout: float = DRAIN_TIMEOUT) -> None:
        """Wait (bounded: the supervisor may be away) until everything posted so far was
        sent; what other jobs of the host post meanwhile is not waited for."""
        target = self._posted
        with anyio.move_on_after(timeout):
            while self._done < target:
                self._sent = anyio.Event()
                await self._sent.wait()

    def _waiting(self) -> list[Any]:
        """What else was posted (many jobs' points of the same tick): sent as one message."""
        more: list[Any] = []
        while len(more) < BATCH:
            try:
                more.append(self._receive.receive_nowait())
            except anyio.WouldBlock:
                break
        return more

    async def run(self) -> None:
        """Forward posted messages until cancelled, reconnecting when the supervisor is back."""
        with self._receive:
            await retrying(self._forward, failed=lambda exc: logger.debug(
                "progress reports paused: %s", exc))

    async def _forward(self) -> None:
        async with connect(self._path, CODEC) as conn:
            async for msg in self._receive:
                batch = [msg, *self._waiting()]
                try:
                    await conn.tell(batch[0] if len(batch) == 1 else Reports(tuple(batch)))
                except ActorError:
                    self.dropped += len(batch)
                    raise
                finally:
                    self._done += len(batch)
                    self._sent.set()
