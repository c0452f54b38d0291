"""Queue habits labs expect, through the real `ketchup`: a job that starts only after
others completed (or ended at all), held and released, a priority, a finished job queued
again as it was, a job pinned to one pipeline."""

from __future__ import annotations

import time

import yaml
from conftest import LEAN, payload, until

from tomato.messages import HoldJobs


def submit(lab, *options: str, **body) -> int:
    path = lab.root / f"p{len(list(lab.root.glob('p*.yml')))}.yml"
    path.write_text(yaml.safe_dump(payload(**body)))
    out = lab.ketchup("submit", str(path), *options).stdout
    return int(out.split(":")[1])


def job(lab, jobid: int) -> dict:
    [found] = lab.json("status", str(jobid))
    return found


def test_a_job_after_others_starts_once_they_completed_and_is_cancelled_if_one_did_not(lab):
    lab.prepare("dummy-5", "s1")
    lab.prepare("dummy-10", "s1")
    first = submit(lab, time=1.5)
    lab.wait_status(first, "r")
    after = submit(lab, "--after", str(first), time=0.2)
    assert job(lab, after)["reason"] == f"waits for job {first} to complete"
    assert job(lab, after)["after"] == [first] and lab.status(after) in ("q", "qw")
    assert lab.status(first) == "r"  # dummy-10 was free all along: it waited for the first
    assert lab.wait_status(first, "c")["status"] == "c"
    assert lab.wait_status(after, "c")["status"] == "c"
    # One that did not complete: those after it are cancelled, saying why; --after-any runs.
    lab.prepare("dummy-5", "s1")
    lab.prepare("dummy-10", "s1")
    long = submit(lab, time=60)
    lab.wait_status(long, "r")
    strict, lenient = submit(lab, "--after", str(long)), submit(lab, "--after-any", str(long),
                                                                  time=0.2)
    chained = submit(lab, "--after", str(strict))
    lab.ketchup("cancel", str(long))
    for jobid, why in ((strict, f"job {long} it was to run after ended cd"),
                       (chained, f"job {strict} it was to run after ended cd")):
        ended = lab.wait_status(jobid, "c", "ce", "cd")
        assert (ended["status"], ended["reason"]) == ("cd", why)
    assert lab.wait_status(lenient, "c")["status"] == "c"


def test_after_an_unknown_or_a_failed_job_is_refused_at_submit(lab):
    path = lab.root / "p.yml"
    path.write_text(yaml.safe_dump(payload()))
    done = lab.ketchup("submit", str(path), "--after", "999999", check=False)
    assert done.returncode == 4 and "--after 999999: no job with jobid 999999" in done.stderr
    cancelled = lab.submit(payload(sample="nowhere"))
    lab.ketchup("cancel", str(cancelled))
    done = lab.ketchup("submit", str(path), "--after", str(cancelled), check=False)
    assert done.returncode == 5 and f"job {cancelled} ended cd" in done.stderr
    assert "--after-any" in done.stderr
    done = lab.ketchup("submit", str(path), "--after", "1", "--after-any", "1", check=False)
    assert done.returncode == 2 and "give one of them" in done.stderr
    before = lab.json("status", "queue", "-a")
    assert lab.json("status", "queue", "-a") == before  # nothing queued by those


def test_held_jobs_wait_until_released_and_only_queued_ones_are_held(lab):
    lab.prepare("dummy-5", "s1")
    held = submit(lab, "--hold", time=0.2)
    assert job(lab, held)["reason"] == f"held: it starts once released (`ketchup release {held}`)"
    assert job(lab, held)["held"] is True
    other = submit(lab, time=0.2)  # the pipeline goes to the next one
    assert lab.wait_status(other, "c")["status"] == "c"
    assert lab.status(held) in ("q", "qw")
    lab.prepare("dummy-5", "s1")
    lab.ketchup("hold", str(held))  # again: still held
    released = lab.json("release", str(held))
    assert released[0]["held"] is False
    assert lab.wait_status(held, "c")["status"] == "c"
    done = lab.ketchup("hold", str(held), check=False)
    assert done.returncode == 5 and f"job {held} is not queued (c)" in done.stderr


def test_higher_priority_first_then_first_come(lab):
    ids = [submit(lab, time=0.1, unlock_when_done=True) for _ in range(3)]
    top = submit(lab, "--priority", "5", time=0.1, unlock_when_done=True)
    lab.ketchup("priority", str(ids[1]), "10")
    assert job(lab, ids[1])["priority"] == 10
    lab.prepare("dummy-5", "s1")  # one pipeline: they run one after another
    for jobid in [*ids, top]:
        lab.wait_status(jobid, "c")
    order = sorted([ids[0], ids[1], ids[2], top], key=lambda j: job(lab, j)["executed"])
    assert order == [ids[1], top, ids[0], ids[2]]


