"""One link per device for all the jobs of a host: one connection, one subscription to the
device's ChannelsReady (which brings running channels' points along), and reads gathered
into one ReadMany. A thousand jobs on a device cost it one client and one message per
tick, not a thousand of each per point."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager, suppress
from pathlib import Path
from typing import Any, Protocol

import anyio
from anyio.abc import TaskGroup, TaskStatus

from tomato.actors import ActorDeadError, Connection, EventsMissed, Flag, connect
from tomato.drivers import Acknowledge, ChannelsReady, DataBatch, ReadMany

from ..codec import CODEC

READ_TIMEOUT = 30.0
ACK_GAP = 1.0
"""Pushed points kept by their readers are acknowledged to the device at most this often
(it forgets them then; a read forgets them too)."""


class Sink(Protocol):
    """Where a read's batch goes: a job's step reader (fed on every tick with news for its
    channel) or one explicit read's answer."""

    after: int
    """Every point up to this sequence number is kept."""
    acked: int
    """… and the device was told so."""
    @property
    def task_id(self) -> str | None:
        """The device's task whose points the sink takes (a batch of another is not
        given)."""
    pending: bool
    again: bool

    def give(self, batch: DataBatch) -> None: ...

    def fail(self, error: BaseException) -> None: ...


class DeviceLink:
    """The host's connection to one device, shared by every job using it."""

    def __init__(self, conn: Connection, tg: TaskGroup, poll: float) -> None:
        self.conn = conn
        self._tg = tg
        self._poll = poll
        self._scopes: set[anyio.CancelScope] = set()
        """Of the tasks that serve the link: cancelled when it closes."""
        self._feeds: defaultdict[str, set[Sink]] = defaultdict(set)
        """channel → the readers fed with its points on every tick with news."""
        self._reads: list[tuple[str, int, Sink]] = []
        self._flushing = False
        self._acked_at = 0.0

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

    @contextmanager
    def feed(self, channel: str, sink: Sink) -> Iterator[None]:
        """While the block runs, read `channel` for `sink` whenever the device has news for
        it (and each poll interval, and when the link breaks: the read then fails). The
        batches are handed to `sink.give` in the link's task: no task of the job wakes per
        point."""
        self._feeds[channel].add(sink)
        try:
            yield
        finally:
            self._feeds[channel].discard(sink)
            if not self._feeds[channel]:
                del self._feeds[channel]

    async def follow(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
                     ) -> None:
        """Read for the readers of the channels the device says have news, until the link
        breaks (then for every reader: the reads fail, and say why) or closes. Started
        once the device has the subscription: its frame goes before any task is started
        on the link, so no news of that task is missed."""
        with self._scope():
            await self._follow(task_status)

    async def safety_net(self) -> None:
        """Read for every reader each poll interval: were news lost, a read still comes."""
        with self._scope():
            while True:
                await anyio.sleep(self._poll)
                self._read_all()

    async def _follow(self, task_status: TaskStatus[None]) -> None:
        async with self.conn.subscribe("ready") as events:
            task_status.started()
            async for event in events:
                if isinstance(event, ChannelsReady):
                    for batch in event.batches:
                        self._pushed(batch)
                    for channel in event.channels:
                        for sink in self._feeds.get(channel, ()):
                            self._request(channel, sink)
                    if anyio.current_time() - self._acked_at >= ACK_GAP:
                        await self._acknowledge()
                elif isinstance(event, EventsMissed):
                    self._read_all()
        self._read_all()

    def _pushed(self, batch: DataBatch) -> None:
        """Points a device pushed: given to the channel's readers of that task; a reader
        missing points before them (a push it did not see) reads them all."""
        for sink in self._feeds.get(batch.channel, ()):
            if sink.task_id != batch.task_id:
                continue  # an earlier task's, arriving late
            if batch.first > sink.after:
                self._request(batch.channel, sink)
            else:
                sink.give(batch)

    async def _acknowledge(self) -> None:
        """Tell the device which pushed points were kept (they were written)."""
        self._acked_at = anyio.current_time()
        reads = []
        for channel, sinks in self._feeds.items():
            for sink in sinks:
                if sink.after > sink.acked:
                    reads.append((channel, sink.after))
                    sink.acked = sink.after
        if reads:
            with suppress(ActorDeadError):  # the link broke: its readers hear it from follow
                await self.conn.tell(Acknowledge(tuple(reads)))

    def _read_all(self) -> None:
        for channel, sinks in self._feeds.items():
            for sink in sinks:
                self._request(channel, sink)

    def _request(self, channel: str, sink: Sink, timeout: float = READ_TIMEOUT) -> None:
        """Read `channel` for `sink` with the next ReadMany; once at a time per sink (news
        meanwhile: once more after it)."""
        if sink.pending:
            sink.again = True
            return
        sink.pending = True
        self._reads.append((channel, sink.after, sink))
        if not self._flushing:
            self._flushing = True
            self._tg.start_soon(self._flush, timeout)

    async def read(self, channel: str, after: int, timeout: float = READ_TIMEOUT
                   ) -> DataBatch:
        """The points of `channel` after `after`: the reads of every job asked in the same
        tick go to the device as one ReadMany. Raises ActorError (AskTimeout after
        `timeout`)."""
        answer = _Answer(after)
        self._request(channel, answer, timeout)
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
                for (channel, _, sink), batch in zip(reads, reply.batches, strict=True):
                    sink.give(batch)  # first: its cursor moves before it is read again
                    self._done(channel, sink)
                return
        for channel, _, sink in reads:
            sink.fail(error)
            self._done(channel, sink)

    def _done(self, channel: str, sink: Sink) -> None:
        sink.pending = False
        if sink.again:
            sink.again = False
            if sink in self._feeds.get(channel, ()):
                self._request(channel, sink)


class _Answer:
    """The sink of one explicit read."""

    __slots__ = ("_done", "acked", "after", "again", "batch", "error", "pending", "task_id")

    def __init__(self, after: int) -> None:
        self.after = self.acked = after
        self.task_id = None
        self.pending = self.again = False
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
        try:
            await self._tg.start(link.follow)
        except BaseException:
            await stack.aclose()
            raise
        self._tg.start_soon(link.safety_net)
        slot.stack = stack
        return link


async def _close(slot: _Slot) -> None:
    stack, slot.stack, slot.link = slot.stack, None, None
    if stack is not None:
        await stack.aclose()

