"""One queue for three tomatos: jobs submitted from all of them at once, against pipelines
on all of them, each run exactly once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from clusterlab import wait_known
from conftest import FINISHED, NO_WEB, payload, until

from tomato.messages import GetJobs

THREE = """
devices:
  - {name: rig, address: null, channels: [1, 2, 3], driver: dummy,
     capabilities: [random, sequential], pollrate: 1}
pipelines:
  - name: rig-*
    devices:
      - {tag: worker, name: rig, channel: each}
"""
JOBS = 60
"""The benchmark (`python benchmarks/run.py --only cluster`) runs 200 and checks the same;
here, 200 would cost the suite ~30 s of CPU."""
WARM = "[jobs]\nstandby = 2\noutput_servers = 1\n" + NO_WEB  # as a lab runs it: no process per job


def test_jobs_submitted_on_three_tomatos_at_once_each_run_exactly_once(cluster):
    lab = {host: cluster(host, THREE, settings=WARM) for host in ("pc-a", "pc-b", "pc-c")}
    for t in lab.values():
        until(lambda t=t: len(t.pipelines()) == 9, 20, "every pipeline everywhere")
    job = payload("random", 0.1, 0.05, sample="s", unlock_when_done=True)
    with ThreadPoolExecutor(6) as pool:
        jobids = list(pool.map(lambda i: list(lab.values())[i % 3].submit(job), range(JOBS)))
    assert len(set(jobids)) == JOBS  # no jobid twice
    for t in lab.values():
        for name in ("rig-1", "rig-2", "rig-3"):
            t.prepare(name, "s")
    a = lab["pc-a"]
    for jobid in jobids:
        wait_known(a, jobid)
    def pending() -> dict[str, list[tuple[int, str]]]:
        return {h: [(j.jobid, j.status) for j in t.ask(GetJobs(()))] for h, t in lab.items()}

    try:
        until(lambda: not any(pending().values()), 60, "every job to end everywhere")
    except AssertionError:
        raise AssertionError(f"not ended, as each tomato sees them: {pending()}") from None
    ran = {}
    for host, t in lab.items():
        for info in t.ask(GetJobs(tuple(jobids))):
            assert info.status in FINISHED
            if info.pipeline and ":" not in info.pipeline:  # run here
                assert info.jobid not in ran, f"job {info.jobid} ran twice"
                ran[info.jobid] = host
    assert set(ran) == set(jobids)
    ended = {j.jobid: (j.status, j.pipeline) for j in a.ask(GetJobs(tuple(jobids)))}
    assert {s for s, _ in ended.values()} == {"c"}
    assert set(ran.values()) == set(lab)  # all three took part


def test_after_hold_and_release_hold_across_tomatos(cluster):
    """A job submitted on pc-a that only pc-b can run starts there once the job it runs
    after completed on pc-a; a held one is not claimed by pc-b until released, from pc-b
    (the command goes to pc-a, which decides about the job)."""
    import yaml
    from clusterlab import BENCH, RANDOM_ONLY

    a, b = cluster("pc-a", RANDOM_ONLY), cluster("pc-b", BENCH)
    until(lambda: "pc-b:bench-7" in a.pipelines(), 20, "pc-b's pipeline on pc-a")
    a.prepare("box-1", "s-a")
    b.prepare("bench-7", "s-b")
    first = a.submit(payload("random", 1.0, 0.1, sample="s-a"))
    path = a.root / "later.yml"
    path.write_text(yaml.safe_dump(payload("sequential", 0.2, 0.1, sample="s-b")))
    later = int(a.ketchup("submit", str(path), "--after", str(first)).stdout.split(":")[1])
    wait_known(b, later)
    assert b.job(later)["after"] == (first,) and b.status(later) in ("q", "qw")
    assert a.wait_status(first, "c")["status"] == "c"
    job = a.wait_status(later, "c", "ce", "cd", timeout=30)
    assert (job["status"], job["pipeline"]) == ("c", "pc-b:bench-7"), job
    assert job["executed"] > a.job(first)["completed"]
    # Held on pc-a: pc-b, free and ready, runs the next job instead, and not the held one.
    held = int(a.ketchup("submit", str(path), "--hold").stdout.split(":")[1])
    wait_known(b, held)
    b.prepare("bench-7", "s-b")
    filler = a.submit(payload("sequential", 0.2, 0.1, sample="s-b"))
    assert a.wait_status(filler, "c", timeout=30)["pipeline"] == "pc-b:bench-7"
    assert a.status(held) in ("q", "qw") and b.job(held)["held"] is True
    b.ketchup("release", str(held))  # asked on pc-b, decided by pc-a
    until(lambda: b.job(held)["held"] is False, 10, "the release seen on pc-b")
    b.prepare("bench-7", "s-b")
    assert a.wait_status(held, "c", timeout=30)["pipeline"] == "pc-b:bench-7"


def test_a_pin_names_one_pipeline_of_one_tomato(cluster):
    """Two tomatos with a pipeline of the same name: a job pinned to pc-b's runs there, one
    pinned to pc-a's own runs on pc-a, whichever is free first; a priority set on pc-b
    for pc-a's job is pc-a's to write, and every tomato shows it."""
    import yaml
    from clusterlab import BENCH

    a, b = cluster("pc-a", BENCH), cluster("pc-b", BENCH)
    until(lambda: "pc-b:bench-7" in a.pipelines(), 20, "pc-b's pipeline on pc-a")
    path = a.root / "p.yml"
    path.write_text(yaml.safe_dump(payload("sequential", 0.2, 0.1, sample="s")))
    there = int(a.ketchup("submit", str(path), "--pipeline", "pc-b:bench-7", "--hold")
                .stdout.split(":")[1])
    here = int(a.ketchup("submit", str(path), "--pipeline", "bench-7", "--hold")
               .stdout.split(":")[1])
    wait_known(b, here)
    b.ketchup("priority", str(here), "3")
    until(lambda: a.job(here)["priority"] == 3 and b.job(here)["priority"] == 3, 10,
          "the priority on both")
    assert b.job(there)["pinned"] == "bench-7" and b.job(here)["pinned"] == "pc-a:bench-7"
    a.prepare("bench-7", "s")
    b.prepare("bench-7", "s")
    a.ketchup("release", str(there), str(here))
    assert a.wait_status(there, "c", timeout=30)["pipeline"] == "pc-b:bench-7"
    assert a.wait_status(here, "c", timeout=30)["pipeline"] == "bench-7"
