"""Several tomatos on one NATS: each shows the others' pipelines as HOST:PIPELINE, kept up
to date, and says when a host is away."""

from __future__ import annotations

import json

from clusterlab import BENCH, RANDOM_ONLY, pc_a_and_pc_b
from conftest import open_datagram, payload, read_csv, records, until, watch_json

from tomato.messages import GetJobs, LoadSample


def test_each_tomato_shows_the_others_pipelines_and_when_a_host_is_away(cluster):
    a = cluster("pc-a")
    b = cluster("pc-b", BENCH)
    until(lambda: "pc-b:bench-7" in a.pipelines(), 20, "pc-b's pipeline on pc-a")
    until(lambda: {"pc-a:dummy-5", "pc-a:dummy-10"} <= set(b.pipelines()), 20,
          "pc-a's pipelines on pc-b")
    assert a.pipelines()["pc-b:bench-7"]["capabilities"] == ("sequential",)
    assert a.pipelines()["pc-b:bench-7"]["failed"] is None
    # A change on pc-b reaches pc-a.
    b.ask(LoadSample("bench-7", "s9"))
    until(lambda: a.pipelines()["pc-b:bench-7"]["sample"] == "s9", 10, "the sample on pc-a")
    # The command line shows them too, whole when piped.
    table = a.ketchup("status").stdout.splitlines()
    assert any(line.startswith("pc-b:bench-7\ts9\tno\t") for line in table), table
    # pc-b stops: pc-a says so at once.
    b.stop()
    until(lambda: "host pc-b stopped" in (a.pipelines()["pc-b:bench-7"]["failed"] or ""), 10,
          "pc-b shown stopped")


def test_a_job_submitted_on_one_tomato_runs_on_the_one_that_can_and_all_see_it(cluster):
    a = cluster("pc-a", RANDOM_ONLY)
    b = cluster("pc-b", BENCH)
    c = cluster("pc-c", RANDOM_ONLY)
    for t in (a, c):
        until(lambda t=t: "pc-b:bench-7" in t.pipelines(), 20, "pc-b's pipeline")
    b.prepare("bench-7", "s-b")
    jobid = a.submit(payload("sequential", 0.5, 0.1, sample="s-b"))  # only pc-b can run it
    job = a.wait_status(jobid, "c", "ce", "cd", timeout=30)
    assert (job["status"], job["pipeline"]) == ("c", "pc-b:bench-7"), job
    assert [v for _, v in read_csv(b.data_files(jobid)[0])] == [1, 2, 3, 4, 5]
    assert b.job(jobid)["pipeline"] == "bench-7"
    assert a.job(jobid)["jobpath"] == f"pc-b:jobs/{jobid}"  # where its raw data is
    assert b.job(jobid)["jobpath"] == str(b.jobdir(jobid))
    # Its results come home: into the folder it was submitted from, on pc-a.
    home = [str(a.root / f"results.{jobid}.{x}") for x in ("nc", "zip")]
    until(lambda: a.job(jobid)["outputs"] == home, 10, "the results on pc-a")
    [group] = (tree := open_datagram(a.root / f"results.{jobid}.nc")).children
    assert list(tree[group]["value"].values) == [1, 2, 3, 4, 5]
    seen = c.wait_status(jobid, "c", timeout=10)  # a third tomato sees it too
    assert (seen["pipeline"], seen["sample"]) == ("pc-b:bench-7", "s-b")
    # Jobids are the cluster's: the next one, submitted on pc-c, is another.
    other = c.submit(payload("random", 0.2, 0.1, sample="nowhere"))
    assert other != jobid
    until(lambda: [j.sample for j in a.ask(GetJobs(())) if j.jobid == other] == ["nowhere"],
          10, "pc-c's job on pc-a")


def test_commands_for_another_tomato_are_answered_by_it_with_its_guards(cluster):
    a, b = pc_a_and_pc_b(cluster)
    a.ketchup("load", "s-x", "pc-b:bench-7")
    assert b.pipelines()["bench-7"]["sample"] == "s-x"
    refused = a.ketchup("load", "s-y", "pc-b:bench-7", check=False)
    assert refused.returncode == 5 and "already holds sample 's-x'" in refused.stderr
    unknown = a.ketchup("ready", "pc-b:nothing", check=False)
    assert unknown.returncode == 4 and "no pipeline named 'nothing'" in unknown.stderr
    away = a.ketchup("ready", "pc-z:bench-7", check=False)
    assert away.returncode == 5 and "host pc-z is away" in away.stderr
    # A long job submitted on pc-a runs on pc-b; cancelled from pc-a, pc-b stops it.
    long = a.submit(payload("sequential", 30, 0.1, sample="s-x"))
    a.ketchup("ready", "pc-b:bench-7")
    b.wait_status(long, "r", timeout=10)
    b.wait_points(long, 3)
    # A snapshot asked for on pc-a is made on pc-b and written where it was asked for.
    here = a.root / "snaps"
    here.mkdir()
    taken = a.ketchup("snapshot", str(long), cwd=here)
    assert taken.returncode == 0 and taken.stderr == "", taken
    [group] = (snap := open_datagram(here / f"snapshot.{long}.nc")).children
    assert 3 <= snap[group].sizes["uts"] < 300 and (here / f"snapshot.{long}.zip").exists()
    a.ketchup("cancel", str(long))
    assert b.wait_status(long, "cd", timeout=10)["status"] == "cd"
    assert a.wait_status(long, "cd", timeout=10)["pipeline"] == "pc-b:bench-7"
    # A queued job submitted on pc-b, cancelled from pc-a: its home decides.
    waiting = b.submit(payload("sequential", 1, 0.1, sample="nowhere"))
    until(lambda: waiting in {j.jobid for j in a.ask(GetJobs(()))}, 10, "the job on pc-a")
    assert a.json("cancel", str(waiting))[0]["status"] == "cd"
    assert b.status(waiting) == "cd"
    a.wait_status(waiting, "cd", timeout=10)


def test_a_job_running_on_another_tomato_is_watched_from_this_one(cluster):
    a, b = pc_a_and_pc_b(cluster)
    jobid = a.submit(payload("sequential", 1, 0.05, sample="s-b"))
    watcher = watch_json(a, str(jobid))
    assert json.loads(watcher.stdout.readline())["event"] == "state"  # watching: now run it
    b.prepare("bench-7", "s-b")
    lines, code = records(watcher)
    assert code == 0
    points = [r for r in lines if r["event"] == "point"]
    assert [p["values"]["value"] for p in points] == list(range(1, 21))
    assert lines[-1]["event"] == "end" and lines[-1]["status"] == "c"
