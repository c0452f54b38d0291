"""The state store: SQLite (WAL), written by the supervisor alone, committed before replies."""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, cast

from ...codec import CODEC
from ...errors import StateDamagedError, StateFullError, TomatoError
from ...jobspec import Habits, JobSpec
from ...messages import JobInfo
from .storeschema import VERSION, upgrade
from .unwritten import Kept

logger = logging.getLogger(__name__)


REPAIR = ("restore it from a backup (`tomato backup`), or rebuild its records from the job "
          "folders with `tomato recover`")
"""What to do about a damaged or lost state database, said wherever it is found."""
FULL_BELOW = 1 << 20
"""Bytes free under which an I/O error opening the database is a full disk."""


_JOB_COLUMNS = ("jobid, jobname, status, sample, submitted, executed, completed, pipeline, "
                "owner, reason, jobpath, outputs, owner_name, pid, priority, held, after_jobs, "
                "after_any, pinned")
_COPIED = ("jobname", "sample", "status", "owner", "owner_name", "submitted", "executed",
           "completed", "pipeline", "reason", "home", "host", "priority", "held", "after_any",
           "pinned")
"""The fields of a cluster job's entry a copy keeps."""


def _job_info(row: tuple[Any, ...]) -> JobInfo:
    *fields, outputs, owner_name, pid, priority, held, after, after_any, pinned = row
    return cast(Any, JobInfo)(*fields, outputs=json.loads(outputs) if outputs else None,
                              owner_name=owner_name, pid=pid, priority=priority,
                              held=bool(held), after=tuple(json.loads(after or "[]")),
                              after_any=bool(after_any), pinned=pinned)


