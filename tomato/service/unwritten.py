"""Records that a full state disk kept out of the database when tomato stopped: kept in the
runtime folder (private; in memory on most systems) and written at the next start."""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack

from ..errors import StateFullError, TomatoError

logger = logging.getLogger(__name__)

Statements = list[tuple[str, Any]]
"""SQL and its arguments: a tuple (one row) or a list of tuples (many rows)."""


def keep(path: Path, backlog: list[Statements]) -> None:
    """Write `backlog` to `path` (whole or not at all)."""
    rows = [[sql, isinstance(args, list), [list(a) for a in args] if isinstance(args, list)
             else list(args)] for statements in backlog for sql, args in statements]
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(msgpack.packb(rows))
    os.replace(partial, path)


def kept(path: Path) -> Statements:
    """The statements kept in `path` (none if there is no such file), to be committed in one
    transaction; raises TomatoError, naming the file, if it does not hold what `keep` wrote."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise TomatoError(f"{path}: cannot read the records kept there ({exc.strerror})"
                          ) from None
    try:
        rows = msgpack.unpackb(data)
        if not isinstance(rows, list):
            raise ValueError("not a list")
        statements: Statements = []
        for sql, many, args in rows:
            if not (isinstance(sql, str) and isinstance(many, bool) and isinstance(args, list)):
                raise ValueError(f"not a record: {sql!r:.60}")
            statements.append((sql, [tuple(a) for a in args] if many else tuple(args)))
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise TomatoError(f"{path}: not records kept by tomato ({exc}); move it away to start "
                          "without them") from None
    return statements


def replay(path: Path, committed: Callable[[Statements], bool], db: Path) -> None:
    """Write the records kept in `path`, if any, in one transaction (`committed`: False if
    the disk is full), then delete the file."""
    statements = kept(path)
    if not statements:
        return
    try:
        done = committed(statements)
    except sqlite3.Error as exc:
        raise TomatoError(f"{path}: cannot write the records kept there to {db} ({exc}); move "
                          "it away to start without them") from None
    if not done:
        raise StateFullError(f"cannot write the records kept in {path} to {db}: its disk is "
                             "full (free some space and start again)")
    path.unlink()
    logger.warning("the records kept in %s since tomato stopped on a full disk are written to "
                   "%s", path, db)
