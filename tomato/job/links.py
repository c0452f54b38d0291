"""One link per device for all the jobs of a host: one connection, one subscription to the
device's ChannelsReady, and reads gathered into one ReadMany. A thousand jobs on a device
cost it one client and a few messages per tick, not a thousand of each per point."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskGroup

from tomato.actors import ActorDeadError, Connection, EventsMissed, Flag, connect
from tomato.drivers import ChannelsReady, DataBatch, ReadMany

from ..codec import CODEC

READ_TIMEOUT = 30.0


class Wake:
    """Set when the device has news for one channel (and, as a safety net, every poll
    interval); the read loop waits on it: no timer per job."""

    def __init__(self) -> None:
        self._flag = Flag()

    def set(self) -> None:
        self._flag.set()

    async def wait(self) -> None:
        await self._flag.wait()
        self._flag = Flag()


class DeviceLink:
    """The host's connection to one device, shared by every job using it."""

    def __init__(self, conn: Connection, tg: TaskGroup, poll: float) -> None:
        self.conn = conn
        self._tg = tg
        self._poll = poll
        self._scopes: set[anyio.CancelScope] = set()
        """Of the tasks that serve the link: cancelled when it closes."""
        self._wakes: defaultdict[str, set[Wake]] = defaultdict(set)
        self._reads: list[tuple[str, int, _Answer]] = []
        self._flushing = False

    @property
    def closed(self) -> bool:
        return self.conn.closed

    @contextmanager
    def _scope(self) -> Iterator[None]:
        with anyio.CancelScope() as scope:
            self._scopes.add(scope)
            try:
                yield
            finally:
                self._scopes.discard(scope)

    def close(self) -> None:
        """Stop the tasks serving the link (the connection is closed by its owner)."""
        for scope in self._scopes:
            scope.cancel()

    async def ask(self, msg: Any, timeout: float | None = 5.0) -> Any:
        return await self.conn.ask(msg, timeout=timeout)

    @asynccontextmanager
    async def watch(self, channel: str) -> AsyncIterator[Wake]:
        """A Wake set whenever `channel` has news (and when the link breaks)."""
        wake = Wake()
        self._wakes[channel].add(wake)
        try:
            yield wake
        finally:
            self._wakes[channel].discard(wake)
            if not self._wakes[channel]:
                del self._wakes[channel]

    async def follow(self) -> None:
        """Wake the watchers of the channels the device says have news, until the link
        breaks (then every watcher: their next read says so) or closes."""
        with self._scope():
            await self._follow()

    async def safety_net(self) -> None:
        """Wake every watcher each poll interval: were news lost, a read still comes."""
        with self._scope():
            while True:
                await anyio.sleep(self._poll)
                self._wake_all()

    async def _follow(self) -> None:
        async with self.conn.subscribe("ready") as events:
            async for event in events:
                if isinstance(event, ChannelsReady):
                    for channel in event.channels:
                        for wake in self._wakes.get(channel, ()):
                            wake.set()
                elif isinstance(event, EventsMissed):
                    self._wake_all()
        self._wake_all()

    def _wake_all(self) -> None:
        for wakes in self._wakes.values():
            for wake in wakes:
                wake.set()

    async def read(self, channel: str, after: int, timeout: float = READ_TIMEOUT
                   ) -> DataBatch:
        """The points of `channel` after `after`: the reads of every job asked in the same
        tick go to the device as one ReadMany. Raises ActorError (AskTimeout after
        `timeout`)."""
        answer = _Answer()
        self._reads.append((channel, after, answer))
        if not self._flushing:
            self._flushing = True
            self._tg.start_soon(self._flush, timeout)
        return await answer.wait()

    async def _flush(self, timeout: float) -> None:
        await anyio.lowlevel.checkpoint()  # the other reads of this tick join in
        reads, self._reads, self._flushing = self._reads, [], False
        error: BaseException = ActorDeadError("the link to the device was closed")
        with self._scope():
            try:
                reply = await self.conn.ask(ReadMany(tuple((c, a) for c, a, _ in reads)),
                                            timeout=timeout)
            except Exception as exc:
                error = exc
            else:
                for (*_, answer), batch in zip(reads, reply.batches, strict=True):
                    answer.give(batch)
                return
        for *_, answer in reads:
            answer.fail(error)


class _Answer:
    __slots__ = ("_done", "batch", "error")

    def __init__(self) -> None:
        self._done = Flag()
        self.batch: DataBatch | None = None
        self.error: BaseException | None = None

    def give(self, batch: DataBatch) -> None:
        self.batch = batch
        self._done.set()

    def fail(self, error: BaseException) -> None:
        self.error = error
        self._done.set()

    async def wait(self) -> DataBatch:
        await self._done.wait()
        if self.error is not None:
            raise self.error
        assert self.batch is not None
        return self.batch


class _Slot:
    def __init__(self) -> None:
        self.lock = anyio.Lock()
        self.link: DeviceLink | None = None
        self.stack: AsyncExitStack | None = None
        self.users = 0


class DeviceLinks:
    """Links to device sockets, opened on first use and closed with the last user; a
    broken one is replaced by the next user (the others see it broken)."""

    def __init__(self, tg: TaskGroup, poll: float) -> None:
        self._tg = tg
        self._poll = poll
        self._slots: dict[Path, _Slot] = {}

    @asynccontextmanager
    async def use(self, sock: Path) -> AsyncIterator[DeviceLink]:
        """The link to `sock`; raises ActorDeadError when nothing serves there."""
        slot = self._slots.setdefault(sock, _Slot())
        slot.users += 1
        try:
            async with slot.lock:
                if slot.link is None or slot.link.closed:
                    await _close(slot)
                    slot.link = await self._open(slot, sock)
            yield slot.link
        finally:
            slot.users -= 1
            if slot.users == 0:
                del self._slots[sock]
                with anyio.CancelScope(shield=True):
                    await _close(slot)

    async def _open(self, slot: _Slot, sock: Path) -> DeviceLink:
        stack = AsyncExitStack()
        conn = await stack.enter_async_context(connect(sock, CODEC))
        link = DeviceLink(conn, self._tg, self._poll)
        stack.callback(link.close)
        self._tg.start_soon(link.follow)
        self._tg.start_soon(link.safety_net)
        slot.stack = stack
        return link

    def __len__(self) -> int:
        return len(self._slots)


async def _close(slot: _Slot) -> None:
    stack, slot.stack, slot.link = slot.stack, None, None
    if stack is not None:
        await stack.aclose()

