"""The device actor: one process per device, running its driver's tasks channel by channel."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskGroup
from tomato.actors import Actor, Codec, Context, Deferred, Flag, Ok

from ._interface import Driver, check_task
from .errors import ERRORS, ChannelBusyError, DriverError, UnknownChannelError
from .messages import (
    COMPONENT_REQUESTS,
    MESSAGES,
    Acknowledge,
    ChannelsReady,
    ChannelStatus,
    DataBatch,
    DataBatches,
    DataReady,
    Describe,
    DeviceInfo,
    DeviceStatus,
    GetAttrs,
    GetComponent,
    GetDeviceStatus,
    GetLastData,
    IdleData,
    LastData,
    Measure,
    ReadData,
    ReadMany,
    RegisterComponent,
    ResetComponent,
    SetAttr,
    StartTask,
    StopTask,
    Task,
)

logger = logging.getLogger(__name__)

DEVICE_CODEC = Codec(MESSAGES, ERRORS)
STOP_TIMEOUT = 1.0
DELIVERY_WAIT = 60.0
"""How long a device left by its service waits for an ended task's last points to be read."""
READY_GAP = 0.05
"""Channels with news are gathered this long into one ChannelsReady event."""


@dataclass
class _Channel:
    name: str
    state: str = "idle"
    task_id: str | None = None
    error: str | None = None
    points: list[list[Any]] = field(default_factory=list)
    last: list[Any] | None = None
    """The last point of a task."""
    first: int = 0
    """Sequence number of the point before points[0]."""
    pushed: int = 0
    """Sequence number of the last point pushed with a ChannelsReady."""
    scope: anyio.CancelScope | None = None
    notified: bool = False
    """A DataReady went out since the last read."""
    done: anyio.Event = field(default_factory=anyio.Event)
    notices: list[str] = field(default_factory=list)
    """What the driver said for the task's job, not yet read."""
    ended_at: float | None = None
    """When the task ended (monotonic), until a read hands out its end: None then."""

    def status(self) -> ChannelStatus:
        return ChannelStatus(self.name, self.state, self.task_id, self.error,
                             self.first + len(self.points))


class Owner:
    """Who may command a device: the process whose pid `pidfile` holds (tomato's service,
    whichever runs now), its children (job processes), and a process once accepted (a job
    process its service left running, taken over). Without a pidfile, or where a process's
    parent cannot be read (no /proc), any process of the user."""

    def __init__(self, pidfile: Path | None) -> None:
        self.pidfile = pidfile if pidfile is not None and Path("/proc/self/stat").exists() \
            else None
        self._known = {os.getpid()}

    def accepts(self, pid: int) -> bool:
        if self.pidfile is None or pid in self._known:
            return True
        try:
            owner = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return False
        if pid == owner or _parent_of(pid) == owner:
            self._known.add(pid)
            return True
        return False


def _parent_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


