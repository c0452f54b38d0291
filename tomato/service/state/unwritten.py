"""Records a full state disk keeps out of the database: besides the copy in memory, each is
appended to a file of the runtime folder (private; in memory on most systems), so that
neither a stop nor a crash of tomato loses them: the next start writes them first."""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack

from ...errors import StateFullError, TomatoError

logger = logging.getLogger(__name__)

Statements = list[tuple[str, Any]]
"""SQL and its arguments: a tuple (one row) or a list of tuples (many rows)."""

APPLIED = "unwritten records written"
"""The meta row holding the number of the last kept group written to the database (in the
same transaction as the group): a group is written once, even if tomato dies between
writing it and removing the file."""


class Kept:
    """Numbers each group of records that waits for room, and keeps it in `path` (None: in
    memory only)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._last = 0
        self._failed = False

    def replay(self, committed: Callable[[Statements], bool], meta: Callable[[str], str | None],
               db: Path) -> None:
        """Write what a previous run kept and has not written (`committed`: one transaction,
        False if the disk is full), then remove the file; raises TomatoError, naming the
        file, if it is not what tomato kept."""
        self._last = int(meta(APPLIED) or 0)
        if self.path is None or not (groups := [(n, g) for n, g in _read(self.path)
                                                if n > self._last]):
            self.done()
            return
        try:
            written = committed([s for _, group in groups for s in group])
        except sqlite3.Error as exc:
            raise TomatoError(f"{self.path}: cannot write the records kept there to {db} "
                              f"({exc}); move it away to start without them") from None
        if not written:
            raise StateFullError(f"cannot write the records kept in {self.path} to {db}: its "
                                 "disk is full (free some space and start again)")
        self._last = groups[-1][0]
        logger.warning("%d records kept in %s while the disk of %s was full are written",
                       len(groups), self.path, db)
        self.done()

    def add(self, statements: Statements) -> Statements:
        """`statements` with their number recorded, as they are to be written; kept in the
        file too (if it cannot be written, they wait in memory only: logged once)."""
        self._last += 1
        marked = [*statements, ("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                                (APPLIED, str(self._last)))]
        if self.path is not None and not self._failed:
            rows = [[sql, isinstance(args, list),
                     [list(a) for a in args] if isinstance(args, list) else list(args)]
                    for sql, args in marked]
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                with os.fdopen(fd, "ab") as f:
                    f.write(msgpack.packb([self._last, rows]))
            except OSError as exc:
                self._failed = True
                logger.error("cannot keep the records waiting for room in %s (%s): they "
                             "wait in memory only", self.path, exc.strerror)
        return marked

    @property
    def whole(self) -> bool:
        """Whether the file holds every group that waits."""
        return self.path is not None and not self._failed

    def done(self) -> None:
        """Nothing waits any more."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)
        self._failed = False


def _read(path: Path) -> list[tuple[int, Statements]]:
    """The numbered groups kept in `path` (none if there is no such file)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise TomatoError(f"{path}: cannot read the records kept there ({exc.strerror})"
                          ) from None
    unpacker = msgpack.Unpacker()
    unpacker.feed(data)
    groups, end = [], 0
    try:
        for number, rows in unpacker:
            if not (isinstance(number, int) and isinstance(rows, list)):
                raise ValueError("not a numbered group")
            groups.append((number, [_statement(*row) for row in rows]))
            end = unpacker.tell()
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise TomatoError(f"{path}: not records kept by tomato ({exc}); move it away to start "
                          "without them") from None
    if end < len(data):  # tomato died while it appended the last one
        logger.warning("%s: the last group of records was cut short as it was kept (tomato "
                       "stopped while writing it): it is not written", path)
    return groups


def _statement(sql: Any, many: Any, args: Any) -> tuple[str, Any]:
    if not (isinstance(sql, str) and isinstance(many, bool) and isinstance(args, list)):
        raise ValueError(f"not a record: {sql!r:.60}")
    return sql, [tuple(a) for a in args] if many else tuple(args)
