"""What a job tells others while it runs, without ever waiting on them."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import anyio

from tomato.actors import ActorError, EventsMissed, Subscription, connect
from tomato.drivers import DataReady

from ..codec import CODEC

logger = logging.getLogger(__name__)

QUEUE = 1000
RECONNECT_DELAY = 1.0
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

    async def run(self) -> None:
        """Forward posted messages until cancelled, reconnecting when the supervisor is back."""
        with self._receive:
            while True:
                try:
                    async with connect(self._path, CODEC) as conn:
                        async for msg in self._receive:
                            try:
                                await conn.tell(msg)
                            except ActorError:
                                self.dropped += 1
                                raise
                            finally:
                                self._done += 1
                                self._sent.set()
                except ActorError as exc:
                    logger.debug("progress reports paused: %s", exc)
                    await anyio.sleep(RECONNECT_DELAY)


class Wake:
    """Set by a device's DataReady events; the read loop waits on it (or, as a safety net,
    its poll interval)."""

    def __init__(self) -> None:
        self._event = anyio.Event()

    async def wait(self, timeout: float) -> None:
        with anyio.move_on_after(timeout):
            await self._event.wait()
        self._event = anyio.Event()

    async def on_events(self, events: Subscription, channel: str) -> None:
        """Wake on the channel's DataReady, on missed events, and when the events end (the
        connection is lost: the next read says so)."""
        async for event in events:
            if isinstance(event, EventsMissed) or (
                    isinstance(event, DataReady) and event.channel == channel):
                self._event.set()
        self._event.set()
