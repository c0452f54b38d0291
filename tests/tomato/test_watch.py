"""`ketchup watch` as a person (in a pseudo-terminal) and as a script (JSON lines) sees it."""

from __future__ import annotations

import itertools
import json
import signal
import socket
import struct

import msgpack
from conftest import Terminal, payload, read_csv, records, until, watch_json


def test_watching_a_job_in_a_terminal_shows_it_run_to_the_end(lab):
    lab.prepare("dummy-5", "s1")
    jobid = lab.submit(payload("random", 3, 0.2), "looked-at")
    term = Terminal(lab, "watch", str(jobid))
    first = term.wait_for(lambda t: "status r" in t and "value=" in t and "━" in t,
                          what="status, progress bar and a value")
    assert f"job {jobid} looked-at" in first and "pipeline dummy-5" in first
    assert "1/1" in first and "worker" in first and "random" in first

    def value(text):
        return next(w for w in text.split() if w.startswith("value="))

    term.wait_for(lambda t: "value=" in t and value(t) != value(first), what="a new value")
    final = term.wait_for(lambda t: f"job {jobid} ended c" in t, what="the end line")
    assert f"results.{jobid}.nc" in final.replace("\n", "")
    assert term.exit_code() == 0


def test_watching_all_pipelines_in_a_terminal_and_leaving_with_ctrl_c(lab):
    lab.prepare("dummy-10", "s1")
    term = Terminal(lab, "watch")
    term.wait_for(lambda t: "dummy-5" in t and "dummy-10" in t, what="the pipelines")
    jobid = lab.submit(payload("sequential", 3, 0.1))
    row = term.wait_for(lambda t: any(line.startswith(" dummy-10") and f" {jobid} " in line
                                      and " r " in line and "value=" in line
                                      for line in t.splitlines()), what="the running job")
    assert "1/1" in row and "━" in row
    term.child.sendintr()
    assert term.exit_code() == 0
    assert "Traceback" not in term.history


def test_watch_json_gives_every_point_in_order_and_ends_with_the_status(lab):
    jobid = lab.submit(payload("sequential", 1, 0.05))
    watcher = watch_json(lab, str(jobid))
    lab.prepare("dummy-5", "s1")
    lines, code = records(watcher)
    assert code == 0
    assert lines[0]["event"] == "state"
    points = [r for r in lines if r["event"] == "point"]
    assert [p["values"]["value"] for p in points] == list(range(1, 21))
    assert [p["uts"] for p in points] == sorted(p["uts"] for p in points)
    assert any(r["event"] == "StepStarted" for r in lines)
    assert lines[-1]["event"] == "end" and lines[-1]["status"] == "c"
    assert f"results.{jobid}.nc" in " ".join(lines[-1]["outputs"])


def test_watch_of_a_cancelled_job_exits_non_zero(lab):
    lab.prepare("dummy-5", "s1")
    jobid = lab.submit(payload("sequential", 30, 0.1))
    watcher = watch_json(lab, str(jobid))
    until(lambda: lab.data_files(jobid), 10, "data")
    lab.ketchup("cancel", str(jobid))
    lines, code = records(watcher)
    assert code == 11
    assert lines[-1]["status"] == "cd"


def test_watch_says_when_tomato_stops_and_follows_it_when_it_is_back(tomato):
    watcher = watch_json(tomato)
    assert json.loads(watcher.stdout.readline())["event"] == "state"
    tomato.stop()
    assert json.loads(watcher.stdout.readline())["event"] == "disconnected"
    tomato.start()
    assert json.loads(watcher.stdout.readline())["event"] == "state"
    tomato.prepare("dummy-5", "s1")
    assert json.loads(watcher.stdout.readline())["event"] == "PipelineChanged"
    watcher.send_signal(signal.SIGINT)
    _, code = records(watcher)
    assert code == 0


def test_twenty_watchers_one_stuck_leave_the_job_unaffected(lab):
    stuck = socket.socket(socket.AF_UNIX)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect(str(lab.socket))
    frame = msgpack.packb([1, "sub", 1, "NoneType", None])
    stuck.sendall(struct.pack(">I", len(frame)) + frame)  # subscribes, then never reads
    watchers = [watch_json(lab) for _ in range(19)]
    for w in watchers:
        assert json.loads(w.stdout.readline())["event"] == "state"
    lab.prepare("dummy-5", "s1")
    jobid = lab.submit(payload("sequential", 1.5, 0.01))
    job = lab.wait_status(jobid, "c", "ce")
    assert job["status"] == "c"
    rows = read_csv(lab.data_files(jobid)[0])
    assert [v for _, v in rows] == list(range(1, 151))
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(rows)]
    # Generous bounds (two cores, a parallel test): a job held up by watchers shows seconds.
    assert max(gaps) < 1.0, max(gaps)
    assert rows[-1][0] - rows[0][0] < 2.5
    for w in watchers:
        w.send_signal(signal.SIGINT)
    for w in watchers:
        lines, code = records(w)
        values = [r["values"]["value"] for r in lines
                  if r["event"] == "point" and r["jobid"] == jobid]
        assert values == list(range(1, 151)), (len(values), code)
    assert lab.process.poll() is None
    stuck.close()
    assert len(lab.json("status")) == 2



def test_the_pipeline_is_released_when_data_collection_ends_before_outputs(lab):
    watcher = watch_json(lab)
    assert json.loads(watcher.stdout.readline())["event"] == "state"
    lab.prepare("dummy-5", "s1")
    jobid = lab.submit(payload("sequential", 0.3, 0.1, unlock_when_done=True))
    lab.wait_status(jobid, "c")
    watcher.send_signal(signal.SIGINT)
    lines, _ = records(watcher)
    released = next(i for i, r in enumerate(lines) if r["event"] == "PipelineChanged"
                    and r["pipeline"]["name"] == "dummy-5" and r["pipeline"]["jobid"] is None
                    and r["pipeline"]["ready"])
    ended = next(i for i, r in enumerate(lines) if r["event"] == "JobStatusChanged"
                 and r["status"] == "c")
    assert released < ended


def test_watching_a_queued_job_shows_its_time_from_its_start_to_its_end(lab):
    lab.ketchup("load", "s1", "dummy-5")
    jobid = lab.submit(payload("random", 1.5, 0.2))
    term = Terminal(lab, "watch", str(jobid))
    term.wait_for(lambda t: "status qw" in t and "elapsed -" in t, what="the queued job")
    lab.ketchup("ready", "dummy-5")
    final = term.wait_for(lambda t: f"job {jobid} ended c" in t, what="the end line")
    assert "elapsed 0:01" in final or "elapsed 0:02" in final, final  # not "-"
    assert term.exit_code() == 0
