"""Actors: a mailbox handled one message at a time, asks with deadlines, event fan-out."""

from __future__ import annotations

import itertools
import logging
import math
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.lowlevel
from anyio.abc import TaskGroup, TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .errors import ActorDeadError, ActorError, AskTimeout
from .messages import EventsMissed

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
FAIR_SHARE = 32
"""Messages a busy mailbox handles before letting other tasks run."""


@dataclass(frozen=True, slots=True)
class Context:
    """Who sent a message: the peer's uid and pid (SO_PEERCRED), or our own for local asks."""

    uid: int
    pid: int


LOCAL = Context(uid=os.getuid(), pid=os.getpid())


class _Reply:
    """A one-shot slot the mailbox fills with a handler's result or error."""

    __slots__ = ("_done", "error", "value")

    def __init__(self) -> None:
        self._done = anyio.Event()
        self.value: Any = None
        self.error: BaseException | None = None

    def set(self, value: Any = None, error: BaseException | None = None) -> None:
        self.value, self.error = value, error
        self._done.set()

    async def wait(self) -> Any:
        await self._done.wait()
        if self.error is not None:
            raise self.error
        return self.value


class Subscription:
    """A bounded queue of events for one subscriber; overflow is counted, never blocks."""

    def __init__(self, hub: EventHub | None, size: int, topic: Any = None) -> None:
        self._hub = hub
        self.topic = topic
        """Only events published under this topic (None: all events)."""
        self._send, self._receive = anyio.create_memory_object_stream[Any](size)
        self.missed = 0

    def offer(self, event: Any) -> None:
        if self.missed:  # in a gap: drop until the subscriber has drained what it has
            self.missed += 1
            return
        try:
            self._send.send_nowait(event)
        except anyio.WouldBlock:
            self.missed = 1

    def close(self) -> None:
        if self._hub is not None:
            self._hub.discard(self)
        self._send.close()
        self._receive.close()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Any:
        """Events in order; after a gap, EventsMissed(count) where the gap was."""
        try:
            return self._receive.receive_nowait()
        except anyio.WouldBlock:
            if self.missed:
                count, self.missed = self.missed, 0
                return EventsMissed(count)
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None
        try:
            return await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None


class EventHub:
    """Fans events out to subscribers; a slow subscriber loses events, never slows the actor."""

    def __init__(self, buffer: int = 1000) -> None:
        self._by_topic: dict[Any, set[Subscription]] = {}
        """topic → its subscribers (None: those of all events)."""
        self._buffer = buffer

    def publish(self, event: Any, topic: Any = None) -> None:
        """Offer `event` to the subscribers of `topic`, and to those of all events: the cost
        is theirs, not that of every subscriber of other topics."""
        for sub in (*self._by_topic.get(None, ()),
                    *(self._by_topic.get(topic, ()) if topic is not None else ())):
            sub.offer(event)

    def wants(self, topic: Any) -> bool:
        """Whether an event under `topic` would reach anyone (spare making it if not)."""
        return None in self._by_topic or topic in self._by_topic

    def subscribe(self, topic: Any = None, buffer: int | None = None) -> Subscription:
        sub = Subscription(self, buffer or self._buffer, topic)
        self._by_topic.setdefault(topic, set()).add(sub)
        return sub

    def discard(self, sub: Subscription) -> None:
        if (subs := self._by_topic.get(sub.topic)) is not None:
            subs.discard(sub)
            if not subs:
                del self._by_topic[sub.topic]

    def __len__(self) -> int:
        return sum(len(subs) for subs in self._by_topic.values())


class Actor:
    """Base class: override `handle`; optionally `on_start`, `on_stop` and `on_failure`.

    `handle` returns the reply to an ask. An error raised for an ask goes back to the
    caller; an error raised for a tell goes to `on_failure`, which by default stops the
    actor with it (as in Pykka). The runtime sets `ref` (the actor's own) and `events`
    before `on_start`.
    """

    events: EventHub
    ref: ActorRef

    async def on_start(self) -> None:
        """Runs before the first message is handled."""

    async def on_stop(self) -> None:
        """Runs after the last message (shielded)."""

    async def on_failure(self, msg: Any, exc: Exception) -> None:
        """Handling the tell `msg` raised `exc`. Raise to stop the actor (the default);
        return to go on with the next message."""
        raise exc

    async def handle(self, msg: Any, ctx: Context) -> Any:
        raise NotImplementedError


