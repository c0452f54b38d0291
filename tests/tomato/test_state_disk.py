"""The state database's disk fills up: nothing is lost, the service says so and goes on."""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess

import pytest
from conftest import BIN, LEAN, WARM, payload, tmpfs, until

from tomato.messages import GetJobs

THREE = """
devices:
  - {name: d, address: null, channels: [5, 10, 15], driver: dummy}
pipelines:
  - name: dummy-*
    devices: [{tag: worker, name: d, channel: each}]
"""


@pytest.fixture
def state_disk(tmp_path):
    """A 512 KiB disk for the state database."""
    with tmpfs(tmp_path / "state", "512k") as mnt:
        yield mnt


def fill(disk) -> None:
    """Take every free byte of `disk` (a file `filler`)."""
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)


def test_a_full_state_disk_delays_the_record_of_a_job_end_and_refuses_new_work(
        tomato_factory, state_disk):
    lab = tomato_factory(THREE, settings=f'{WARM}[paths]\nstate = "{state_disk}/tomato.db"\n')
    lab.prepare("dummy-5", "s1")
    lab.prepare("dummy-10", "s2")
    jobid = lab.submit(payload("sequential", 1, 0.1))
    long = lab.submit(payload("sequential", 60, 0.1, sample="s2"))
    lab.wait_status(jobid, "r")
    lab.wait_status(long, "r")
    fill(state_disk)
    until(lambda: b"its disk is full" in lab.log.read_bytes(), 20, "the service to notice")
    # What a client asks is recorded, or refused with why: nothing half done.
    (lab.root / "p.yml").write_text("version: '0.2'\nsample: {name: s1}\nmethod: "
                                    "[{device: worker, technique: random, time: 1, delay: 0.1}]")
    refused = lab.ketchup("submit", "p.yml", check=False)
    assert refused.returncode == 1 and "its disk is full; nothing was changed" in refused.stderr
    assert "its disk is full" in lab.ketchup("load", "s3", "dummy-15", check=False).stderr
    assert lab.pipelines()["dummy-15"]["sample"] is None
    assert [j.jobid for j in lab.ask(GetJobs((), True))] == [jobid, long]
    # Stopping an experiment works on a full disk too (its record follows).
    lab.ketchup("cancel", str(long))
    # Both jobs end while the disk is full: what the service answers says so at once...
    job = lab.wait_status(jobid, "c", "ce", "cd")
    assert job["status"] == "c" and job["outputs"]
    cancelled = lab.wait_status(long, "cd", "ce", "c")
    assert cancelled["status"] == "cd" and cancelled["outputs"]
    assert [j.jobid for j in lab.ask(GetJobs())] == []  # none shown as unfinished
    assert recorded(state_disk, jobid, long) == ["r", "r"]  # ...while their ends wait
    (state_disk / "filler").unlink()
    until(lambda: recorded(state_disk, jobid, long) == ["c", "cd"], 20,
          "the records to be written once there is room")
    assert lab.process.poll() is None


def recorded(disk, *jobids: int) -> list[str]:
    """The jobs' statuses as the state database's file holds them."""
    db = sqlite3.connect(f"file:{disk}/tomato.db?mode=ro", uri=True)
    try:
        return [db.execute("SELECT status FROM jobs WHERE jobid = ?", (j,)).fetchone()[0]
                for j in jobids]
    finally:
        db.close()


def test_tomato_does_not_start_on_a_full_state_disk_and_says_why(tomato_factory, state_disk):
    lab = tomato_factory(settings=f'{LEAN}[paths]\nstate = "{state_disk}/tomato.db"\n')
    lab.stop()
    fill(state_disk)
    start = subprocess.run([str(BIN / "tomato"), "-t"], cwd=lab.root, env=lab.env,
                           capture_output=True, text=True, timeout=30)
    assert start.returncode == 1 and "Traceback" not in start.stderr
    assert start.stderr.startswith(f"error: cannot open the state database {state_disk}")
    (state_disk / "filler").unlink()
    lab.start()
    assert lab.pipelines()["dummy-5"]["sample"] is None


@pytest.mark.parametrize("how", ["stops", "crashes"])
def test_records_waiting_for_room_when_tomato_ends_are_written_at_its_next_start(
        tomato_factory, state_disk, how):
    lab = tomato_factory(settings=f'{LEAN}[paths]\nstate = "{state_disk}/tomato.db"\n')
    lab.prepare("dummy-5", "s1")
    jobid = lab.submit(payload("sequential", 0.5, 0.1))
    lab.wait_status(jobid, "r")
    fill(state_disk)
    assert lab.wait_status(jobid, "c", "ce", "cd")["status"] == "c"
    kept = lab.socket.parent / "unwritten-records"
    if how == "stops":
        lab.stop()
        assert f"records wait in {kept}, to be written at the next start" in lab.log.read_text()
    else:
        lab.process.kill()
        lab.process.wait()
    assert recorded(state_disk, jobid) == ["r"]  # the end never reached the disk...
    assert kept.stat().st_mode & 0o077 == 0  # ...it waits where only its user reads it
    records = kept.read_bytes()

    def start() -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BIN / "tomato"), "-t"], cwd=lab.root, env=lab.env,
                              capture_output=True, text=True, timeout=30)

    fill(state_disk)  # what closing the database freed (its write-ahead log) is taken too
    failed = start()  # still full: refused, the records still kept
    assert failed.returncode == 1 and "disk is full" in failed.stderr, failed.stderr
    assert kept.read_bytes() == records
    (state_disk / "filler").unlink()
    kept.write_bytes(b"\x93garbage")  # not what tomato kept: refused, naming the file
    failed = start()
    assert failed.returncode != 0 and "Traceback" not in failed.stderr
    assert failed.stderr.startswith(f"error: {kept}: not records kept by tomato")
    assert recorded(state_disk, jobid) == ["r"]
    kept.write_bytes(records)
    lab.start()
    assert recorded(state_disk, jobid) == ["c"] and lab.status(jobid) == "c"
    assert not kept.exists() and f"records kept in {kept}" in lab.log.read_text()
