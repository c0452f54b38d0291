"""Many channels on one PC: N jobs running at once, 1 point/s each.

For each size: time to all `r`; PSS and CPU (steady state) by kind of process; `ketchup
status` / `status queue` whole-process; `ketchup watch --json` latency; the scheduling
pass; the service killed with -9 and started again (time until every job is followed
again, none lost); then every job ending within the same minute (time to the last `c`,
each with all its points and outputs). tomato 2.2's memory per running job beside it.
"""

from __future__ import annotations

import json
import signal
import statistics
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import anyio
from _common import BIN, Figure, Service, cpu_seconds, show, until, wall
from tomato.actors import connect

from tomato.cli.client import service_socket
from tomato.codec import CODEC
from tomato.messages import (
    GetJobs,
    GetServiceStatus,
    LoadSample,
    SetReady,
    SubmitJob,
)

KINDS = ((b"tomato.job", "job hosts"), (b"tomato.outputs", "output servers"),
         (b"tomato.web", "web"), (b"tomato.drivers.device", "devices"))


def lab(devices: int, channels: int) -> str:
    """`devices` dummy devices of `channels` channels each; a pipeline per channel."""
    names = ", ".join(str(i) for i in range(1, channels + 1))
    return ("devices:\n" + "".join(
        f"  - {{name: d{d}, driver: dummy, channels: [{names}]}}\n"
        for d in range(1, devices + 1)) + "pipelines:\n" + "".join(
        f"  - name: p{d}-*\n    devices: [{{tag: worker, name: d{d}, channel: each}}]\n"
        for d in range(1, devices + 1)))


def payload(seconds: float) -> dict:
    return {"version": "0.2", "sample": {"name": "s"}, "method": [
        {"device": "worker", "technique": "sequential", "time": seconds, "delay": 1.0}]}


