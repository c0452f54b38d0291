"""Records kept for a full state disk (`Kept`) are written once, in order, whatever point
tomato died at; with a real SQLite database (the service's full-disk cases are in
tests/tomato/test_state_disk.py)."""

from __future__ import annotations

import logging
import sqlite3

import msgpack
import pytest

from tomato.errors import TomatoError
from tomato.service.state.unwritten import Kept


@pytest.fixture
def db(tmp_path):
    db = sqlite3.connect(tmp_path / "tomato.db", isolation_level=None)
    db.executescript("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT);"
                     "CREATE TABLE events (n INTEGER);")
    yield db
    db.close()


def commit(db, statements) -> bool:
    with db:
        db.execute("BEGIN IMMEDIATE")
        for sql, args in statements:
            db.execute(sql, args)
    return True


def meta(db):
    def value(name):
        row = db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None
    return value


def events(db) -> list[int]:
    return [n for (n,) in db.execute("SELECT n FROM events")]


def test_groups_written_before_tomato_died_are_not_written_again(tmp_path, db):
    kept = Kept(tmp_path / "kept")
    groups = [kept.add([("INSERT INTO events VALUES (?)", (n,))]) for n in (1, 2, 3)]
    commit(db, groups[0] + groups[1])  # the disk had room for two; then tomato died
    Kept(tmp_path / "kept").replay(lambda s: commit(db, s), meta(db), tmp_path / "tomato.db")
    assert events(db) == [1, 2, 3]
    assert not (tmp_path / "kept").exists()
    later = Kept(tmp_path / "kept")  # numbering goes on from the last written
    later.replay(lambda s: commit(db, s), meta(db), tmp_path / "tomato.db")
    assert later.add([("INSERT INTO events VALUES (?)", (4,))])[-1][1] == (
        "unwritten records written", "4")


def test_a_group_cut_short_as_tomato_died_is_left_out_and_said(tmp_path, db, caplog):
    kept = Kept(tmp_path / "kept")
    kept.add([("INSERT INTO events VALUES (?)", (1,))])
    torn = msgpack.packb([2, [["INSERT INTO events VALUES (?)", False, [2]]]])
    with (tmp_path / "kept").open("ab") as f:
        f.write(torn[:-3])
    with caplog.at_level(logging.WARNING):
        kept.replay(lambda s: commit(db, s), meta(db), tmp_path / "tomato.db")
    assert events(db) == [1]
    assert "the last group of records was cut short" in caplog.text


def test_a_file_that_is_not_kept_records_is_refused_and_left_as_it_is(tmp_path, db):
    (tmp_path / "kept").write_bytes(msgpack.packb({"rm": "-rf"}))
    with pytest.raises(TomatoError, match="kept: not records kept by tomato"):
        Kept(tmp_path / "kept").replay(lambda s: commit(db, s), meta(db), tmp_path / "x.db")
    assert events(db) == [] and (tmp_path / "kept").exists()
