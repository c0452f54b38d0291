"""No jobid is ever given twice, whatever happens to the state database: a lost `-wal`, an
empty or damaged file stop the start in one line saying what to do; `tomato recover`
rebuilds the records from the job folders; `tomato backup` copies it while tomato runs."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
from contextlib import closing

from conftest import BIN, payload


def start_fails(lab) -> str:
    """`tomato -t` in the lab's folder, which must refuse to start; its last line."""
    done = subprocess.run([str(BIN / "tomato"), "-t"], cwd=lab.folder, env=lab.env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 13, done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr.strip().splitlines()[-1]


def ran_one_job(tomato_factory):
    lab = tomato_factory()
    lab.prepare("dummy-5", "s1")
    jobid = lab.submit(payload(time=0.3))
    assert lab.wait_status(jobid, "c")["status"] == "c"
    return lab, jobid


def crash(lab) -> None:
    lab.process.send_signal(signal.SIGKILL)
    lab.process.wait(10)


def test_a_lost_wal_stops_the_start_and_recover_keeps_every_jobid(tomato_factory):
    lab, jobid = ran_one_job(tomato_factory)
    results = lab.root / f"results.{jobid}.nc"
    before = results.stat().st_mtime_ns
    crash(lab)
    db = lab.folder / "tomato.db"
    (lab.folder / "tomato.db-wal").unlink()  # everything since the last checkpoint
    line = start_fails(lab)
    assert line.startswith(f"error: {db}: knows jobs up to none, but {lab.folder / 'jobs'} "
                           "holds 1 job folder(s) beyond (up to 1)")
    assert "`tomato recover`" in line
    out = lab.run("tomato", "recover").stdout
    assert f"rebuilt 1 job record(s) from {lab.folder / 'jobs'}: jobs 1" in out
    lab.start()
    job = lab.job(jobid)
    assert job["status"] == "c" and "rebuilt from its folder" in job["reason"]
    lab.prepare("dummy-5", "s1")
    again = lab.submit(payload(time=0.3))
    assert again == jobid + 1  # never jobid 1 again
    assert lab.wait_status(again, "c")["status"] == "c"
    assert results.stat().st_mtime_ns == before  # its results untouched


def test_an_empty_or_damaged_database_stops_the_start_in_one_line(tomato_factory):
    lab, _ = ran_one_job(tomato_factory)
    lab.stop()
    db = lab.folder / "tomato.db"
    with db.open("r+b") as f:  # a damaged page in the middle of the file
        f.seek(db.stat().st_size // 2)
        f.write(os.urandom(2048))
    line = start_fails(lab)
    assert line.startswith(f"error: {db}: ") and "`tomato recover`" in line
    out = lab.run("tomato", "recover").stdout
    assert "the damaged database was moved to" in out and "jobs 1" in out
    db.write_bytes(b"")  # a 0-byte file, the job folder still there
    assert "holds 1 job folder(s) beyond" in start_fails(lab)


def test_a_recover_while_tomato_runs_is_refused(tomato_factory):
    lab = tomato_factory()
    refused = lab.run("tomato", "recover", check=False)
    assert refused.returncode == 5 and "tomato is running" in refused.stderr


def test_a_backup_is_taken_while_tomato_runs(tomato_factory, tmp_path):
    lab, jobid = ran_one_job(tomato_factory)
    copy = tmp_path / "backup.db"
    assert "backed up" in lab.run("tomato", "backup", str(copy)).stdout
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    with closing(sqlite3.connect(copy)) as db:
        assert db.execute("SELECT jobid, status FROM jobs").fetchall() == [(jobid, "c")]
    again = lab.run("tomato", "backup", str(copy), check=False)
    assert again.returncode == 1 and "exists" in again.stderr  # never overwritten
