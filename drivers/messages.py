"""Messages between a job (or the supervisor) and a device actor."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter a technique accepts, with its type, unit and bounds."""

    name: str
    type: str = "float"
    unit: str = ""
    minimum: float | None = None
    exclusive_minimum: bool = False
    maximum: float | None = None
    required: bool = False
    default: Any = None
    doc: str = ""


@dataclass(frozen=True, slots=True)
class Column:
    """A quantity a technique records: unit, instrumental uncertainty, decimals written."""

    name: str
    unit: str = ""
    uncertainty: float | None = None
    decimals: int = 6


@dataclass(frozen=True, slots=True)
class Technique:
    """A capability of a driver: what it takes (params) and what it records (columns)."""

    name: str
    params: tuple[Param, ...] = ()
    columns: tuple[Column, ...] = ()
    doc: str = ""


@dataclass(frozen=True, slots=True)
class Task:
    """One step to run on one channel."""

    technique: str
    max_duration: float
    sampling_interval: float
    params: dict[str, Any] = field(default_factory=dict)


# Commands.
@dataclass(frozen=True, slots=True)
class Describe:
    """Ask for the device's driver, channels and techniques."""


@dataclass(frozen=True, slots=True)
class StartTask:
    """Start `task` on `channel`; refused if the channel is busy."""

    channel: str
    task: Task
    task_id: str


@dataclass(frozen=True, slots=True)
class StopTask:
    """Stop whatever runs on `channel`; replies once it has stopped."""

    channel: str


@dataclass(frozen=True, slots=True)
class ReadData:
    """Fetch the points of `channel` after sequence number `after` (and forget older ones)."""

    channel: str
    after: int = 0


@dataclass(frozen=True, slots=True)
class GetDeviceStatus:
    """Ask for the state of every channel."""


# Replies.
@dataclass(frozen=True, slots=True)
class DeviceInfo:
    name: str
    driver: str
    channels: tuple[str, ...]
    techniques: tuple[Technique, ...]
    pid: int


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    channel: str
    state: str
    """idle, running, done, stopped or error"""
    task_id: str | None = None
    error: str | None = None
    points: int = 0


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    name: str
    channels: tuple[ChannelStatus, ...]


@dataclass(frozen=True, slots=True)
class DataBatch:
    """Points [uts, value, ...] with sequence numbers first+1 .. first+len(points)."""

    channel: str
    task_id: str | None
    first: int
    points: list[list[float]]
    state: str
    error: str | None = None


# Events.
@dataclass(frozen=True, slots=True)
class DataReady:
    """New points on `channel`, the newest with sequence number `last`; read them with
    ReadData. Only a wake-up call: a subscriber that misses it loses nothing."""

    channel: str
    last: int


MESSAGES: tuple[type, ...] = (
    Param, Column, Technique, Task, Describe, StartTask, StopTask, ReadData, GetDeviceStatus,
    DeviceInfo, ChannelStatus, DeviceStatus, DataBatch, DataReady,
)
