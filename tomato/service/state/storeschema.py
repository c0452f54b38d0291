"""The tables of the state database (store.py), numbered, and the steps that upgrade an
older one."""

from __future__ import annotations

import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    jobid INTEGER PRIMARY KEY AUTOINCREMENT,
    jobname TEXT,
    payload TEXT NOT NULL,
    sample TEXT NOT NULL,
    status TEXT NOT NULL,
    owner INTEGER,
    owner_name TEXT,
    cwd TEXT,
    submitted TEXT NOT NULL,
    executed TEXT,
    completed TEXT,
    pipeline TEXT,
    pid INTEGER,
    reason TEXT,
    jobpath TEXT,
    outputs TEXT,
    spec BLOB,
    home TEXT,
    host TEXT,
    priority INTEGER NOT NULL DEFAULT 0,
    held INTEGER NOT NULL DEFAULT 0,
    after_jobs TEXT,
    after_any INTEGER NOT NULL DEFAULT 0,
    pinned TEXT
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status);
CREATE TABLE IF NOT EXISTS pipelines (
    name TEXT PRIMARY KEY,
    sample TEXT,
    ready INTEGER NOT NULL DEFAULT 0,
    jobid INTEGER
);
CREATE TABLE IF NOT EXISTS devices (
    name TEXT PRIMARY KEY,
    driver TEXT,
    pid INTEGER,
    state TEXT,
    restarts INTEGER NOT NULL DEFAULT 0,
    reason TEXT
);
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value TEXT
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT,
    detail TEXT
);
"""


VERSION = 5
"""The schema's number now, kept in the file's `PRAGMA user_version`."""

STEPS = {
    2: "ALTER TABLE jobs ADD COLUMN spec BLOB;",
    3: "ALTER TABLE jobs ADD COLUMN owner_name TEXT;",
    4: "ALTER TABLE jobs ADD COLUMN home TEXT; ALTER TABLE jobs ADD COLUMN host TEXT;",
    5: "ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0; "
       "ALTER TABLE jobs ADD COLUMN held INTEGER NOT NULL DEFAULT 0; "
       "ALTER TABLE jobs ADD COLUMN after_jobs TEXT; "
       "ALTER TABLE jobs ADD COLUMN after_any INTEGER NOT NULL DEFAULT 0; "
       "ALTER TABLE jobs ADD COLUMN pinned TEXT;",
}
"""How a database of schema N-1 becomes one of schema N: 2, the job's typed spec; 3, the
owner's name (a job of another PC of a cluster); 4, the tomato a job came from and the one
running it (the cluster); 5, a queued job's habits (its priority, whether it is held, the
jobs it runs after and how, the pipeline it is pinned to). Schema 1 is SCHEMA without the
columns these added."""

_LAST_COLUMN = {"spec": 2, "owner_name": 3, "host": 4}
"""Before numbered versions (builds up to 2026-12-02 wrote user_version 0): the schema a
database is at, by the newest column its jobs table has."""
UNNUMBERED = max(_LAST_COLUMN.values())
"""The last schema written without its number."""


def upgrade(db: sqlite3.Connection) -> int:
    """Bring the database to VERSION, one numbered step at a time, each step and its new
    number in one transaction (a crash between steps leaves a database of the step before);
    a new file gets SCHEMA at once. Returns the version it was at (0: new). Raises
    ValueError for a database of a newer tomato."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > VERSION:
        raise ValueError(f"its schema is {version}, newer than this tomato's ({VERSION}): "
                         "it was written by a newer tomato")
    was = version
    if version == 0:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        if "jobs" not in tables:  # a new database
            db.executescript(f"BEGIN; {SCHEMA} PRAGMA user_version = {VERSION}; COMMIT;")
            return 0
        # Numbered now (with the tables those builds added without a column: IF NOT EXISTS).
        columns = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
        version = max((n for c, n in _LAST_COLUMN.items() if c in columns), default=1)
        was = version
        db.executescript(f"BEGIN; {SCHEMA} PRAGMA user_version = {version}; COMMIT;")
    for step in range(version + 1, VERSION + 1):
        db.executescript(f"BEGIN; {STEPS[step]} PRAGMA user_version = {step}; COMMIT;")
    return was
