"""Messages the cluster's tasks send the supervisor's mailbox (never on the wire)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PASS = object()
"""What Cluster.handle returns for a message that is not the cluster's."""


@dataclass(frozen=True)
class Copy:
    """Local message: the entry of a job this tomato does not write, to copy into its store
    (with its payload and submit folder if the store has no copy yet)."""

    record: dict[str, Any]
    payload: dict[str, Any] | None = None
    cwd: str = ""


@dataclass(frozen=True)
class Claimed:
    """Local message: how the claim of `jobid` for `pipeline` went."""

    jobid: int
    pipeline: str
    won: bool
    why: str = ""
    record: dict[str, Any] | None = None


@dataclass(frozen=True)
class LinkBack:
    """Local message: the link is up again: what waited for a claim may be planned."""
