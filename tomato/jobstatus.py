"""A job's status: one name for each, as tomato 0.2 and 2.x spell them on the wire, in the
database and in every output (`ketchup status`, `--json`, the API)."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """A str: compares, prints, encodes and stores as its letters."""

    QUEUED = "q"
    """Queued; no pipeline can run it yet."""
    MATCHED = "qw"
    """Queued, and a pipeline can run it (it waits for it to be free, loaded, ready)."""
    RUNNING = "r"
    CANCELLING = "rd"
    """Running, its cancel asked for: its devices are being stopped."""
    COMPLETED = "c"
    FAILED = "ce"
    """Completed with an error."""
    CANCELLED = "cd"


PENDING = (Status.QUEUED, Status.MATCHED)
ACTIVE = (Status.RUNNING, Status.CANCELLING)
FINISHED = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)
NEXT = {Status.QUEUED: {Status.MATCHED, Status.RUNNING, Status.CANCELLED, Status.FAILED},
        Status.MATCHED: {Status.RUNNING, Status.CANCELLED, Status.FAILED},
        Status.RUNNING: {Status.CANCELLING, Status.COMPLETED, Status.FAILED, Status.CANCELLED},
        Status.CANCELLING: {Status.COMPLETED, Status.FAILED, Status.CANCELLED}}
"""The moves a status may make: statuses never go backwards."""


def can_move(old: str, new: str) -> bool:
    return old in NEXT and new in NEXT[Status(old)]


def moves(old: str, new: str) -> bool:
    """Whether a copy of a job (in a cluster) moves from `old` to `new`: a queued one may
    have ended elsewhere; statuses never go backwards."""
    return old != new and (can_move(old, new) or (old in PENDING and new in FINISHED))