def _is_full(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or \
        "full" in str(exc)


def _commit(db: sqlite3.Connection, statements: list[tuple[str, Any]]) -> None:
    """Run `statements` in one transaction (rolled back if one fails)."""
    with db:  # committed on exit
        db.execute("BEGIN IMMEDIATE")
        for sql, args in statements:
            if isinstance(args, list):  # rows
                db.executemany(sql, args)
            else:
                db.execute(sql, args)


def now() -> str:
    return datetime.now(UTC).isoformat(sep=" ")


class Store:
    """Jobs, pipelines, devices and an event log in one SQLite file."""

    def __init__(self, path: Path, host: str | None = None, unwritten: Path | None = None
                 ) -> None:
        self.path = path
        self._kept = Kept(unwritten)
        """Records waiting for room, kept in `unwritten` too (None: in memory only)."""
        self.host = host
        """This tomato's name in its cluster (None: alone). A job whose `host` is another
        is a copy of one that runs there (`local` leaves those out)."""
        self._strict = 1  # until the service runs: a start on a full disk fails, saying so
        self._backlog: list[list[tuple[str, Any]]] = []
        self._memory: sqlite3.Connection | None = None
        """While records wait for room: the database with them, in memory (reads go here,
        so answers and the supervisor's decisions never lag behind what happened)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        try:
            # Before WAL mode is set: a newer tomato's database is refused as it was.
            if (was := upgrade(self._db)) not in (0, VERSION):
                logger.warning("%s: upgraded from schema %d to %d", path, was, VERSION)
            self._db.execute("PRAGMA journal_mode=WAL")
            # Every commit is on disk before it is answered: a submitted job, a status
            # reached, survive a power cut (the WAL is synced at each commit; its cost on a
            # submit is in the README's figures).
            self._db.execute("PRAGMA synchronous=FULL")
        except sqlite3.OperationalError as exc:  # a full disk shows as an I/O error here
            self._db.close()
            room = shutil.disk_usage(path.parent).free
            if room > FULL_BELOW:
                raise StateDamagedError(f"{path}: cannot be opened as tomato's state database "
                                        f"({exc}); {REPAIR}") from None
            raise StateFullError(f"cannot open the state database {path}: {exc} ({room} bytes "
                                 "free on its disk)") from None
        except ValueError as exc:  # a newer tomato's
            self._db.close()
            raise StateDamagedError(f"{path}: {exc}; start that tomato again, or move the "
                                    "file aside and rebuild it with `tomato recover`") from None
        except sqlite3.DatabaseError as exc:  # not a database, or damaged beyond opening
            self._db.close()
            raise StateDamagedError(f"{path}: is not a usable state database ({exc}); "
                                    f"{REPAIR}") from None
        try:
            self._kept.replay(self._committed, self.meta, path)
        except TomatoError:
            self._db.close()
            raise

    def quick_check(self) -> str | None:
        """What SQLite's quick check finds wrong with the database (None: nothing)."""
        try:
            found = [row[0] for row in self._db.execute("PRAGMA quick_check(3)")]
        except sqlite3.DatabaseError as exc:
            found = [str(exc)]
        return None if found == ["ok"] else " ".join("; ".join(found).split())  # one line

    def damaged(self, exc: Exception) -> StateDamagedError:
        """What a damaged page met while running is said as (and logged)."""
        problem = self.quick_check() or str(exc)
        logger.critical("%s: the state database is damaged (%s); stop tomato, then %s",
                        self.path, problem, REPAIR)
        return StateDamagedError(f"{self.path}: the state database is damaged ({problem}); "
                                 f"stop tomato, then {REPAIR}")

    def close(self) -> None:
        if not self.flush():
            kept = (f"wait in {self._kept.path}, to be written at the next start"
                    if self._kept.whole else "are lost, not all kept in a file")
            logger.error("%s: its disk is still full as tomato stops: %d records %s",
                         self.path, len(self._backlog), kept)
        self._db.close()
        if self._memory is not None:
            self._memory.close()

    # Writes. A full disk fails what a client is told is done (`strict`: nothing changes,
    # the client hears why); the service's own records wait in memory, in order, and are
    # written once there is room (`flush`, also before any later write).
    @contextmanager
    def strict(self) -> Iterator[None]:
        """Writes in this block raise StateFullError when the disk is full."""
        self._strict += 1
        try:
            yield
        finally:
            self._strict -= 1

    def _write(self, sql: str, args: tuple[Any, ...] = ()) -> None:
        self._record([(sql, args)])

    def _record(self, statements: list[tuple[str, Any]]) -> None:
        """Commit `statements` in one transaction, after what waits; on a full disk, they
        wait too (or are refused, if strict)."""
        if not (self.flush() and self._committed(statements)):
            self._full(statements)

    @property
    def _reads(self) -> sqlite3.Connection:
        return self._db if self._memory is None else self._memory

    def _committed(self, statements: list[tuple[str, Any]]) -> bool:
        """Commit `statements` in one transaction; False if the disk is full."""
        try:
            _commit(self._db, statements)
        except sqlite3.OperationalError as exc:
            if not _is_full(exc):
                raise
            return False
        return True

    def _full(self, statements: list[tuple[str, Any]]) -> None:
        if self._strict:
            self._refuse()
        if self._memory is None:
            logger.error("cannot record in %s: its disk is full; the service's records wait "
                         "in memory (kept in %s) until there is room", self.path,
                         self._kept.path or "no file")
            self._memory = sqlite3.connect(":memory:", isolation_level=None)
            self._db.backup(self._memory)
        statements = self._kept.add(statements)
        self._backlog.append(statements)
        _commit(self._memory, statements)

    def _refuse(self) -> NoReturn:
        raise StateFullError(f"cannot record in {self.path}: its disk is full; nothing was "
                             "changed (free some space and try again)")

    def serving(self) -> None:
        """The service runs: its own records may now wait for room (at start, a full disk
        fails the start)."""
        self._strict = 0

    def flush(self) -> bool:
        """Write the records that wait for room; True when none waits."""
        while self._backlog:
            if not self._committed(self._backlog[0]):
                return False
            self._backlog.pop(0)
            if not self._backlog and self._memory is not None:
                self._memory.close()
                self._memory = None
                self._kept.done()
                logger.warning("%s has room again: every record is written", self.path)
        return True

    @property
    def waiting(self) -> int:
        """Records waiting for room on the disk."""
        return len(self._backlog)

    def log(self, kind: str, subject: str, detail: str = "") -> None:
        self._write("INSERT INTO events (ts, kind, subject, detail) VALUES (?, ?, ?, ?)",
                    (now(), kind, subject, detail))

    # Jobs.
    def add_job(self, payload: dict[str, Any], owner: tuple[int, str], cwd: str,
                spec_of: Callable[[int], JobSpec], jobid: int | None = None,
                habits: Habits | None = None) -> JobSpec:
        """Queue a job (`q`); its spec is `spec_of(jobid)`, stored in the same transaction
        (`jobid`: the cluster's, else the next of this store). Raises StateFullError if the
        disk is full (records waiting first are written first)."""
        if not self.flush():
            self._refuse()
        try:
            return self._add_job(payload, owner, cwd, spec_of, jobid, habits or Habits())
        except sqlite3.OperationalError as exc:
            if not _is_full(exc):
                raise
            self._refuse()

    def _add_job(self, payload: dict[str, Any], owner: tuple[int, str], cwd: str,
                 spec_of: Callable[[int], JobSpec], jobid: int | None, habits: Habits
                 ) -> JobSpec:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            cur = self._db.execute(
                "INSERT INTO jobs (jobid, payload, sample, status, owner, owner_name, cwd, "
                "submitted, home, priority, held, after_jobs, after_any, pinned) VALUES "
                "(?, ?, '', 'q', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (jobid, json.dumps(payload), *owner, cwd, now(), self.host, habits.priority,
                 int(habits.held), json.dumps(list(habits.after)) if habits.after else None,
                 int(habits.after_any), habits.pinned))
            assert cur.lastrowid is not None
            spec = spec_of(cur.lastrowid)
            self._db.execute("UPDATE jobs SET jobname = ?, sample = ?, spec = ? WHERE jobid = ?",
                             (spec.jobname, spec.sample, CODEC.encode(spec), spec.jobid))
        return spec

    def spec(self, jobid: int) -> JobSpec:
        """The job's spec (raises KeyError for an unknown job)."""
        row = self._reads.execute("SELECT spec FROM jobs WHERE jobid = ?", (jobid,)).fetchone()
        if row is None or row[0] is None:
            raise KeyError(jobid)
        return cast(JobSpec, CODEC.decode(row[0]))

    def set_spec(self, spec: JobSpec) -> None:
        self.set_job(spec.jobid, spec=CODEC.encode(spec))

    def set_job(self, jobid: int, **fields: Any) -> None:
        names = ", ".join(f"{k} = ?" for k in fields)
        self._write(f"UPDATE jobs SET {names} WHERE jobid = ?", (*fields.values(), jobid))

    def job(self, jobid: int) -> JobInfo | None:
        row = self._reads.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE jobid = ?",
                                  (jobid,)).fetchone()
        return _job_info(row) if row else None

    def collected(self, jobid: int) -> tuple[str, str | None] | None:
        """(status, reason) with which the job's data collection ended, if it has."""
        row = self._reads.execute("SELECT detail FROM events WHERE kind = 'job collected' "
                                  "AND subject = ? ORDER BY id DESC LIMIT 1",
                                  (str(jobid),)).fetchone()
        return tuple(json.loads(row[0])) if row else None  # type: ignore[return-value]

    def record(self, jobid: int) -> dict[str, Any]:
        """What the user's record of a job holds (`jobdata.json`): ids, times, payload."""
        job = self.job(jobid)
        payload, cwd = self._reads.execute("SELECT payload, cwd FROM jobs WHERE jobid = ?",
                                           (jobid,)).fetchone()
        assert job is not None
        return {"jobid": jobid, "jobname": job.jobname, "sample": job.sample,
                "submitted": job.submitted, "owner": job.owner,
                "owner_name": job.owner_name, "cwd": cwd,
                "payload": json.loads(payload)}

    def jobs(self, statuses: tuple[str, ...] | None = None, name: str | None = None,
             local: bool = False, since: str | None = None) -> list[JobInfo]:
        """Jobs in jobid order; `local`: only those of this tomato (not copies of jobs
        another tomato of the cluster runs or has claimed); `since`: of the finished ones,
        only those that ended then or later."""
        sql, args = f"SELECT {_JOB_COLUMNS} FROM jobs WHERE 1", list[Any]()
        if since is not None:
            sql += " AND (completed IS NULL OR completed >= ?)"
            args.append(since)
        if local and self.host is not None:
            sql += " AND (host IS NULL OR host = ?)"
            args.append(self.host)
        if statuses:
            sql += f" AND status IN ({', '.join('?' * len(statuses))})"
            args.extend(statuses)
        if name is not None:
            sql += " AND instr(lower(coalesce(jobname, '')), lower(?)) > 0"
            args.append(name)
        return [_job_info(row) for row in self._reads.execute(sql + " ORDER BY jobid", args)]

    # The cluster's jobs: copies of those other tomatos run or were submitted on.
    def where(self, jobid: int) -> tuple[str | None, str | None]:
        """(home, host) of a job: where it was submitted, where it runs (None: alone, not
        claimed yet, or an unknown job)."""
        row = self._reads.execute("SELECT home, host FROM jobs WHERE jobid = ?",
                                  (jobid,)).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def copy_job(self, record: dict[str, Any], payload: dict[str, Any], cwd: str,
                 spec: JobSpec) -> None:
        """Keep a copy of a job of the cluster (`record`: its entry there)."""
        fields = {k: record.get(k) for k in _COPIED}
        fields["after_jobs"] = json.dumps(list(record.get("after") or [])) or None
        self._write(
            f"INSERT INTO jobs (jobid, payload, cwd, spec, {', '.join(fields)}) VALUES "
            f"(?, ?, ?, ?, {', '.join('?' * len(fields))})",
            (record["jobid"], json.dumps(payload), cwd, CODEC.encode(spec), *fields.values()))

    def restore_job(self, record: dict[str, Any], status: str, reason: str, jobpath: str
                    ) -> None:
        """A job rebuilt from its folder (`record`: its jobdata.json) by `tomato recover`."""
        self._write(
            "INSERT INTO jobs (jobid, jobname, payload, sample, status, owner, owner_name, "
            "cwd, submitted, completed, reason, jobpath) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "?, ?, ?)",
            (record["jobid"], record.get("jobname"), json.dumps(record.get("payload", {})),
             record.get("sample") or "", status, record.get("owner"),
             record.get("owner_name"), record.get("cwd"), record.get("submitted") or now(),
             now(), reason, jobpath))

    def max_jobid(self, below: int | None = None) -> int:
        """The highest jobid given (below `below`); without `below`, of records forgotten
        too (`forget_finished`), as SQLite's AUTOINCREMENT remembers it."""
        if below is not None:
            return self._reads.execute("SELECT max(jobid) FROM jobs WHERE jobid < ?",
                                       (below,)).fetchone()[0] or 0
        return self._reads.execute(
            "SELECT max(coalesce((SELECT max(jobid) FROM jobs), 0), coalesce((SELECT seq FROM "
            "sqlite_sequence WHERE name = 'jobs'), 0))").fetchone()[0]

    def forget_finished(self, before: str, below: int | None) -> list[int]:
        """Delete the records of the jobs that finished before `before` (and, in a
        cluster, whose jobid is below `below`), but for those a queued job is to run after;
        their ids are never given again. Returns them."""
        found = [row[0] for row in self._reads.execute(
            "SELECT jobid FROM jobs WHERE status IN ('c', 'ce', 'cd') AND completed < ? "
            "AND jobid < ? AND jobid NOT IN (SELECT after.value FROM jobs AS queued, "
            "json_each(queued.after_jobs) AS after WHERE queued.status IN ('q', 'qw'))",
            (before, below if below is not None else 1 << 62))]
        if found:
            self._write(f"DELETE FROM jobs WHERE jobid IN ({', '.join('?' * len(found))})",
                        tuple(found))
        return found

    def meta(self, name: str) -> str | None:
        row = self._reads.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def set_meta(self, name: str, value: str) -> None:
        with self.strict():
            self._write("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, value))

    # Pipelines.
    def sync_pipelines(self, names: list[str]) -> dict[str, tuple[str | None, bool, int | None]]:
        """Keep rows for `names` (adding new ones), drop the rest; returns name → state."""
        marks = ", ".join("?" * len(names))
        statements = [("INSERT OR IGNORE INTO pipelines (name) VALUES (?)", [(n,) for n in names]),
                      (f"DELETE FROM pipelines WHERE name NOT IN ({marks})", tuple(names))]
        self._record(statements)
        rows = self._reads.execute("SELECT name, sample, ready, jobid FROM pipelines")
        return {name: (sample, bool(ready), jobid) for name, sample, ready, jobid in rows}

    def set_pipeline(self, name: str, **fields: Any) -> None:
        names = ", ".join(f"{k} = ?" for k in fields)
        self._write(f"UPDATE pipelines SET {names} WHERE name = ?", (*fields.values(), name))

    # Devices.
    def set_device(self, name: str, driver: str, pid: int | None, state: str, restarts: int,
                   reason: str | None) -> None:
        self._write("INSERT OR REPLACE INTO devices VALUES (?, ?, ?, ?, ?, ?)",
                    (name, driver, pid, state, restarts, reason))

    def device_pids(self) -> list[int]:
        return [pid for (pid,) in self._reads.execute(
            "SELECT pid FROM devices WHERE pid IS NOT NULL")]
