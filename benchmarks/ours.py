"""Our service at work: throughput, scheduler scale, the data path (figures 3 to 5)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import anyio
from _common import (
    LEAN,
    Figure,
    Service,
    channels_lab,
    children,
    cpu_seconds,
    peak_rss_mib,
    rss_mib,
    service,
    show,
    standby,
    until,
)
from tomato.actors import connect

from tomato.cli.client import service_socket
from tomato.codec import CODEC
from tomato.messages import (
    GetServiceStatus,
    JobStatusChanged,
    LoadSample,
    PipelineChanged,
    SetReady,
    SubmitJob,
)


def payload(sample: str, seconds: float, delay: float, unlock: bool = False) -> dict[str, Any]:
    return {"version": "0.2", "sample": {"name": sample},
            "tomato": {"unlock_when_done": unlock},
            "method": [{"device": "worker", "technique": "sequential", "time": seconds,
                        "delay": delay}]}


# 3. Throughput.
async def _throughput(svc: Service, jobs: int, pipelines: int, seconds: float
                      ) -> tuple[float, float]:
    """Jobs queued, then every pipeline made ready: (first r → last c, → last released)."""
    async with connect(service_socket(svc.root), CODEC) as conn, conn.subscribe() as events:
        ids = set()
        for i in range(1, pipelines + 1):
            await conn.ask(LoadSample(f"p-{i}", "s"))
        for _ in range(jobs):
            job = await conn.ask(SubmitJob(payload("s", seconds, 0.1, unlock=True), "t.yml",
                                           str(svc.root)))
            ids.add(job.jobid)
        for i in range(1, pipelines + 1):
            await conn.ask(SetReady(f"p-{i}", True))
        done: set[int] = set()
        first = released = 0.0
        with anyio.fail_after(120):
            async for ev in events:
                now = time.perf_counter()
                if isinstance(ev, PipelineChanged) and ev.pipeline.jobid is None:
                    released = now
                if isinstance(ev, JobStatusChanged) and ev.jobid in ids:
                    first = first or (now if ev.status == "r" else 0.0)
                    if ev.status == "c":
                        done.add(ev.jobid)
                        if done == ids:
                            return now - first, released - first
    raise AssertionError("unreachable")


def throughput(quick: bool) -> dict[str, Figure]:
    jobs, pipelines, seconds = (4, 2, 0.5) if quick else (20, 10, 0.5)
    ideal = jobs / pipelines * seconds
    # The defaults: one job host waits, and runs all of them.
    with service(channels_lab(pipelines)) as svc:
        until(lambda: standby(svc) >= 1, 60, "the waiting job host")
        total, released = anyio.run(_throughput, svc, jobs, pipelines, seconds)
    return {
        "throughput": show(Figure(f"throughput, {jobs} jobs of {seconds} s on {pipelines} "
                                  f"pipelines, first start → last c",
                                  [total], "s")),
        "throughput_fraction": show(Figure(f"throughput as a fraction of ideal ({ideal:g} s)",
                                           [ideal / total], "")),
        "collection": show(Figure("  … first start → last pipeline released (data collected)",
                                  [released], "s")),
    }


# 4. Scheduler scale.
async def _fill(svc: Service, jobs: int, habits: bool = False) -> float:
    """Queue `jobs` jobs; with `habits`, as a lab's queue looks: priorities 0 to 3, one job
    in ten held, one in five after the job before it."""
    async with connect(service_socket(svc.root), CODEC) as conn:
        start, last = time.perf_counter(), None
        for i in range(jobs):
            more: dict[str, Any] = {} if not habits else {
                "priority": i % 4, "hold": i % 10 == 0,
                "after": (last,) if i % 5 == 0 and last is not None else ()}
            last = (await conn.ask(SubmitJob(payload("wanted", 0.5, 0.1), "q.yml",
                                             str(svc.root), **more))).jobid
        return (time.perf_counter() - start) / jobs


async def _pass_and_dispatch(svc: Service) -> tuple[float, float, float]:
    async with connect(service_socket(svc.root), CODEC) as conn, conn.subscribe() as events:
        await conn.ask(LoadSample("p-1", "unwanted"))
        empty = (await conn.ask(GetServiceStatus())).schedule_pass_ms
        await conn.ask(SetReady("p-1", True))  # ready, but no job wants its sample
        full = (await conn.ask(GetServiceStatus())).schedule_pass_ms
        await conn.ask(LoadSample("p-2", "wanted"))
        start = time.perf_counter()
        await conn.ask(SetReady("p-2", True))
        with anyio.fail_after(30):
            async for ev in events:
                if isinstance(ev, JobStatusChanged) and ev.status == "r":
                    return empty, full, time.perf_counter() - start
    raise AssertionError("unreachable")


def scale(quick: bool) -> dict[str, Figure]:
    pipelines, jobs = (20, 200) if quick else (1000, 10000)
    label = f"{pipelines} pipelines x {jobs} queued jobs"
    with service(channels_lab(pipelines), LEAN if quick else None) as svc:
        show(Figure(f"tomato start → answering, {pipelines} pipelines", [svc.ready_after], "s"))
        per_submit = anyio.run(_fill, svc, jobs)
        show(Figure(f"submit over the socket, queue growing to {jobs}", [per_submit * 1000],
                    "ms"))
        pids = [svc.process.pid, *children(svc.process.pid)]
        cpu0, t0 = sum(cpu_seconds(p) for p in pids), time.perf_counter()
        time.sleep(0.5 if quick else 5)
        idle = (sum(cpu_seconds(p) for p in pids) - cpu0) / (time.perf_counter() - t0) * 100
        rss = rss_mib(svc.process.pid)
        empty, full, dispatch = anyio.run(_pass_and_dispatch, svc)
    return {
        "pass_empty": show(Figure(f"scheduling pass, {label}, no pipeline free", [empty],
                                  "ms")),
        "pass": show(Figure(f"scheduling pass, {label}, one free pipeline no job wants",
                            [full], "ms")),
        "idle_cpu": show(Figure(f"idle CPU, {label} (service and devices)", [idle], "%")),
        "rss": show(Figure(f"service RSS, {label}", [rss], "MiB")),
        "dispatch": show(Figure(f"pipeline made ready → its job r, {label}", [dispatch * 1000],
                                "ms")),
        **scale_with_habits(pipelines, jobs, quick),
    }


def scale_with_habits(pipelines: int, jobs: int, quick: bool) -> dict[str, Figure]:
    """The same queue with priorities, holds and dependencies (`ketchup submit --priority,
    --hold, --after`)."""
    label = f"{pipelines} pipelines x {jobs} queued jobs with priorities, holds, --after"
    with service(channels_lab(pipelines), LEAN if quick else None) as svc:
        anyio.run(_fill, svc, jobs, True)
        _, full, dispatch = anyio.run(_pass_and_dispatch, svc)
    return {
        "pass_habits": show(Figure(f"scheduling pass, {label}, one free pipeline no job "
                                   "wants", [full], "ms")),
        "dispatch_habits": show(Figure(f"pipeline made ready → its job r, {label}",
                                       [dispatch * 1000], "ms")),
    }


# 5. The data path.
def datapath(quick: bool) -> dict[str, Figure]:
    points = 5_000 if quick else 1_000_000
    rate = 10_000
    seconds = points / rate
    with service(settings=LEAN if quick else None) as svc:
        svc.ketchup("load", "s", "dummy-5")
        svc.ketchup("ready", "dummy-5")
        (svc.root / "d.yml").write_text(json.dumps(payload("s", seconds, 1 / rate)))
        jobid = json.loads(svc.ketchup("submit", "d.yml", "--json").stdout)["jobid"]
        procs: dict[str, int] = {}

        jobdir = str(svc.root / "jobs" / str(jobid))

        def find() -> bool:
            for pid in children(svc.process.pid):
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
                if b"tomato.job" in cmd and _has_open(pid, jobdir):  # not a standby one
                    procs["job"] = pid
                elif b"tomato.drivers.device" in cmd:
                    procs["device"] = pid
            return len(procs) == 2

        until(find, 30, "the job's host")
        procs["service"] = svc.process.pid
        samples: list[dict[str, float]] = []
        cpu0 = {k: cpu_seconds(p) for k, p in procs.items()}  # start-up is not the data path
        cpu: dict[str, float] = {}
        start = time.perf_counter()
        while True:  # sample while the job collects
            try:
                samples.append({k: rss_mib(p) for k, p in procs.items()})
                cpu = {k: cpu_seconds(p) - cpu0[k] for k, p in procs.items()}
                hwm = {k: peak_rss_mib(p) for k, p in procs.items()}
            except OSError:
                break
            if time.perf_counter() - start > seconds + 60:
                break
            time.sleep(0.5)
            if json.loads(svc.ketchup("status", str(jobid), "--json").stdout)[0]["status"] \
                    not in ("r", "rd"):
                break
        csv = next((svc.root / "jobs" / str(jobid)).glob("*.csv"))
        written = len(csv.read_text().splitlines()) - 2
        size = csv.stat().st_size
    early = samples[len(samples) // 5]
    late = samples[-1]
    figures = {
        "points": show(Figure(f"data path: points written of {points}", [written], "")),
        "bytes": show(Figure("data path: bytes on disk per point (raw CSV)", [size / written],
                             "B")),
    }
    for who in ("service", "job", "device"):
        figures[f"cpu_{who}"] = show(Figure(f"data path: {who} CPU per 10^6 points",
                                            [cpu[who] / written * 1e6], "s"))
        figures[f"rss_{who}"] = show(Figure(
            f"data path: {who} RSS at 20 % → at end of collection (peak)",
            [late[who]], f"MiB (from {early[who]:.0f}, peak {hwm[who]:.0f})"))
    return figures


def _has_open(pid: int, folder: str) -> bool:
    """Whether process `pid` has a file in `folder` open."""
    try:
        return any(os.readlink(fd).startswith(folder) for fd in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
