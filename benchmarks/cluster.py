"""The cluster (`--only cluster`): a real nats-server with JetStream on loopback and
tomato services joined to it, each in its own folder.

- submit → r: on one tomato alone, and through the cluster (submitted on pc-a, the job's
  pipeline on pc-b: its r as pc-b's events show it);
- claims: JOBS jobs submitted on three tomatos at once against 3 pipelines on each (every
  job fits every pipeline, so all three compete for each): first ready → every job ended
  everywhere; checks each ran exactly once;
- `ketchup status` (whole process) on a cluster of 3 tomatos x 100 pipelines.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import anyio
from _common import BIN, LEAN, Figure, Service, channels_lab, show, submit_to_r, until, wall

from tomato.messages import (
    GetJobs,
    GetPipelines,
    LoadSample,
    SetReady,
    SubmitJob,
)

WARM = "[jobs]\nstandby = 2\noutput_servers = 1\n"
JOB = {"version": "0.2", "sample": {"name": "bench"}, "tomato": {"unlock_when_done": True},
       "method": [{"device": "worker", "technique": "random", "time": 0.1, "delay": 0.05}]}


@contextmanager
def nats_server(root: Path) -> Iterator[str]:
    log = root / "nats.log"
    process = subprocess.Popen([str(BIN / "nats-server"), "-js", "-sd", str(root / "js"), "-a",
                                "127.0.0.1", "-p", "-1", "-l", str(log)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        found: list[str] = []

        def listening() -> bool:
            text = log.read_text() if log.exists() else ""
            if "Server is ready" in text:
                found.extend(re.findall(r"client connections on (127\.0\.0\.1:\d+)", text))
            return bool(found)

        until(listening, 20, "nats-server to listen")
        yield f"nats://{found[0]}"
    finally:
        process.terminate()
        process.wait(20)


def joined(stack: ExitStack, root: Path, url: str, host: str, devices: str | None,
           settings: str = LEAN) -> Service:
    folder = root / host
    folder.mkdir()
    svc = Service(folder, devices, f'{settings}[cluster]\nurl = "{url}"\nhost = "{host}"\n')
    stack.callback(svc.stop)
    return svc


def ready(svc: Service, pipeline: str, sample: str = "bench") -> None:
    svc.ask(LoadSample(pipeline, sample))
    svc.ask(SetReady(pipeline, True))


def latency(root: Path, url: str, rounds: int) -> None:
    with ExitStack() as stack:
        alone = stack.enter_context(_service(root / "alone"))
        ready(alone, "dummy-5")
        show(Figure("submit → r, one tomato alone", [
            t * 1000 for t in anyio.run(submit_to_r, JOB, alone.root, alone.root, rounds)], "ms"))
        a = joined(stack, root, url, "pc-a", channels_lab(1).replace("p-*", "a-*"))
        b = joined(stack, root, url, "pc-b", channels_lab(1).replace("p-*", "b-*"))
        until(lambda: any(p.name == "pc-b:b-1" for p in a.ask(GetPipelines())), 20,
              "pc-b's pipeline on pc-a")
        ready(b, "b-1")
        show(Figure("submit → r through the cluster (pc-a → pc-b)", [
            t * 1000 for t in anyio.run(submit_to_r, JOB, a.root, b.root, rounds)], "ms"))


def claims(root: Path, url: str, jobs: int) -> None:
    with ExitStack() as stack:
        lab = [joined(stack, root, url, f"pc-{h}", channels_lab(3), WARM) for h in "abc"]
        for svc in lab:
            until(lambda svc=svc: len(svc.ask(GetPipelines())) == 9, 30, "every pipeline")
        with ThreadPoolExecutor(6) as pool:
            jobids = list(pool.map(lambda i: lab[i % 3].ask(SubmitJob(
                JOB, "bench.yml", str(lab[i % 3].root))).jobid, range(jobs)))
        assert len(set(jobids)) == jobs, "a jobid was given twice"
        start = time.perf_counter()
        for svc in lab:
            for name in ("p-1", "p-2", "p-3"):
                ready(svc, name)
        until(lambda: not any(svc.ask(GetJobs(())) for svc in lab), 300,
              "every job to end everywhere")
        elapsed = time.perf_counter() - start
        ran: dict[int, int] = {}
        for svc in lab:
            for info in svc.ask(GetJobs(tuple(jobids))):
                if info.pipeline and ":" not in info.pipeline:
                    ran[info.jobid] = ran.get(info.jobid, 0) + 1
        assert sorted(ran) == sorted(jobids) and set(ran.values()) == {1}, "not exactly once"
        show(Figure(f"claims with three tomatos competing ({jobs} jobs of 0.1 s, 9 "
                    "pipelines; each ran once)", [jobs / elapsed], "jobs/s"))


def status(root: Path, url: str, per_host: int, rounds: int) -> None:
    with ExitStack() as stack:
        lab = [joined(stack, root, url, f"pc-{h}", channels_lab(per_host)) for h in "abc"]
        until(lambda: len(lab[0].ask(GetPipelines())) == 3 * per_host, 30, "every pipeline")
        show(Figure(f"ketchup status, 3 tomatos x {per_host} pipelines (whole process)", [
            t * 1000 for t in wall([str(BIN / "ketchup"), "-t", "status"], lab[0].root,
                                   rounds)], "ms"))


@contextmanager
def _service(folder: Path) -> Iterator[Service]:
    folder.mkdir()
    svc = Service(folder, None, LEAN)
    try:
        yield svc
    finally:
        svc.stop()


def main(quick: bool = False, rounds: int = 10) -> None:
    with tempfile.TemporaryDirectory(prefix="tomato-bench-cluster-") as tmp:
        root = Path(tmp)
        for folder in ("nats", "latency", "claims", "status"):
            (root / folder).mkdir()
        with nats_server(root / "nats") as url:
            latency(root / "latency", url, 3 if quick else rounds)
            claims(root / "claims", url, 20 if quick else 200)
            status(root / "status", url, 5 if quick else 100, 3 if quick else rounds)
