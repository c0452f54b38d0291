"""Control messages every actor understands, answered by the runtime itself."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Ping:
    """Ask whether the actor's process is alive; answered outside the mailbox."""


@dataclass(frozen=True, slots=True)
class Pong:
    """Reply to Ping."""

    pid: int


@dataclass(frozen=True, slots=True)
class EventsMissed:
    """Delivered to a subscriber before the next event after it fell behind."""

    count: int


@dataclass(frozen=True, slots=True)
class Ok:
    """A reply that carries nothing but success."""


CONTROL_TYPES: tuple[type, ...] = (Ping, Pong, EventsMissed, Ok)
