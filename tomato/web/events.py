"""The service's event stream, once per web process, handed to every browser following it:
a browser that reads slower than events come is dropped (its stream ends; the page
connects again and reloads its state), never slowing the service or the others."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from tomato.actors import ActorError, EventsMissed, connect

from ..client_codec import CLIENT_CODEC
from ..records import event_records

QUEUE = 1000
"""Records a browser may be behind before it is dropped."""
KEEPALIVE = 15.0
"""Seconds without an event after which a browser is sent a comment (proxies keep it)."""
RECONNECT = 1.0

_QUIET = object()


class Fanout:
    """One subscription to the service's events; `listen()` for each browser."""

    def __init__(self, service: Path) -> None:
        self.service = service
        self._clients: set[MemoryObjectSendStream[dict[str, Any]]] = set()
        self.dropped = 0
        """Browsers dropped for being slow, since the start."""

    @property
    def clients(self) -> int:
        return len(self._clients)

    async def run(self) -> None:
        """Follow the service's events for as long as the process runs (reconnecting)."""
        while True:
            try:
                async with connect(self.service, CLIENT_CODEC) as conn, \
                        conn.subscribe() as events:
                    self._offer({"event": "connected"})
                    async for event in events:
                        if isinstance(event, EventsMissed):
                            self._offer({"event": "EventsMissed"})
                            continue
                        for record in event_records(event):
                            self._offer(record)
            except ActorError:
                pass
            self._offer({"event": "disconnected"})
            await anyio.sleep(RECONNECT)

    def _offer(self, record: dict[str, Any]) -> None:
        for client in list(self._clients):
            try:
                client.send_nowait(record)
            except anyio.WouldBlock:  # slow: dropped
                self._clients.discard(client)
                client.close()
                self.dropped += 1
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._clients.discard(client)

    @asynccontextmanager
    async def listen(self) -> AsyncIterator[AsyncIterator[dict[str, Any] | None]]:
        """A browser's records, None after KEEPALIVE seconds without one; ends if it was
        dropped."""
        send, receive = anyio.create_memory_object_stream[dict[str, Any]](QUEUE)
        self._clients.add(send)
        try:
            yield _records(receive)
        finally:
            self._clients.discard(send)
            send.close()
            receive.close()


async def _records(receive: MemoryObjectReceiveStream[dict[str, Any]]
                   ) -> AsyncIterator[dict[str, Any] | None]:
    while True:
        record: Any = _QUIET
        with anyio.move_on_after(KEEPALIVE):
            try:
                record = await receive.receive()
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                return
        yield None if record is _QUIET else record
