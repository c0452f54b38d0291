"""The state database against the job folders, so that no jobid is ever given twice.

A job folder (`jobs/<jobid>/`) is made when a job starts and is never removed by tomato; a
database that knows fewer jobs than the folders hold was lost or replaced (a `-wal` file
deleted after a crash, an older copy restored, an empty file). The service then does not
start: `tomato recover` rebuilds the missing records from the folders, and the ids go on
above them. A damaged database (SQLite's quick check) stops the start the same way.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from pathlib import Path

from ...errors import StateDamagedError
from ...jobfolder import JOB_LOG, JOB_RECORD
from ...jobstatus import Status
from .store import REPAIR, Store

logger = logging.getLogger(__name__)

ENDED = re.compile(r"\bjob (\d+) (completed|failed: (.*)|cancelled)$")
"""The job process's last word in its log."""
SERVICE_ENDED = re.compile(r"\btomato: job (\d+) ended (c|ce|cd)(?:: (.*))?$")
"""The service's last word in a job's log (see `note_end`)."""


def job_folders(jobs_dir: Path) -> list[int]:
    """The jobids of the job folders, in order."""
    if not jobs_dir.is_dir():
        return []
    return sorted(int(p.name) for p in jobs_dir.iterdir() if p.name.isdigit() and p.is_dir())


def check_state(store: Store, jobs_dir: Path) -> None:
    """Raise StateDamagedError (one line: the file, what is wrong, what to do) if the
    database is damaged or knows fewer jobs than `jobs_dir` holds."""
    if (problem := store.quick_check()) is not None:
        raise StateDamagedError(f"{store.path}: the state database is damaged ({problem}); "
                                f"{REPAIR}")
    top = store.max_jobid()
    if beyond := [j for j in job_folders(jobs_dir) if j > top]:
        raise StateDamagedError(
            f"{store.path}: knows jobs up to {top or 'none'}, but {jobs_dir} holds "
            f"{len(beyond)} job folder(s) beyond (up to {beyond[-1]}): the database was lost "
            f"or replaced (its -wal file?), and new jobs would reuse their ids; {REPAIR}")


def recover_state(db: Path, jobs_dir: Path, host: str | None) -> tuple[list[int], Path | None]:
    """Rebuild the records of the jobs whose folders the database does not know; a
    database that cannot be used is first moved aside (returned). Returns the jobids
    rebuilt."""
    aside = None
    try:
        store: Store | None = Store(db, host)
        damaged = store.quick_check() if store is not None else None
    except StateDamagedError as exc:
        store, damaged = None, str(exc)
    if damaged is not None:
        if store is not None:
            store.close()
        aside = db.with_name(f"{db.name}.damaged-{datetime.now(UTC):%Y%m%dT%H%M%S}")
        for suffix in ("", "-wal", "-shm"):
            part = db.with_name(db.name + suffix)
            if part.exists():
                part.rename(aside.with_name(aside.name + suffix))
        logger.warning("%s was damaged (%s): moved to %s", db, damaged, aside)
        store = None
    store = store or Store(db, host)
    rebuilt = []
    try:
        known = {j.jobid for j in store.jobs()}
        for jobid in job_folders(jobs_dir):
            if jobid in known:
                continue
            folder = jobs_dir / str(jobid)
            try:
                record = json.loads((folder / JOB_RECORD).read_text())
            except (OSError, ValueError):
                record = {"jobid": jobid}
            record["jobid"] = jobid
            status, reason = _ending(folder, jobid)
            store.restore_job(record, status, f"rebuilt from its folder by tomato recover; "
                                              f"{reason}", str(folder))
            rebuilt.append(jobid)
    finally:
        store.close()
    return rebuilt, aside


def _ending(folder: Path, jobid: int) -> tuple[str, str]:
    """How the job ended, as its log says (the service's word first, then its process's)."""
    try:
        lines = (folder / JOB_LOG).read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    process = None
    for line in reversed(lines):
        if (m := SERVICE_ENDED.search(line)) and int(m[1]) == jobid:
            return m[2], m[3] or "as its log says"
        if process is None and (m := ENDED.search(line)) and int(m[1]) == jobid:
            process = ((Status.COMPLETED, "it completed, as its log says")
                       if m[2] == "completed" else (Status.CANCELLED, "it was cancelled")
                       if m[2] == "cancelled" else (Status.FAILED, m[3]))
    return process or (Status.FAILED, "how it ended was not recorded")


def note_end(jobdir: Path, jobid: int, status: str, reason: str | None) -> None:
    """The service's last word in the job's log: how it ended (read by `recover`)."""
    from ...jobfolder import log_to_job

    try:
        log_to_job(jobdir, logging.INFO if status == Status.COMPLETED else logging.WARNING,
                   f"tomato: job {jobid} ended {status}"
                   f"{': ' + ' '.join(reason.split()) if reason else ''}")
    except OSError as exc:  # the folder is gone or its disk full: the store has it
        logger.warning("job %d: its end not noted in its log: %s", jobid, exc)
