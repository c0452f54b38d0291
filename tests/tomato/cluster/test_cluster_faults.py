"""The cluster under faults: a tomato killed mid-job, the NATS server away for a while."""

from __future__ import annotations

from clusterlab import BENCH, RANDOM_ONLY, bucket_keys, pc_a_and_pc_b, wait_known
from conftest import payload, read_csv, until

from tomato.messages import GetJobs


def test_a_tomato_killed_mid_job_finishes_it_when_back_and_its_results_come_home(cluster):
    a, b = pc_a_and_pc_b(cluster)
    b.prepare("bench-7", "s-b")
    jobid = a.submit(payload("sequential", 3, 0.1, sample="s-b"))
    b.wait_points(jobid, 5)
    b.process.kill()  # kill -9, mid-job
    b.process.wait()
    b.start()
    assert b.wait_status(jobid, "c", timeout=30)["status"] == "c"
    assert [v for _, v in read_csv(b.data_files(jobid)[0])] == list(range(1, 31))
    until(lambda: a.job(jobid)["outputs"], 20, "the results on pc-a")
    assert (a.root / f"results.{jobid}.nc").exists()
    assert a.job(jobid)["status"] == "c"


def test_a_job_shows_that_its_host_is_away_until_it_is_back_and_takes_it_over(cluster):
    a, b = pc_a_and_pc_b(cluster)
    b.prepare("bench-7", "s-b")
    jobid = a.submit(payload("sequential", 2, 0.1, sample="s-b"))
    b.wait_points(jobid, 3)
    b.process.terminate()  # stopped by a signal: its job runs on, for the next start
    b.process.wait(20)
    until(lambda: "host pc-b stopped" in (a.job(jobid)["reason"] or ""), 10, "pc-b away")
    assert a.job(jobid)["status"] == "r"
    b.start()
    job = a.wait_status(jobid, "c", timeout=30)
    assert job["reason"] is None, job


def test_without_nats_running_jobs_finish_and_all_agree_when_it_is_back(cluster, nats):
    a, b = pc_a_and_pc_b(cluster)
    b.prepare("bench-7", "s-b")
    running = a.submit(payload("sequential", 1.5, 0.1, sample="s-b"))
    wait_known(b, running)
    b.wait_status(running, "r", timeout=10)
    a.wait_status(running, "r", timeout=10)  # pc-a has heard it runs: NATS may go now
    nats.stop()
    assert b.wait_status(running, "c", timeout=20)["status"] == "c"  # finished without NATS
    later = a.submit(payload("sequential", 0.5, 0.1, sample="s-b"))  # queued on pc-a alone
    assert later != running
    b.prepare("bench-7", "s-b")  # ready again for the next job: none is claimed without NATS
    assert a.status(later) in ("q", "qw") and a.status(running) == "r"
    nats.start()
    assert a.wait_status(running, "c", timeout=30)["status"] == "c"
    assert b.wait_status(later, "c", timeout=30)["status"] == "c"  # joined, claimed, run
    assert a.wait_status(later, "c", timeout=30)["pipeline"] == "pc-b:bench-7"
    until(lambda: a.job(running)["outputs"] and a.job(later)["outputs"], 20, "both results")
    assert {j.jobid for j in b.ask(GetJobs(()))} == set()  # nothing left running or queued


def test_while_a_home_is_away_its_queue_can_be_cancelled_and_its_results_wait(cluster):
    a, b = pc_a_and_pc_b(cluster)
    b.prepare("bench-7", "s-b")
    running = a.submit(payload("sequential", 1.5, 0.1, sample="s-b"))
    waiting = a.submit(payload("sequential", 1, 0.1, sample="nowhere"))
    wait_known(b, waiting)
    b.wait_status(running, "r", timeout=10)
    a.process.terminate()  # pc-a goes away (cleanly: the others know at once)
    a.process.wait(20)
    assert b.json("cancel", str(waiting))[0]["status"] == "cd"  # in the lab's queue
    b.wait_status(waiting, "cd", timeout=10)
    assert b.wait_status(running, "c", timeout=20)["status"] == "c"
    a.start()  # back: the cancel and the results are waiting for it
    assert a.wait_status(waiting, "cd", timeout=20)["status"] == "cd"
    until(lambda: a.job(running)["outputs"], 20, "the results on pc-a")
    assert (a.root / f"results.{running}.nc").exists()