def pss_mib(pid: int) -> float:
    """Proportional set size: shared pages (the interpreter, libraries) split among the
    processes that map them, so the sum over processes is what they take together."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0


def processes(svc: Service, service_pid: int) -> dict[int, str]:
    """Every process of the service (found by its runtime folder in their argv) → kind."""
    mark = str(service_socket(svc.root).parent).encode()
    found = {service_pid: "service"}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if mark in argv:
            found[int(entry.name)] = next((k for m, k in KINDS if m in argv), "other")
    return found


def by_kind(values: dict[int, float], kinds: dict[int, str]) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for pid, value in values.items():
        out[kinds[pid]] += value
    return dict(out)


async def _start(root: Path, pipelines: list[str], seconds: float) -> float:
    """Load and ready every pipeline, submit a job each; returns when the last was readied."""
    async with connect(service_socket(root), CODEC) as conn:
        for name in pipelines:
            await conn.ask(LoadSample(name, "s"))
        for _ in pipelines:
            await conn.ask(SubmitJob(payload(seconds), "d.yml", str(root)))
        last = time.perf_counter()
        for name in pipelines:
            await conn.ask(SetReady(name, True))
        return last


def _all_running(svc: Service, pipelines: list[str], seconds: float) -> float:
    """Seconds from the last submit to every job `r` (asked every 0.2 s)."""
    last = anyio.run(_start, svc.root, pipelines, seconds)
    deadline = time.perf_counter() + 600
    while sum(j.status == "r" for j in svc.ask(GetJobs())) < len(pipelines):
        if time.perf_counter() > deadline:
            raise SystemExit("benchmark: not every job runs after 600 s")
        time.sleep(0.2)
    return time.perf_counter() - last


def _steady(svc: Service, service_pid: int, seconds: float, label: str) -> None:
    kinds = processes(svc, service_pid)
    cpu0 = {p: cpu_seconds(p) for p in kinds}
    start = time.perf_counter()
    time.sleep(seconds)
    took = time.perf_counter() - start
    cpu = {p: (cpu_seconds(p) - c) / took * 100 for p, c in cpu0.items()}
    pss = {p: pss_mib(p) for p in kinds}
    counts: dict[str, int] = defaultdict(int)
    for kind in kinds.values():
        counts[kind] += 1
    for kind, mib in sorted(by_kind(pss, kinds).items()):
        show(Figure(f"{label} PSS {kind} ({counts[kind]} processes)", [mib], "MiB"))
    show(Figure(f"{label} PSS, every tomato process", [sum(pss.values())], "MiB"))
    for kind, pct in sorted(by_kind(cpu, kinds).items()):
        show(Figure(f"{label} CPU {kind}", [pct], "% of a core"))
    show(Figure(f"{label} CPU, every tomato process", [sum(cpu.values())], "% of a core"))


def _watch_latency(svc: Service, seconds: float) -> list[float]:
    watcher = subprocess.Popen([str(BIN / "ketchup"), "-t", "watch", "--json"], cwd=svc.root,
                               stdout=subprocess.PIPE, text=True, bufsize=1)
    assert watcher.stdout is not None
    watcher.stdout.readline()  # the initial state
    start = time.time()
    latencies = []
    while time.time() < start + seconds:
        record = json.loads(watcher.stdout.readline())
        if record["event"] == "point" and record["uts"] > start:
            latencies.append(time.time() - record["uts"])
    watcher.terminate()
    watcher.communicate(timeout=10)
    return latencies


def _take_over(svc: Service, count: int, label: str) -> None:
    """kill -9 the service and start it again; time until it answers, and until every job
    runs on, followed (its host adopted)."""
    svc.process.send_signal(signal.SIGKILL)
    svc.process.wait()
    again = Service(svc.root)
    svc.process, svc.started = again.process, again.started
    until(lambda: sum(h.jobs for h in svc.ask(GetServiceStatus()).job_hosts) == count, 120,
          "every job taken over")
    followed = time.perf_counter() - again.started
    lost = [j.jobid for j in svc.ask(GetJobs()) if j.status != "r"]
    show(Figure(f"{label} kill -9 of the service → answering again", [again.ready_after], "s"))
    show(Figure(f"{label} … → every job taken over ({len(lost)} not running)", [followed],
                "s"))


def _burst(svc: Service, count: int, seconds: float, label: str) -> None:
    """Every job ends (they started within a minute): time from the first `c` to the
    last, and whether each has all its points and its outputs."""
    def ended() -> list:
        return [j for j in svc.ask(GetJobs((), True)) if j.status in ("c", "ce", "cd")]

    until(lambda: len(ended()) >= 1, seconds + 120, "the first job to end")
    first = time.perf_counter()
    until(lambda: len(ended()) == count, 600, "every job to end")
    last = time.perf_counter() - first
    jobs = ended()
    good = 0
    for job in jobs:
        raw = sorted(Path(job.jobpath).glob("[0-9]*-*.csv"))
        rows = sum(1 for _ in raw[0].open()) - 1 if raw else 0
        if job.status == "c" and rows >= seconds - 1 and job.outputs:
            good += 1
    show(Figure(f"{label} end burst: first c → last c ({good}/{count} c with all points and "
                "outputs)", [last], "s"))


def run(devices: int, channels: int, quick: bool, settings: str | None = None) -> None:
    count = devices * channels
    label = f"[{count} jobs, {devices} device{'s' if devices > 1 else ''} x {channels}]"
    pipelines = [f"p{d}-{c}" for d in range(1, devices + 1) for c in range(1, channels + 1)]
    seconds = 12 if quick else 150 + count // 10  # past every measurement, then one burst
    with tempfile.TemporaryDirectory(prefix="tomato-density-") as tmp:
        svc = Service(Path(tmp), lab(devices, channels), settings)
        try:
            to_r = _all_running(svc, pipelines, seconds)
            show(Figure(f"{label} last submit → all r", [to_r], "s"))
            _steady(svc, svc.process.pid, 5 if quick else 20, label)
            show(Figure(f"{label} ketchup status (whole process)", [
                t * 1000 for t in wall([str(BIN / "ketchup"), "-t", "status"], svc.root, 5)],
                "ms"))
            show(Figure(f"{label} ketchup status queue (whole process)", [
                t * 1000 for t in wall([str(BIN / "ketchup"), "-t", "status", "queue"],
                                       svc.root, 5)], "ms"))
            latencies = _watch_latency(svc, 3 if quick else 10)
            show(Figure(f"{label} watch latency (n={len(latencies)})",
                        [statistics.median(latencies) * 1000], "ms"))
            show(Figure(f"{label} scheduling pass",
                        [svc.ask(GetServiceStatus()).schedule_pass_ms], "ms"))
            _take_over(svc, count, label)
            _burst(svc, count, seconds, label)
        finally:
            svc.stop()


def reference_per_job(jobs: int) -> None:
    """tomato 2.2: PSS of all its processes with `jobs` counter jobs running, per job."""
    import reference

    bin_dir = reference.ensure_venv()
    with tempfile.TemporaryDirectory(prefix="tomato22-density-") as tmp:
        ref = reference.Reference(bin_dir, Path(tmp), jobs)
        try:
            for name in ref.names:
                ref.run("tomato", "pipeline", "load", name, "s", check=True)
            for _ in range(jobs):
                ref.submit(reference.counter_payload(120))
            ref.ready_all()
            until(lambda: sum(1 for j in ref.jobs() if j[1] == "r") == jobs, 120,
                  "tomato 2.2's jobs to run")
            time.sleep(5)
            mark = str(ref.port).encode()
            pids = [int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit()
                    and mark in _argv(e)]
            total = sum(pss_mib(p) for p in pids)
            show(Figure(f"[tomato 2.2] PSS per running job ({jobs} jobs, {len(pids)} "
                        "processes)", [total / jobs], "MiB"))
        finally:
            ref.stop()


def _argv(entry: Path) -> bytes:
    try:
        return (entry / "cmdline").read_bytes()
    except OSError:
        return b""


def main(quick: bool, with_reference: bool) -> None:
    if quick:
        run(1, 10, True)
        return
    run(1, 100, False)
    run(1, 1000, False)
    run(10, 100, False)
    if with_reference:
        reference_per_job(10)
