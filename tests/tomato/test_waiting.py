"""A queued job says why it waits, in a phrase a person can act on: in `status queue`,
`status ID`, `--json` and `watch`."""

from __future__ import annotations

import json

import yaml
from conftest import Terminal, payload, watch_json


def reason(lab, jobid: int) -> str:
    [job] = [j for j in lab.json("status", "queue") if j["jobid"] == jobid]
    return job["reason"]


def test_a_queued_job_says_why_it_waits_until_it_runs(lab):
    jobid = lab.submit(payload(time=30, sample="cell-9"))
    assert reason(lab, jobid) == ("sample cell-9 is not loaded in a pipeline that can run it "
                                  "(`ketchup load cell-9 dummy-5`)")
    lab.ketchup("load", "cell-9", "dummy-10")
    waiting = ("pipeline dummy-10 is not ready (`ketchup ready dummy-10`; ready is cleared "
               "after each job)")
    assert reason(lab, jobid) == waiting
    assert yaml.safe_load(lab.ketchup("status", str(jobid)).stdout)[0]["reason"] == waiting
    assert waiting in lab.ketchup("status", "queue").stdout  # piped: whole cells
    watch = watch_json(lab, str(jobid))
    try:
        first = json.loads(watch.stdout.readline())
    finally:
        watch.terminate()
        watch.communicate(timeout=10)
    assert [j["reason"] for j in first["jobs"]] == [waiting]
    term = Terminal(lab, "watch", str(jobid), cols=200)
    term.wait_for(lambda t: f"waiting: {waiting}" in " ".join(t.split()), what="the reason")
    term.child.sendintr()
    term.exit_code()
    lab.ketchup("ready", "dummy-10")
    lab.wait_status(jobid, "r")
    second = lab.submit(payload(time=1, sample="cell-9"))
    assert reason(lab, second) == f"pipeline dummy-10 is running job {jobid}"
    lab.ketchup("cancel", str(jobid), str(second))
