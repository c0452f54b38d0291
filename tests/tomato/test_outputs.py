"""Outputs: the datagram (NetCDF via yadg) and the archive, final and snapshots, real files."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from conftest import EXAMPLES, LEAN, open_datagram, payload, read_csv, tmpfs, until


def test_the_datagram_holds_every_point_with_units_and_uncertainty(lab):
    lab.prepare("dummy-5", "s1")
    jobid = lab.submit(payload("random", 2, 0.1), "dg")
    job = lab.wait_status(jobid, "c", "ce")
    assert job["status"] == "c", job
    nc, archive = lab.root / f"results.{jobid}.nc", lab.root / f"results.{jobid}.zip"
    assert sorted(job["outputs"]) == sorted([str(nc), str(archive)])
    tree = open_datagram(nc)
    [raw] = lab.data_files(jobid)
    assert list(tree.children) == ["worker"]  # one group per component role, as in 2.x
    step = tree["worker"]
    assert step.sizes["uts"] == len(read_csv(raw)) == 20
    assert [round(v, 6) for v in step["value"].values] == [r[1] for r in read_csv(raw)]
    assert list(step["step"].values) == [0] * 20
    assert step["uts"].attrs["units"] == "s"  # Unix time, for native drivers too
    assert step["value"].attrs["ancillary_variables"] == "value_uncertainty"
    assert "units" in step["value"].attrs
    assert list(step["value_uncertainty"].values) == pytest.approx([1e-6] * 20)
    component = json.loads(step.attrs["tomato_Component"])
    assert component == {"role": "worker", "device": "dummy_device", "driver": "dummy",
                         "address": None, "channel": "5", "name": "dummy::5",
                         "capabilities": component[
                             "capabilities"]} and "random" in component["capabilities"]
    attrs = tree.attrs
    assert attrs["jobid"] == jobid and attrs["jobname"] == "dg" and attrs["sample"] == "s1"
    assert attrs["pipeline"] == "dummy-5" and attrs["yadg_version"] and attrs["tomato_version"]
    assert json.loads(attrs["tomato_Job"])["payload"]["version"] == "2.2"
    assert attrs["archive_sha1"] == hashlib.sha1(archive.read_bytes()).hexdigest()
    with zipfile.ZipFile(archive) as zf:
        assert sorted(zf.namelist()) == sorted([raw.name, "jobdata.json", "jobdata.log"])


def test_sequential_values_read_back_from_the_datagram(lab):
    lab.prepare("dummy-10", "s1")
    jobid = lab.submit(payload("sequential", 1, 0.1))
    lab.wait_status(jobid, "c")
    tree = open_datagram(lab.root / f"results.{jobid}.nc")
    [node] = [tree[name] for name in tree.children]
    assert list(node["value"].values) == list(range(1, 11))


def test_custom_prefix_and_relative_output_path(lab):
    lab.prepare("dummy-5", "sample_a")
    lab.prepare("dummy-10", "sample_a")
    first = lab.submit(EXAMPLES / "random_2_2.yml")
    sub = lab.root / "sub"
    sub.mkdir()
    (sub / "p.yml").write_text(json.dumps(payload(
        time=0.3, sample="sample_a", output={"path": "out/deeper", "prefix": "run_b"})))
    second = lab.json("submit", "p.yml", cwd=sub)["jobid"]
    lab.wait_status(first, "c")
    lab.wait_status(second, "c")
    assert (lab.root / "random_2_2.nc").exists() and (lab.root / "random_2_2.zip").exists()
    assert (sub / "out" / "deeper" / "run_b.nc").exists()
    assert (sub / "out" / "deeper" / "run_b.zip").exists()


def test_absolute_output_path(lab, tmp_path):
    target = tmp_path / "elsewhere"
    lab.prepare("dummy-5", "s1")
    jobid = lab.submit(payload(time=0.3, output={"path": str(target)}))
    lab.wait_status(jobid, "c")
    assert (target / f"results.{jobid}.nc").exists()


def test_snapshot_mid_run_has_fewer_points_than_the_final_datagram(lab, tmp_path):
    lab.prepare("dummy-5", "s1")
    jobid = lab.submit(payload("sequential", 2, 0.05))
    lab.wait_status(jobid, "r")
    lab.wait_points(jobid, 5)
    here = tmp_path / "caller"
    here.mkdir()
    out = lab.ketchup("snapshot", str(jobid), cwd=here)
    assert out.returncode == 0 and out.stderr == ""
    snap = open_datagram(here / f"snapshot.{jobid}.nc")
    assert (here / f"snapshot.{jobid}.zip").exists()
    lab.wait_status(jobid, "c")
    final = open_datagram(lab.root / f"results.{jobid}.nc")
    [name] = final.children
    assert 5 <= snap[name].sizes["uts"] < final[name].sizes["uts"] == 40
    assert list(snap[name]["value"].values) == list(range(1, snap[name].sizes["uts"] + 1))
    # On a finished job: a warning, and the files are still written (overwritten). Several
    # jobs at once, as in tomato 2.2: each is tried, a failure is said, with its exit code.
    again = lab.ketchup("snapshot", "999999", str(jobid), cwd=here, check=False)
    assert again.returncode == 4 and "999999" in again.stderr, again
    assert f"warning: job {jobid}" in again.stderr
    assert again.stdout.split() == [str(here / f"snapshot.{jobid}.{x}") for x in ("nc", "zip")]
    assert open_datagram(here / f"snapshot.{jobid}.nc")[name].sizes["uts"] == 40
    # Where something else is in the way, the snapshot goes beside it, saying so...
    blocked = tmp_path / "blocked"
    (blocked / f"snapshot.{jobid}.nc").mkdir(parents=True)
    beside = lab.ketchup("snapshot", str(jobid), cwd=blocked)
    assert f"exists and is not this job's: written as snapshot.{jobid}.job{jobid}.nc" in \
        beside.stderr
    assert (blocked / f"snapshot.{jobid}.job{jobid}.nc").is_file()
    # ... and where it cannot be written at all: exit 9, naming the file.
    (blocked / f"snapshot.{jobid}.job{jobid}.nc").unlink()
    (blocked / f"snapshot.{jobid}.job{jobid}.nc").mkdir()
    failed = lab.ketchup("snapshot", str(jobid), cwd=blocked, check=False)
    assert failed.returncode == 9 and f"snapshot.{jobid}.job{jobid}.nc" in failed.stderr, \
        failed


def test_snapshot_of_a_queued_job_is_refused(lab):
    jobid = lab.submit(payload())
    result = lab.ketchup("snapshot", str(jobid), check=False)
    assert result.returncode == 5 and "has not started" in result.stderr
    assert not list(lab.root.glob("snapshot.*"))


def test_periodic_snapshots_are_written_while_the_job_runs(lab):
    lab.prepare("dummy-5", "s1")
    jobid = lab.submit(payload("sequential", 2.5, 0.1,
                                  snapshot={"frequency": 1, "path": "snaps"}))
    path = lab.root / "snaps" / f"snapshot.{jobid}.nc"
    until(path.exists, 10, "the first periodic snapshot")  # at ~1 s of a 2.5 s job
    assert lab.status(jobid) == "r"
    snap = open_datagram(path)
    [name] = snap.children
    assert 0 < snap[name].sizes["uts"] < 25
    lab.wait_status(jobid, "c")


def test_outputs_are_written_after_cancel(lab):
    lab.prepare("dummy-5", "s1")
    jobid = lab.submit(payload("sequential", 30, 0.1))
    lab.wait_points(jobid, 3)
    lab.ketchup("cancel", str(jobid))
    job = lab.wait_status(jobid, "cd", "ce")
    assert job["status"] == "cd"
    tree = open_datagram(lab.root / f"results.{jobid}.nc")
    [name] = tree.children
    assert tree[name].sizes["uts"] == len(read_csv(lab.data_files(jobid)[0])) >= 3
    assert tree.attrs["status"] == "cd"


def test_an_output_path_that_is_a_file_ends_ce_and_keeps_the_data(lab):
    (lab.root / "occupied").write_text("a file, not a folder")
    lab.prepare("dummy-5", "s1")
    jobid = lab.submit(payload(time=0.3, output={"path": "occupied"}))
    job = lab.wait_status(jobid, "c", "ce")
    assert job["status"] == "ce" and "outputs in" in job["reason"], job
    assert len(read_csv(lab.data_files(jobid)[0])) == 3
    assert job["jobpath"] == str(lab.jobdir(jobid))
    out = lab.ketchup("status", str(jobid)).stdout
    assert "jobpath:" in out and "reason:" in out
    assert lab.ketchup("watch", str(jobid), check=False).returncode == 10  # ended ce


def test_yadg_failing_on_the_raw_data_ends_ce_and_still_delivers_the_archive(lab):
    lab.prepare("dummy-5", "s1")
    jobid = lab.submit(payload("sequential", 2, 0.1))
    until(lambda: lab.data_files(jobid), 10, "the raw data file")
    with lab.data_files(jobid)[0].open("a") as f:  # a corrupted line in the raw data
        f.write("not-a-number,garbage\n")
    job = lab.wait_status(jobid, "c", "ce")
    assert job["status"] == "ce"
    assert "could not convert string to float" in job["reason"]
    assert (lab.root / f"results.{jobid}.zip").exists()
    assert not (lab.root / f"results.{jobid}.nc").exists()
    log = (lab.jobdir(jobid) / "jobdata.log").read_text()
    assert "could not convert string to float" in log


@pytest.fixture
def small_disk(tmp_path):
    """A 64 KiB disk for the job folders."""
    with tmpfs(tmp_path / "small", "64k") as mnt:
        yield mnt


def test_disk_full_while_appending_ends_ce_and_keeps_what_was_written(tomato_factory,
                                                                      small_disk):
    lab = tomato_factory(settings=f'{LEAN}[paths]\njobs = "{small_disk}/jobs"\n')
    lab.prepare("dummy-5", "s1")
    jobid = lab.submit(payload("sequential", 120, 0.001))
    job = lab.wait_status(jobid, "c", "ce", timeout=60)
    assert job["status"] == "ce" and "No space left on device" in job["reason"], job
    [raw] = sorted(Path(job["jobpath"]).glob("*.csv"))
    assert raw.is_relative_to(small_disk)
    assert raw.read_bytes().endswith(b"\n")
    rows = read_csv(raw)
    assert len(rows) > 100
    assert [v for _, v in rows] == list(range(1, len(rows) + 1))
    # The outputs (on another disk) still hold all of it.
    tree = open_datagram(lab.root / f"results.{jobid}.nc")
    assert tree["worker"].sizes["uts"] == len(rows)