class DeviceActor(Actor):
    """Serves one device: start, stop and read tasks on its channels."""

    def __init__(self, name: str, driver: Driver, tg: TaskGroup, owner: Owner | None = None
                 ) -> None:
        self.name = name
        self.driver = driver
        self._tg = tg
        self._owner = owner or Owner(None)
        self._channels = {ch: _Channel(ch) for ch in driver.channels}
        self._pending_ready: set[str] = set()
        self._news = Flag()
        """Set when a channel joins `_pending_ready`."""
        driver.notice = self._notice

    async def handle(self, msg: Any, ctx: Context) -> Any:
        if not self._owner.accepts(ctx.pid):
            raise DriverError(f"device {self.name!r} takes commands from tomato's service and "
                              f"its processes only (not from pid {ctx.pid}); use ketchup "
                              "component")
        match msg:
            case Describe():
                return DeviceInfo(self.name, self.driver.name, tuple(self._channels),
                                  tuple(self.driver.techniques.values()), os.getpid())
            case StartTask(channel, task, task_id):
                return self._start(self._channel(channel), task, task_id)
            case StopTask(channel):
                return await self._stop(self._channel(channel))
            case ReadData(channel, after):
                return self._read(self._channel(channel), after)
            case ReadMany(reads):
                return DataBatches(tuple(self._read(self._channel(ch), after)
                                         for ch, after in reads))
            case Acknowledge(reads):
                for name, after in reads:
                    _forget(self._channel(name), after)
                return None
            case GetDeviceStatus():
                return DeviceStatus(self.name, tuple(c.status() for c in self._channels.values()))
            case _ if isinstance(msg, COMPONENT_REQUESTS):
                ch = self._channel(msg.channel)
                return Deferred(lambda: self._component(ch, msg))  # the driver may be slow
        raise DriverError(f"device {self.name!r} does not understand {type(msg).__name__}")

    async def _component(self, ch: _Channel, msg: Any) -> Any:
        driver, name = self.driver, ch.name
        match msg:
            case GetComponent():
                return replace(await driver.describe(name), running=ch.state == "running")
            case GetAttrs(names=names):
                return await driver.get_attrs(name, tuple(names))
            case SetAttr(name=attr, value=value):
                return await driver.set_attr(name, attr, value)
            case GetLastData():
                point = await driver.last_data(name)
                return LastData(name, point if point is not None else ch.last)
            case Measure():
                if ch.state == "running":
                    raise ChannelBusyError(f"{self.name}:{name} is running task {ch.task_id}; "
                                           "a one-shot measurement waits until it ends")
                return LastData(name, await driver.measure(name))
            case RegisterComponent():
                await driver.register(name)
                return Ok()
            case ResetComponent():
                await self._stop(ch)
                await driver.reset(name)
                return Ok()
        raise DriverError(f"device {self.name!r} does not understand {type(msg).__name__}")

    def is_idle(self) -> bool:
        """No task runs on any channel, and each ended task's last points were read (or
        nobody came for them within DELIVERY_WAIT): a device left by its service stops
        only then, not with points its job has yet to read."""
        now = time.monotonic()
        return all(c.state != "running" and (c.ended_at is None
                                             or now - c.ended_at > DELIVERY_WAIT)
                   for c in self._channels.values())

    def is_channel_idle(self, channel: str) -> bool:
        return self._channels[channel].state != "running"

    def idle_point(self, channel: str, point: list[Any]) -> None:
        """A point measured while no task runs: the channel's last, and news to watchers."""
        self._channels[channel].last = point
        self.events.publish(IdleData(channel, point), "idle")

    def _channel(self, name: str) -> _Channel:
        channel = self._channels.get(str(name))
        if channel is None:
            raise UnknownChannelError(f"device {self.name!r} has no channel {name!r}")
        return channel

    def _start(self, ch: _Channel, task: Task, task_id: str) -> Ok:
        if ch.state == "running":
            raise ChannelBusyError(f"{self.name}:{ch.name} is running task {ch.task_id}")
        technique = self.driver.techniques.get(task.technique)
        if technique is None:
            raise DriverError(f"driver {self.driver.name!r} has no technique {task.technique!r}")
        check_task(technique, task)
        ch.state, ch.task_id, ch.error = "running", task_id, None
        ch.points, ch.first, ch.pushed, ch.done, ch.notices = [], 0, 0, anyio.Event(), []
        ch.scope = anyio.CancelScope()
        self._tg.start_soon(self._run, ch, task, ch.scope)
        logger.info("%s:%s started %s (%s)", self.name, ch.name, task.technique, task_id)
        return Ok()

    async def _run(self, ch: _Channel, task: Task, scope: anyio.CancelScope) -> None:
        try:
            with scope:
                await self.driver.run(ch.name, task, lambda point: self._emit(ch, point))
                ch.state = "done"
            if scope.cancelled_caught:
                ch.state = "stopped"
        except DriverError as exc:  # said by the driver: why, not where
            logger.error("%s:%s task %s failed: %s", self.name, ch.name, ch.task_id, exc)
            ch.state, ch.error = "error", str(exc)
        except Exception as exc:  # a bug of the driver's: where
            logger.exception("%s:%s task %s failed", self.name, ch.name, ch.task_id)
            ch.state, ch.error = "error", f"{type(exc).__name__}: {exc}"
        finally:
            ch.ended_at = time.monotonic()  # with the state: no wait in between
            with anyio.CancelScope(shield=True), anyio.move_on_after(STOP_TIMEOUT):
                if ch.state != "done":
                    await self.driver.reset(ch.name)
            ch.done.set()
            # Wake the reader: the task's end is news too (it need not wait for its poll).
            self._ready(ch)
            logger.info("%s:%s task %s %s", self.name, ch.name, ch.task_id, ch.state)

    def _notice(self, channel: str, text: str) -> None:
        """The driver tells the job on `channel` something (a fault it recovered from)."""
        logger.warning("%s:%s: %s", self.name, channel, text)
        ch = self._channels[channel]
        if ch.state == "running":
            ch.notices.append(text)
            self._ready(ch)

    def _emit(self, ch: _Channel, point: list[Any]) -> None:
        ch.points.append(point)
        ch.last = point
        if not ch.notified:  # one wake-up call until the next read, however fast points come
            ch.notified = True
            self._ready(ch)

    def _ready(self, ch: _Channel) -> None:
        """Tell readers that `ch` has news: DataReady under its name at once, and its
        points (or the channel, for other news) in the next ChannelsReady (one per
        READY_GAP for all channels)."""
        if self.events.wants(ch.name):
            self.events.publish(DataReady(ch.name, ch.first + len(ch.points)), ch.name)
        self._pending_ready.add(ch.name)
        self._news.set()

    async def on_start(self) -> None:
        self._tg.start_soon(self._tell_ready)

    async def _tell_ready(self) -> None:
        """One ChannelsReady per READY_GAP at most, for every channel with news, by one
        task for the device's life (not a task per tick). A running channel's new points
        go with it (its reader need not ask for them); any other news is named, to be
        read."""
        while True:
            await self._news.wait()
            await anyio.sleep(READY_GAP)
            self._news = Flag()
            pending, self._pending_ready = self._pending_ready, set()
            channels, batches = [], []
            for name in pending:
                ch = self._channels[name]
                if ch.state != "running" or ch.notices:
                    channels.append(name)
                    continue
                ch.notified = False
                start = max(ch.pushed, ch.first)
                if start < ch.first + len(ch.points):
                    batches.append(DataBatch(name, ch.task_id, start,
                                             ch.points[start - ch.first:], ch.state))
                    ch.pushed = ch.first + len(ch.points)
            self.events.publish(ChannelsReady(tuple(channels), tuple(batches)), "ready")

    async def _stop(self, ch: _Channel) -> Ok:
        if ch.state == "running" and ch.scope is not None:
            ch.scope.cancel()
            with anyio.move_on_after(STOP_TIMEOUT):
                await ch.done.wait()
        return Ok()

    @staticmethod
    def _read(ch: _Channel, after: int) -> DataBatch:
        ch.notified = False
        if ch.state != "running":
            ch.ended_at = None  # its end is handed out
        _forget(ch, after)
        notices, ch.notices = tuple(ch.notices), []
        return DataBatch(ch.name, ch.task_id, ch.first, list(ch.points), ch.state, ch.error,
                         notices)


def _forget(ch: _Channel, after: int) -> None:
    """The points up to sequence number `after` were kept by their reader."""
    drop = min(max(after - ch.first, 0), len(ch.points))
    if drop:
        del ch.points[:drop]
        ch.first += drop