class ActorRef:
    """The handle on a running actor: `tell` and `ask` put messages into its mailbox."""

    def __init__(self, actor: Actor, send: MemoryObjectSendStream[Any]) -> None:
        self.actor = actor
        self._send = send

    def put_nowait(self, item: tuple[Any, Context, Any]) -> bool:
        """(message, sender, reply slot or None) into the mailbox if it has room: False if
        not. Raises anyio's BrokenResourceError once the actor has stopped. The mailbox calls
        `slot.set(value)` or `slot.set(error=exc)` with the answer, so `set` must not block.
        For servers, which answer without waiting."""
        try:
            self._send.send_nowait(item)
        except anyio.WouldBlock:
            return False
        return True

    async def put(self, item: tuple[Any, Context, Any]) -> None:
        """Into the mailbox: at once if it has room (no trip through the event loop)."""
        if not self.put_nowait(item):
            await self._send.send(item)

    async def tell(self, msg: Any, ctx: Context = LOCAL) -> None:
        try:
            await self.put((msg, ctx, None))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            raise ActorDeadError(f"{type(self.actor).__name__} has stopped") from None

    async def ask(self, msg: Any, ctx: Context = LOCAL,
                  timeout: float | None = DEFAULT_TIMEOUT) -> Any:
        reply = _Reply()
        try:
            with anyio.fail_after(timeout if timeout is not None else math.inf):
                await self.put((msg, ctx, reply))
                return await reply.wait()
        except TimeoutError:
            raise AskTimeout(f"{type(msg).__name__} got no reply in {timeout} s") from None
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            raise ActorDeadError(f"{type(self.actor).__name__} has stopped") from None


@dataclass(frozen=True, slots=True)
class Deferred:
    """Returned by `handle` to answer later: `work()` runs beside the mailbox, which moves on
    to the next message; its result (or error) is the reply. For slow work, such as waiting
    for a process, that must not hold up the actor's other messages."""

    work: Callable[[], Awaitable[Any]]


async def _finish_later(actor: Actor, msg: Any, deferred: Deferred, reply: _Reply | None
                        ) -> None:
    try:
        result = await deferred.work()
    except Exception as exc:
        _failed(actor, msg, exc, reply)
        if reply is None:
            await actor.on_failure(msg, exc)
    else:
        if reply is not None:
            reply.set(result)


def _failed(actor: Actor, msg: Any, exc: Exception, reply: _Reply | None) -> None:
    """Send an ask's error back; log an error that is not a typed refusal (a bug)."""
    if not isinstance(exc, ActorError):
        logger.error("%s failed on %s", type(actor).__name__, type(msg).__name__, exc_info=exc)
    if reply is not None:
        reply.set(error=exc)


async def _next(receive: MemoryObjectReceiveStream[Any], handled: int) -> Any:
    """The next message: at once if one is queued (but let other tasks run now and then)."""
    if handled % FAIR_SHARE == 0:
        await anyio.lowlevel.checkpoint()
    try:
        return receive.receive_nowait()
    except anyio.WouldBlock:
        return await receive.receive()


async def _run_mailbox(actor: Actor, receive: MemoryObjectReceiveStream[Any], tg: TaskGroup
                       ) -> None:
    async with receive:
        try:
            for handled in itertools.count(1):
                try:
                    msg, ctx, reply = await _next(receive, handled)
                except anyio.EndOfStream:
                    break
                try:
                    result = await actor.handle(msg, ctx)
                except Exception as exc:
                    _failed(actor, msg, exc, reply)
                    if reply is None:
                        await actor.on_failure(msg, exc)
                else:
                    if isinstance(result, Deferred):
                        tg.start_soon(_finish_later, actor, msg, result, reply)
                    elif reply is not None:
                        reply.set(result)
        finally:
            _fail_queued(actor, receive)


def _fail_queued(actor: Actor, receive: MemoryObjectReceiveStream[Any]) -> None:
    """Asks still queued when the actor stops fail at once instead of hanging."""
    while True:
        try:
            _, _, reply = receive.receive_nowait()
        except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
            return
        if reply is not None:
            reply.set(error=ActorDeadError(f"{type(actor).__name__} has stopped"))


@asynccontextmanager
async def task_group() -> AsyncIterator[TaskGroup]:
    """An anyio task group whose body's own error is raised as itself, not in a group.

    Child tasks' errors still arrive as an ExceptionGroup, as anyio raises them.
    """
    error: Exception | None = None
    async with anyio.create_task_group() as tg:
        try:
            yield tg
        except Exception as exc:
            error = exc
            tg.cancel_scope.cancel()
    if error is not None:
        raise error


@asynccontextmanager
async def start_actor(actor: Actor, mailbox_size: int = 1000) -> AsyncIterator[ActorRef]:
    """Run `actor` for the duration of the block; yields its ref once `on_start` finished."""
    if not hasattr(actor, "events"):
        actor.events = EventHub()
    send, receive = anyio.create_memory_object_stream[Any](mailbox_size)
    actor.ref = ActorRef(actor, send)
    await actor.on_start()
    try:
        async with task_group() as tg:
            tg.start_soon(_run_mailbox, actor, receive, tg)
            try:
                yield actor.ref
            finally:
                send.close()
    finally:
        with anyio.CancelScope(shield=True), anyio.move_on_after(DEFAULT_TIMEOUT):
            await actor.on_stop()


async def run_actor(actor: Actor, *, task_status: TaskStatus[ActorRef] = anyio.TASK_STATUS_IGNORED
                    ) -> None:
    """Run `actor` until cancelled; `await tg.start(run_actor, actor)` returns its ref."""
    async with start_actor(actor) as ref:
        task_status.started(ref)
        await anyio.sleep_forever()