def test_a_finished_job_leaves_the_cluster_only_once_its_results_are_home(cluster, nats):
    keep = "keep_finished = 0.00002\n"  # days: 1.7 s
    a, b = cluster("pc-a", RANDOM_ONLY, more=keep), cluster("pc-b", BENCH, more=keep)
    until(lambda: "pc-b:bench-7" in a.pipelines(), 20, "pc-b's pipeline on pc-a")
    b.prepare("bench-7", "s-b")
    jobid = a.submit(payload("sequential", 1, 0.1, sample="s-b"))
    wait_known(b, jobid)
    b.wait_status(jobid, "r", timeout=20)
    queued = b.submit(payload(sample="nowhere"))  # never finishes: stays
    a.stop()  # its home away: the results wait for it, and so does the entry
    b.wait_status(jobid, "c")
    until(lambda: f"job {jobid} stays until pc-a takes its results".encode()
          in b.log.read_bytes(), 20, "pc-b to keep the entry")
    until(lambda: {f"job.{jobid}", f"payload.{jobid}"} <= bucket_keys(nats.url), 10,
          "the entry kept")
    a.start()
    until(lambda: a.job(jobid)["outputs"], 20, "the results on pc-a")
    # Waited for as pc-b says it (a listing of the bucket's keys can come back short while
    # the bucket is written: seen once, then the entry listed again).
    until(lambda: f"cluster: job {jobid} pruned".encode() in b.log.read_bytes(), 20,
          "pc-b to prune the entry")
    assert not {f"job.{jobid}", f"payload.{jobid}"} & bucket_keys(nats.url)
    # Each tomato keeps its copy; a restart writes no pruned entry again.
    b.stop()
    b.start()
    b.prepare("bench-7", "s-b")
    again = a.submit(payload("sequential", 0.2, 0.1, sample="s-b"))
    assert a.wait_status(again, "c", timeout=20)["status"] == "c"
    until(lambda: a.job(again)["outputs"], 20, "the next job's results on pc-a")
    assert bucket_keys(nats.url, "tomato_results") == set()  # none sent again
    for t in (a, b):
        assert t.job(jobid)["status"] == "c"
    assert (a.root / f"results.{jobid}.nc").exists()
    keys = bucket_keys(nats.url)
    assert f"job.{jobid}" not in keys and {f"job.{queued}", f"payload.{queued}"} <= keys
    assert b.log.read_text().count(f"cluster: job {jobid} pruned") == 1


def test_a_tomato_away_while_a_queued_job_ended_and_left_the_cluster_does_not_run_it(
        cluster, nats):
    keep = "keep_finished = 0.00002\n"  # days: 1.7 s
    a, b = cluster("pc-a", RANDOM_ONLY, more=keep), cluster("pc-b", BENCH, more=keep)
    until(lambda: "pc-b:bench-7" in a.pipelines(), 20, "pc-b's pipeline on pc-a")
    jobid = a.submit(payload("sequential", 0.2, 0.1, sample="s-b"))  # bench-7 is not ready
    wait_known(b, jobid)
    b.stop()  # away for longer than keep_finished: the job ends and leaves the cluster
    a.ketchup("cancel", str(jobid))
    until(lambda: f"cluster: job {jobid} pruned".encode() in a.log.read_bytes(), 20,
          "pc-a to prune the entry")  # as it says it: a listing of keys can come back short
    b.start()
    b.prepare("bench-7", "s-b")  # pc-b's copy still says queued, and bench-7 would match
    job = b.wait_status(jobid, "c", "ce", "cd", timeout=20)
    assert job["status"] == "ce" and "left the cluster" in job["reason"], job
    until(lambda: b.pipelines()["bench-7"]["jobid"] is None, 10,
          "bench-7 free again (held while pc-b tried to claim the job)")
    assert not b.data_files(jobid) and b.status(jobid) == "ce"
    assert a.job(jobid)["status"] == "cd"
