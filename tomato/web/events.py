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

from tomato.actors import RETRY_DELAY, ActorError, EventsMissed, Flag, connect

from ..client_codec import CLIENT_CODEC
from ..records import event_records

QUEUE = 1000
"""Records a browser may be behind before it is dropped."""
KEEPALIVE = 15.0
"""Seconds without an event after which a browser is sent a comment (proxies keep it)."""

class Fanout:
    """One subscription to the service's events while any browser follows them (none:
    nothing comes to this process); `listen()` for each browser."""

    def __init__(self, service: Path) -> None:
        self.service = service
        self._clients: set[MemoryObjectSendStream[dict[str, Any]]] = set()
        self._wanted = Flag()
        """Set while a browser listens."""
        self._unwanted = Flag()
        """Set when the last one left."""
        self._closed = False

    async def run(self) -> None:
        """Follow the service's events while browsers listen, for as long as the process
        runs (reconnecting)."""
        while True:
            await self._wanted.wait()
            with anyio.CancelScope() as scope:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._until_unwanted, scope)
                    await self._follow()
                    tg.cancel_scope.cancel()  # the service went away: connect again
            if scope.cancelled_caught:
                continue
            self._offer({"event": "disconnected"})
            await anyio.sleep(RETRY_DELAY)

    async def _until_unwanted(self, scope: anyio.CancelScope) -> None:
        await self._unwanted.wait()
        scope.cancel()

    async def _follow(self) -> None:
        try:
            async with connect(self.service, CLIENT_CODEC) as conn, conn.subscribe() as events:
                self._offer({"event": "connected"})
                async for event in events:
                    if isinstance(event, EventsMissed):
                        self._offer({"event": "EventsMissed"})
                        continue
                    for record in event_records(event):
                        self._offer(record)
        except ActorError:
            pass

    def _changed(self) -> None:
        if self._clients and not self._wanted.is_set():  # the first: `run` wakes
            self._unwanted = Flag()
            self._wanted.set()
        elif not self._clients and self._wanted.is_set():  # the last left
            self._unwanted.set()
            self._wanted = Flag()

    def _offer(self, record: dict[str, Any]) -> None:
        for client in list(self._clients):
            try:
                client.send_nowait(record)
            except anyio.WouldBlock:  # slow: dropped
                self._clients.discard(client)
                client.close()
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._clients.discard(client)
        self._changed()

    def close(self) -> None:
        """End every browser's stream (the process stops): their responses finish, and
        the server need not cut them off."""
        self._closed = True
        for client in self._clients:
            client.close()
        self._clients.clear()
        self._changed()

    @asynccontextmanager
    async def listen(self) -> AsyncIterator[AsyncIterator[list[dict[str, Any]] | None]]:
        """A browser's records, in batches of what came meanwhile, None after KEEPALIVE
        seconds without any; ends if it was dropped."""
        send, receive = anyio.create_memory_object_stream[dict[str, Any]](QUEUE)
        if self._closed:
            send.close()
        else:
            self._clients.add(send)
        self._changed()
        try:
            yield _records(receive)
        finally:
            self._clients.discard(send)
            self._changed()
            send.close()
            receive.close()


async def _records(receive: MemoryObjectReceiveStream[dict[str, Any]]
                   ) -> AsyncIterator[list[dict[str, Any]] | None]:
    """What came since the last batch (at least one record, one write to the browser
    however many), or None after KEEPALIVE seconds without any."""
    while True:
        batch: list[dict[str, Any]] = []
        with anyio.move_on_after(KEEPALIVE):
            try:
                batch.append(await receive.receive())
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                return
        while len(batch) < QUEUE:
            try:
                batch.append(receive.receive_nowait())
            except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                break
        yield batch or None
