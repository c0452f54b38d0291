"""The state database's schema is numbered (`PRAGMA user_version`) and upgraded one step at
a time: a database of every earlier schema, and one written before the numbers, opens with
its jobs and pipelines as they were; one of a newer tomato is refused, untouched."""

from __future__ import annotations

import re
import sqlite3

import pytest

from tomato.errors import StateDamagedError
from tomato.service.state.store import Store
from tomato.service.state.storeschema import SCHEMA, UNNUMBERED, VERSION

ADDED = {"spec": 2, "owner_name": 3, "home": 4, "host": 4, "priority": 5, "held": 5,
         "after_jobs": 5, "after_any": 5, "pinned": 5}
"""Each column of the jobs table added after schema 1, and the schema that added it."""


def schema(version: int) -> str:
    """The tables as schema `version` had them."""
    kept = "\n".join(line for line in SCHEMA.splitlines()
                     if ADDED.get(line.strip().split(" ")[0], 0) <= version)
    return re.sub(r",\s*\n\)", "\n)", kept)


def old_database(path, version: int, numbered: bool) -> None:
    db = sqlite3.connect(path)
    db.executescript(schema(version))
    db.execute("INSERT INTO jobs (jobid, jobname, payload, sample, status, owner, cwd, "
               "submitted, completed, pipeline, reason) VALUES (7, 'old', '{}', 's1', 'ce', "
               "1000, '/tmp', '2026-11-01T00:00:00', '2026-11-01T01:00:00', 'p1', 'why')")
    db.execute("INSERT INTO pipelines (name, sample, ready) VALUES ('p1', 's1', 1)")
    db.execute(f"PRAGMA user_version = {version if numbered else 0}")
    db.commit()
    db.close()


def columns(path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {row[1] for row in db.execute("PRAGMA table_info(jobs)")}


def user_version(path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("PRAGMA user_version").fetchone()[0]


@pytest.mark.parametrize(("version", "numbered"), [
    *((v, True) for v in range(1, VERSION + 1)), *((v, False) for v in range(1, UNNUMBERED + 1))],
    ids=lambda x: x if isinstance(x, int) else "numbered" if x else "before-numbers")
def test_a_database_of_each_earlier_schema_is_upgraded_with_its_records(tmp_path, version,
                                                                        numbered):
    path = tmp_path / "tomato.db"
    old_database(path, version, numbered)
    assert columns(path) == {c for c in columns_now(tmp_path) if ADDED.get(c, 0) <= version}
    store = Store(path)
    try:
        job = store.job(7)
        assert job is not None
        assert (job.jobname, job.sample, job.status, job.pipeline, job.reason) == \
            ("old", "s1", "ce", "p1", "why")
        assert store.sync_pipelines(["p1"]) == {"p1": ("s1", True, None)}
        assert store.max_jobid() == 7
        store.set_job(7, owner_name="someone", host="pc-a")  # the new columns are there
        assert store.where(7) == (None, "pc-a")
    finally:
        store.close()
    assert user_version(path) == VERSION
    assert columns(path) == columns_now(tmp_path)


def columns_now(tmp_path) -> set[str]:
    path = tmp_path / "new.db"
    Store(path).close()
    assert user_version(path) == VERSION
    return columns(path)


def test_a_database_of_a_newer_tomato_is_refused_untouched(tmp_path):
    path = tmp_path / "tomato.db"
    old_database(path, VERSION, numbered=True)
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {VERSION + 1}")
    before = path.read_bytes()
    with pytest.raises(StateDamagedError, match=rf"schema is {VERSION + 1}, newer than this "
                       rf"tomato's \({VERSION}\)"):
        Store(path)
    assert path.read_bytes() == before
