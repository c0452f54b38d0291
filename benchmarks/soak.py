"""Soak: the service killed at random moments while jobs run, and started again each time.

`python benchmarks/soak.py [--kills 20] [--jobs 60] [--pipelines 10] [--seed 1]`

Prints kills, failed starts (must be 0), recovery time (start → answering), jobs by final
status, lost and duplicated jobs (must be 0), statuses seen going backwards (must be 0),
points missing per completed job, and the peak process count and memory of the service's
processes (orphans included).
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from _common import BIN, Service, channels_lab, rss_mib, until
from tomato.actors import ActorError

from tomato.messages import GetJobs, LoadSample, SetReady, SubmitJob

ORDER = {"q": 0, "qw": 1, "r": 2, "rd": 3, "c": 4, "ce": 4, "cd": 4}
SECONDS, DELAY = 2.0, 0.1


def payload() -> dict:
    return {"version": "0.2", "sample": {"name": "soak"},
            "tomato": {"unlock_when_done": True},
            "method": [{"device": "worker", "technique": "sequential", "time": SECONDS,
                        "delay": DELAY}]}


class Observer(threading.Thread):
    """Polls every job's status (in-process, over the socket) while the service is up."""

    def __init__(self, svc: Service) -> None:
        super().__init__(daemon=True)
        self.svc = svc
        self.seen: dict[int, list[str]] = {}
        self.backwards: list[str] = []
        self.peak_procs = 0
        self.peak_mib = 0.0
        self.running = True

    def run(self) -> None:
        while self.running:
            try:
                for job in self.svc.ask(GetJobs((), True)):
                    trail = self.seen.setdefault(job.jobid, [])
                    if trail and ORDER[job.status] < ORDER[trail[-1]]:
                        self.backwards.append(f"job {job.jobid}: {trail[-1]} → {job.status}")
                    if not trail or trail[-1] != job.status:
                        trail.append(job.status)
            except (ActorError, OSError, SystemExit):
                pass  # down between a kill and a start
            pids = _processes(self.svc.root)
            self.peak_procs = max(self.peak_procs, len(pids))
            self.peak_mib = max(self.peak_mib, sum(_rss(pid) for pid in pids))
            time.sleep(0.2)


def _processes(root: Path) -> list[int]:
    """The service and every process it started (they run from its folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cwd").resolve() == root.resolve() and \
                        b"python" in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def _rss(pid: int) -> float:
    try:
        return rss_mib(pid)
    except OSError:
        return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=60)
    parser.add_argument("--pipelines", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="tomato-soak-") as tmp:
        root = Path(tmp)
        svc = Service(root, channels_lab(args.pipelines), "[jobs]\nstandby = 2\n")
        for i in range(1, args.pipelines + 1):
            svc.ask(LoadSample(f"p-{i}", "soak"))
            svc.ask(SetReady(f"p-{i}", True))
        jobids = [svc.ask(SubmitJob(payload(), "soak.yml", str(root))).jobid
                  for _ in range(args.jobs)]
        observer = Observer(svc)
        observer.start()
        recoveries: list[float] = []
        failed_starts = 0
        for _ in range(args.kills):
            time.sleep(rng.uniform(0.3, 2.0))
            svc.process.kill()
            svc.process.wait()
            try:
                svc = Service(root)  # the same folder: it takes over what runs
                observer.svc = svc
                recoveries.append(svc.ready_after)
            except SystemExit:
                failed_starts += 1
                svc = Service(root)
                observer.svc = svc
        until(lambda: all(j.status in ("c", "ce", "cd") for j in svc.ask(GetJobs((), True))),
              300, "every job to end")
        observer.running = False
        observer.join()
        jobs = {j.jobid: j for j in svc.ask(GetJobs((), True))}
        _report(args, root, jobids, jobs, observer, recoveries, failed_starts)
        subprocess.run([str(BIN / "tomato"), "-t", "stop", "--force"], cwd=root,
                       capture_output=True)
        svc.process.wait(60)


def _report(args: argparse.Namespace, root: Path, jobids: list[int], jobs: dict,
            observer: Observer, recoveries: list[float], failed_starts: int) -> None:
    statuses = [jobs[j].status for j in jobids if j in jobs]
    expected = round(SECONDS / DELAY)
    missing = []
    duplicated = 0
    for jobid in jobids:
        folder = root / "jobs" / str(jobid)
        log = folder / "jobdata.log"
        if log.exists() and log.read_text().count(f"job {jobid} started on pipeline") > 1:
            duplicated += 1
        if jobs.get(jobid) is not None and jobs[jobid].status == "c":
            rows = sum(len(f.read_text().splitlines()) - 2 for f in folder.glob("*.csv"))
            missing.append(expected - rows)
    print(f"soak: {args.kills} kills of the service, {args.jobs} jobs of {SECONDS:g} s on "
          f"{args.pipelines} pipelines (seed {args.seed})")
    print(f"failed starts: {failed_starts}")
    if recoveries:
        print(f"recovery (start → answering): min {min(recoveries):.2f} s, median "
              f"{statistics.median(recoveries):.2f} s, max {max(recoveries):.2f} s")
    print("jobs: " + ", ".join(f"{s} {statuses.count(s)}" for s in ("c", "ce", "cd")))
    print(f"lost: {len(set(jobids) - set(jobs))}, duplicated: {duplicated}, statuses going "
          f"backwards: {len(observer.backwards)}")
    if missing:
        print(f"points missing per completed job: max {max(missing)}, total {sum(missing)}")
    print(f"peak processes: {observer.peak_procs}, peak memory: {observer.peak_mib:.0f} MiB")
    for line in observer.backwards[:5]:
        print(f"  {line}")
    reasons: dict[str, int] = {}
    for jobid in jobids:
        if (job := jobs.get(jobid)) is not None and job.status != "c":
            rows = sum(len(f.read_text().splitlines()) - 2
                       for f in (root / "jobs" / str(jobid)).glob("*.csv"))
            why = f"{job.status}: {job.reason} ({'all' if rows == expected else rows} points)"
            reasons[why] = reasons.get(why, 0) + 1
    for why, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
        print(f"  {count} x {why}")


if __name__ == "__main__":
    main()