def test_a_finished_job_is_requeued_as_it_was_and_a_job_can_be_pinned(lab):
    lab.prepare("dummy-5", "s1")
    lab.prepare("dummy-10", "s1")
    pinned = submit(lab, "--pipeline", "dummy-10", "-j", "pinned-run", time=0.2)
    assert lab.wait_status(pinned, "c")["pipeline"] == "dummy-10"
    assert job(lab, pinned)["pinned"] == "dummy-10"
    again = int(lab.ketchup("requeue", str(pinned)).stdout.split(":")[1])
    assert again != pinned
    assert job(lab, again)["jobname"] == "pinned-run" and job(lab, again)["pinned"] == "dummy-10"
    assert job(lab, again)["reason"] == ("pipeline dummy-10 is not ready (`ketchup ready "
                                         "dummy-10`; ready is cleared after each job)")
    lab.prepare("dummy-10", "s1")
    assert lab.wait_status(again, "c")["pipeline"] == "dummy-10"
    done = lab.ketchup("requeue", str(submit(lab, "--hold")), check=False)
    assert done.returncode == 5 and "only a finished job can be queued again" in done.stderr
    path = lab.root / "p.yml"
    path.write_text(yaml.safe_dump(payload()))
    done = lab.ketchup("submit", str(path), "--pipeline", "nowhere", check=False)
    assert done.returncode == 3 and "--pipeline nowhere: that pipeline cannot run" in done.stderr


def test_the_history_since_a_time(lab):
    lab.prepare("dummy-5", "s1")
    ended = lab.submit(payload(time=0.1))
    lab.wait_status(ended, "c")
    queued = lab.submit(payload(sample="nowhere"))
    recent = {j["jobid"] for j in lab.json("status", "queue", "--since", "1h")}
    assert {ended, queued} <= recent
    tomorrow = {j["jobid"] for j in lab.json("status", "queue", "--since", "2099-01-01")}
    assert queued in tomorrow and ended not in tomorrow  # queued ones are always shown
    assert f"\n{ended}\t" in lab.ketchup("status", "queue", "--since", "2d").stdout
    done = lab.ketchup("status", "queue", "--since", "yesterday", check=False)
    assert done.returncode == 2 and "a span ago (7d, 12h, 30m, 2w)" in done.stderr


def test_old_records_are_forgotten_their_files_and_ids_never(tomato_factory):
    lab = tomato_factory(settings=f"{LEAN}")
    lab.prepare("dummy-5", "s1")
    old = lab.submit(payload(time=0.1, output={"path": str(lab.root / "out")}))
    lab.wait_status(old, "c")
    kept = lab.submit(payload(time=0.1, output={"path": str(lab.root / "out")}))
    lab.prepare("dummy-5", "s1")
    lab.wait_status(kept, "c")
    until(lambda: list((lab.root / "out").glob("*.zip")), 10, "the outputs")
    after = lab.submit(payload(sample="nowhere"))  # queued: keeps the job it is after
    lab.ask(HoldJobs((after,), True))
    path = lab.root / "p.yml"
    path.write_text(yaml.safe_dump(payload(sample="nowhere")))
    waiting = int(lab.ketchup("submit", str(path), "--after", str(kept)).stdout.split(":")[1])
    lab.stop()
    time.sleep(1.0)  # both finished more than `keep` (0.5 s) ago
    (lab.root / "settings.toml").write_text(
        (lab.root / "settings.toml").read_text().replace("[jobs]\n", "[jobs]\nkeep = 0.0000058\n"))
    lab.start()  # the check of the database against the job folders passes: ids are known
    until(lambda: b"forgot the records of 1 job(s)" in lab.log.read_bytes(), 10, "forgetting")
    done = lab.ketchup("status", str(old), check=False)
    assert done.returncode == 4 and f"no job with jobid {old}" in done.stderr
    assert lab.job(kept)["status"] == "c"  # a queued job is to run after it
    assert lab.jobdir(old).is_dir() and len(list((lab.root / "out").glob("*.zip"))) == 2
    assert lab.submit(payload(sample="nowhere")) > waiting  # no id given again


def test_habits_hold_across_a_restart(tomato_factory):
    lab = tomato_factory(settings=LEAN)
    first = lab.submit(payload(sample="nowhere"))
    path = lab.root / "p.yml"
    path.write_text(yaml.safe_dump(payload(sample="s1", time=0.1)))
    after = int(lab.ketchup("submit", str(path), "--after", str(first)).stdout.split(":")[1])
    held = int(lab.ketchup("submit", str(path), "--hold", "--priority", "2")
               .stdout.split(":")[1])
    lab.stop()
    lab.start()
    assert job(lab, after)["reason"] == f"waits for job {first} to complete"
    assert job(lab, held)["reason"].startswith("held:") and job(lab, held)["priority"] == 2
    lab.ketchup("cancel", str(first))
    ended = lab.wait_status(after, "c", "ce", "cd")
    assert (ended["status"], ended["reason"]) == ("cd", f"job {first} it was to run after "
                                                        "ended cd")
    lab.prepare("dummy-5", "s1")
    lab.ketchup("release", str(held))
    assert lab.wait_status(held, "c")["status"] == "c"
