"""The tables of the state database (tomato/service/store.py)."""

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
    host TEXT
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
