"""Messages between a job (or the supervisor) and a device actor."""

from __future__ import annotations

from dataclasses import field
from typing import Any

from tomato.actors import Message


class Param(Message):
    """One parameter a technique accepts, with its type, unit, bounds and options.

    `type` is float, int, str, bool or quantity (a number with `unit`, or a string such as
    "0.5 s" that converts to it; bounds are in `unit`). With `coerce`, a value that
    converts to `type` is taken ("5" for an int), as DriverInterface 2.1 does.
    """

    name: str
    type: str = "float"
    unit: str = ""
    minimum: float | None = None
    exclusive_minimum: bool = False
    maximum: float | None = None
    required: bool = False
    default: Any = None
    doc: str = ""
    options: tuple[Any, ...] | None = None
    coerce: bool = False


class Column(Message):
    """A quantity a technique records: unit, instrumental uncertainty, decimals written."""

    name: str
    unit: str = ""
    uncertainty: float | None = None
    decimals: int = 6


class Technique(Message):
    """A capability of a driver: what it takes (params) and what it records (columns).

    A `free_form` technique's points are records of any shape, `[uts, {name: value}]`
    (a value a number, a string or a nested list), the first point and any whose layout
    changed carrying a third item, `{"units": {name: unit}, "dims": {name: [dim, ...]},
    "coords": {dim: [value, ...]}}` (dims beyond `uts`); its `columns` are empty.
    """

    name: str
    params: tuple[Param, ...] = ()
    columns: tuple[Column, ...] = ()
    doc: str = ""
    free_form: bool = False


class Task(Message):
    """One step to run on one channel."""

    technique: str
    max_duration: float
    sampling_interval: float
    params: dict[str, Any] = field(default_factory=dict)


# Commands.
class Describe(Message):
    """Ask for the device's driver, channels and techniques."""


class StartTask(Message):
    """Start `task` on `channel`; refused if the channel is busy."""

    channel: str
    task: Task
    task_id: str


class StopTask(Message):
    """Stop whatever runs on `channel`; replies once it has stopped."""

    channel: str


class ReadData(Message):
    """Fetch the points of `channel` after sequence number `after` (and forget older ones)."""

    channel: str
    after: int = 0


class ReadMany(Message):
    """ReadData for several channels at once: (channel, after) each; the reply is
    DataBatches, in the same order."""

    reads: tuple[tuple[str, int], ...]


class GetDeviceStatus(Message):
    """Ask for the state of every channel."""


# Replies.
class DeviceInfo(Message):
    name: str
    driver: str
    channels: tuple[str, ...]
    techniques: tuple[Technique, ...]
    pid: int


class ChannelStatus(Message):
    channel: str
    state: str
    """idle, running, done, stopped or error"""
    task_id: str | None = None
    error: str | None = None
    points: int = 0


class DeviceStatus(Message):
    name: str
    channels: tuple[ChannelStatus, ...]


class DataBatch(Message):
    """Points [uts, value, ...] (a free-form technique's: records, see Technique) with
    sequence numbers first+1 .. first+len(points)."""

    channel: str
    task_id: str | None
    first: int
    points: list[list[Any]]
    state: str
    error: str | None = None
    notices: tuple[str, ...] = ()
    """What the driver told the task's job since the last read (a fault it recovered
    from)."""


# Components (a channel of the device: what tomato 2.x calls a component).
class AttrInfo(Message):
    """An attribute of a component: its type, unit, whether it can be set (`rw`), whether
    it is part of the component's status, its bounds and options."""

    name: str
    type: str
    unit: str = ""
    rw: bool = False
    status: bool = False
    minimum: float | None = None
    maximum: float | None = None
    options: tuple[Any, ...] | None = None


class GetComponent(Message):
    """Ask for a channel's status, attrs, capabilities and constants."""

    channel: str


class ComponentInfo(Message):
    channel: str
    driver: str
    running: bool
    status: dict[str, Any]
    attrs: tuple[AttrInfo, ...]
    capabilities: tuple[str, ...]
    constants: dict[str, Any]


class GetAttrs(Message):
    """Read attrs of a channel (`names` empty: all of them)."""

    channel: str
    names: tuple[str, ...] = ()


class SetAttr(Message):
    """Set an attr of a channel; the driver checks and converts the value."""

    channel: str
    name: str
    value: Any


class AttrValues(Message):
    """Attr values (a quantity as its magnitude, its unit in `units`)."""

    channel: str
    values: dict[str, Any]
    units: dict[str, str]


class GetLastData(Message):
    """Ask for the last point a channel measured (in a task or on its own)."""

    channel: str


class Measure(Message):
    """Measure once on an idle channel; replies with the point (LastData)."""

    channel: str


class LastData(Message):
    """A channel's last point ([uts, value per column], or a free-form record), if any."""

    channel: str
    point: list[Any] | None


class RegisterComponent(Message):
    """Connect to a channel's instrument again (after it failed to register)."""

    channel: str


class ResetComponent(Message):
    """Stop whatever runs on a channel and bring it back to its idle state."""

    channel: str


# Events.
class IdleData(Message):
    """A point measured on an idle channel (published under the topic "idle")."""

    channel: str
    point: list[Any]


class DataReady(Message):
    """New points on `channel`, the newest with sequence number `last`; read them with
    ReadData. Only a wake-up call: a subscriber that misses it loses nothing."""

    channel: str
    last: int


class DataBatches(Message):
    batches: tuple[DataBatch, ...]


class ChannelsReady(Message):
    """News of many channels at once, published under the topic "ready" at most once per
    READY_GAP: `batches`, the new points of running channels (sequence numbers after the
    last such push: none twice); `channels`, those with other news since they were last
    read (a task's end, a notice): a wake-up call to read them, as DataReady. The points
    stay in the device until a read or an Acknowledge says they were kept."""

    channels: tuple[str, ...]
    batches: tuple[DataBatch, ...] = ()


class Acknowledge(Message):
    """(channel, after) each: the reader kept every point up to `after`; the device may
    forget them. A tell: no reply."""

    reads: tuple[tuple[str, int], ...]


class DeviceConfig(Message):
    """What a device process is told as it starts, on its standard input (its socket is on
    its command line, which names the process for `ps` and for a restarted tomato)."""

    name: str
    driver: str
    channels: tuple[str, ...]
    settings: dict[str, Any]
    """The driver's settings (settings.toml's [drivers.NAME]): they may hold passwords."""
    address: str | None
    log_level: str
    supervisor: str | None
    """The supervisor's socket: the device stops when it is gone and no task runs..."""
    orphan_grace: float
    """...for this many seconds."""
    owner_pidfile: str | None
    """Take commands only from the process whose pid this file holds and its children
    (None: from any process of this user)."""


COMPONENT_REQUESTS = (
    GetComponent, GetAttrs, SetAttr, GetLastData, Measure, RegisterComponent, ResetComponent,
)
"""What a device answers about one of its channels (a component), its driver's calls."""

MESSAGES: tuple[type, ...] = (
    Param, Column, Technique, Task, Describe, StartTask, StopTask, ReadData, GetDeviceStatus,
    DeviceInfo, ChannelStatus, DeviceStatus, DataBatch, DataReady, AttrInfo, GetComponent,
    ComponentInfo, GetAttrs, SetAttr, AttrValues, GetLastData, Measure, LastData,
    RegisterComponent, ResetComponent, IdleData, ReadMany, DataBatches, ChannelsReady,
    Acknowledge, DeviceConfig,
)
