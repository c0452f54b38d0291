"""Jobs run end to end: real service, real CLI, real device and job processes, real files."""

from __future__ import annotations

import json
import os
import pwd
import time
from datetime import datetime

from conftest import EXAMPLES, WARM, payload, read_csv, until

THREE = """
devices:
  - {name: dev, address: null, channels: [1, 2, 3], driver: dummy,
     capabilities: [random, sequential], pollrate: 1}
pipelines:
  - name: p-*
    devices:
      - {tag: worker, name: dev, channel: each}
"""


def test_point_counts_follow_time_and_delay(tomato_factory):
    lab = tomato_factory(THREE, settings=WARM)  # three outputs: one server makes them all
    cases = {"p-1": (1, 0.1, 10), "p-2": (1, 0.4, 3), "p-3": (1, 0.05, 20)}
    jobs = {}
    for pipeline, (time_, delay, _) in cases.items():
        lab.prepare(pipeline, pipeline)
        jobs[pipeline] = lab.submit(payload("random", time_, delay, sample=pipeline))
    for pipeline, (_, _, expected) in cases.items():
        job = lab.wait_status(jobs[pipeline], "c", "ce", "cd")
        assert job["status"] == "c", job
        [data] = lab.data_files(jobs[pipeline])
        rows = read_csv(data)
        assert len(rows) == expected, (pipeline, len(rows))
        assert all(0 <= value < 1 for _, value in rows)
        assert [r[0] for r in rows] == sorted(r[0] for r in rows)


def test_sequential_values_are_one_to_n(lab):
    lab.prepare("dummy-5", "s1")
    (lab.root / "p.yml").write_text(json.dumps(payload("sequential", 1, 0.1)))
    out = lab.ketchup("submit", "p.yml").stdout  # as a person types it
    jobid = int(out.removeprefix("jobid: "))
    assert lab.wait_status(jobid, "c", "ce", "cd")["status"] == "c"
    [data] = lab.data_files(jobid)
    assert data.read_text().splitlines()[:2] == ["uts,value", "s,"]
    assert [value for _, value in read_csv(data)] == list(range(1, 11))
    log = (lab.jobdir(jobid) / "jobdata.log").read_text()
    assert "completed" in log
    assert f"INFO outputs: {lab.root / f'results.{jobid}.nc'}" in log  # by the supervisor
    assert (lab.jobdir(jobid) / "jobdata.json").exists()


def test_example_payloads_in_every_version_run(lab):
    lab.prepare("dummy-5", "sample_a")
    lab.prepare("dummy-10", "sample_a")
    jobs = [lab.submit(EXAMPLES / name) for name in ("random_2_2.yml", "random_2_0.1.yml")]
    for jobid in jobs:
        assert lab.wait_status(jobid, "c", "ce")["status"] == "c"
        assert len(read_csv(lab.data_files(jobid)[0])) == 20


def test_two_jobs_run_at_once_on_dummy_5_and_dummy_10(lab):
    lab.prepare("dummy-5", "s1")
    lab.prepare("dummy-10", "s1")
    a = lab.submit(payload(time=2))
    b = lab.submit(payload(time=2))
    lab.wait_status(a, "r")
    lab.wait_status(b, "r")
    assert lab.status(a) == "r"  # both at once
    pipelines = {lab.job(a)["pipeline"], lab.job(b)["pipeline"]}
    assert pipelines == {"dummy-5", "dummy-10"}
    for jobid in (a, b):
        assert lab.wait_status(jobid, "c", "ce")["status"] == "c"


def test_side_by_side_steps_on_two_components(tomato_factory):
    lab = tomato_factory((EXAMPLES / "devices.yml").read_text())
    lab.prepare("combo", "sample_c")
    jobid = lab.submit(EXAMPLES / "two_components.yml")
    job = lab.wait_status(jobid, "c", "ce")
    assert job["status"] == "c", job
    worker, aux = lab.data_files(jobid)
    assert "worker" in worker.name and "aux" in aux.name
    assert len(read_csv(worker)) == 10 and len(read_csv(aux)) == 5
    # Side by side: both started within half a second, not one after the other (1 s each).
    assert abs(read_csv(worker)[0][0] - read_csv(aux)[0][0]) < 0.5


def test_unlock_when_done_starts_the_next_job_for_the_same_sample(lab):
    lab.prepare("dummy-5", "s1")
    first = lab.submit(payload(time=0.5, unlock_when_done=True))
    second = lab.submit(payload(time=0.5))
    assert lab.wait_status(first, "c", "ce")["status"] == "c"
    assert lab.wait_status(second, "c", "ce")["status"] == "c"
    assert lab.job(second)["pipeline"] == "dummy-5"
    # The second did not unlock: the pipeline stays not ready.
    assert lab.pipelines()["dummy-5"]["ready"] is False


def test_without_unlock_the_pipeline_stays_not_ready_and_the_next_job_waits(lab):
    lab.prepare("dummy-5", "s1")
    first = lab.submit(payload(time=0.3))
    second = lab.submit(payload(time=0.3))
    assert lab.wait_status(first, "c")["status"] == "c"
    assert lab.status(second) == "qw"
    assert lab.pipelines()["dummy-5"]["ready"] is False
    lab.ketchup("ready", "dummy-5")
    assert lab.wait_status(second, "c")["status"] == "c"


def test_a_job_waits_qw_for_its_sample_then_runs(lab):
    jobid = lab.submit(payload(time=0.3, sample="later"))
    assert lab.status(jobid) == "qw"
    lab.ketchup("ready", "dummy-10")
    assert lab.status(jobid) == "qw"
    lab.ketchup("load", "later", "dummy-10")
    assert lab.wait_status(jobid, "c")["pipeline"] == "dummy-10"


def test_cancel_a_queued_job_is_immediate(lab):
    jobid = lab.submit(payload())
    out = lab.json("cancel", str(jobid))
    assert out[0]["status"] == "cd"
    assert lab.status(jobid) == "cd"
    lab.prepare("dummy-5", "s1")
    assert lab.status(jobid) == "cd"


def test_cancel_a_running_job_stops_the_device_and_stays_cd(lab):
    lab.prepare("dummy-5", "s1")
    jobid = lab.submit(payload("sequential", time=30, delay=0.1))
    lab.wait_status(jobid, "r")
    until(lambda: lab.data_files(jobid) and len(read_csv(lab.data_files(jobid)[0])) >= 3,
          10, "data to arrive")
    lab.ketchup("cancel", str(jobid))
    job = lab.wait_status(jobid, "cd", "ce", "c", timeout=10)
    assert job["status"] == "cd", job
    # The device stopped within 1 s of the cancel reaching the job: no point after that.
    log = (lab.jobdir(jobid) / "jobdata.log").read_text().splitlines()
    [line] = [x for x in log if "cancel requested" in x]
    asked = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
    assert read_csv(lab.data_files(jobid)[0])[-1][0] < asked + 1.0
    status = lab.run("tomato", "status", "--json").stdout
    assert '"5": "stopped"' in status
    rows = read_csv(lab.data_files(jobid)[0])
    assert [v for _, v in rows] == list(range(1, len(rows) + 1))
    # Nothing more arrives and the status stays cd.
    time.sleep(0.5)
    assert len(read_csv(lab.data_files(jobid)[0])) == len(rows)
    assert lab.status(jobid) == "cd"
    assert lab.pipelines()["dummy-5"]["ready"] is False
    assert lab.pipelines()["dummy-5"]["jobid"] is None


def test_search_finds_jobs_by_name(tomato):
    a = tomato.submit(payload(), "calibration-run")
    tomato.submit(payload(), "other")
    found = tomato.json("search", "calib")
    assert [j["jobid"] for j in found] == [a]
    tomato.ketchup("cancel", str(a))
    assert tomato.json("search", "calib") == []
    assert [j["jobid"] for j in tomato.json("search", "calib", "-c")] == [a]


def test_piped_tables_give_scripts_every_value_whole(lab):
    name = "a_rather_long_running_calibration_of_the_second_cycler"
    jobid = lab.submit(payload(sample="sample_with_a_long_name"), name)
    for args in (("status", "queue"), ("search", "calibration")):
        lines = lab.ketchup(*args).stdout.splitlines()  # captured: not a terminal
        assert lines[0].split("\t")[:4] == ["jobid", "jobname", "status", "sample"]
        assert lines[1].split("\t")[:4] == [str(jobid), name, "qw", "sample_with_a_long_name"]
        assert all(line == line.rstrip() for line in lines)
    pipelines = lab.ketchup("status").stdout.splitlines()
    assert pipelines[0].startswith("pipeline\tsample\tready")
    assert any(line.startswith("dummy-5\t-\tno\t-\t") for line in pipelines)


def test_status_of_jobs_is_the_seed_yaml(lab):
    jobid = lab.submit(payload(), "named")
    out = lab.ketchup("status", str(jobid)).stdout
    for key in ("- jobid: ", "  jobname: named", "  status: qw", "  submitted: ", "  executed: ",
                "  completed: ", "  pipeline: "):
        assert key in out, out
    # Who submitted it: the uid and the user name it had then (here and in the record).
    me = pwd.getpwuid(os.getuid()).pw_name
    assert f"  owner: {os.getuid()}\n" in out and f"  owner_name: {me}\n" in out, out
    pipelines = lab.ketchup("status", "-y").stdout  # as tomato 2.2's scripts ask
    assert pipelines == lab.ketchup("status", "--yaml").stdout and "- name: dummy-5" in pipelines


def test_queue_hides_finished_jobs_unless_asked(tomato):
    done = tomato.submit(payload())
    tomato.ketchup("cancel", str(done))
    waiting = tomato.submit(payload())
    assert [j["jobid"] for j in tomato.json("status", "queue")] == [waiting]
    assert [j["jobid"] for j in tomato.json("status", "queue", "--all")] == [done, waiting]
    table = tomato.ketchup("status", "queue", "-a").stdout
    assert "qw" in table and "cd" in table
