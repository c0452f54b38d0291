"""Benchmarks: `python benchmarks/run.py [--rounds N] [--quick]`. Prints one figure a line.

Measures, on this machine, against a real `tomato -t` service in a temporary folder:
- start of `tomato` until it answers `ketchup status`;
- `python -c pass` (the floor) and `ketchup status` whole-process wall time;
- `ketchup submit` whole-process wall time;
- submit → status `r` on a ready pipeline, seen by an event subscriber on the service socket;
- end-of-job outputs (yadg datagram and archive): time and peak RSS for 10^3..10^5 points;
- latency from a point made by the driver to `ketchup watch --json` writing it (10 pipelines
  at 10 points/s, steady state).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import outputs
import watch

from actors import connect
from tomato._client import service_socket
from tomato._codec import CODEC
from tomato.messages import JobStatusChanged, SubmitJob

BIN = Path(sys.executable).parent
PAYLOAD = {"version": "0.2", "sample": {"name": "bench"},
           "method": [{"device": "worker", "technique": "random", "time": 0.2, "delay": 0.1}]}


def report(name: str, samples: list[float], unit: str = "ms", scale: float = 1000) -> None:
    values = [s * scale for s in samples]
    print(f"{name}: {statistics.median(values):.1f} {unit} "
          f"(min {min(values):.1f}, max {max(values):.1f}, n={len(values)})", flush=True)


def wall(argv: list[str], cwd: Path, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("benchmark: timed out")
        time.sleep(0.005)


def ketchup(cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(BIN / "ketchup"), "-t", *args], cwd=cwd, capture_output=True)


async def submit_to_running(root: Path, rounds: int) -> list[float]:
    times = []
    async with connect(service_socket(root), CODEC) as conn:
        async with conn.subscribe() as events:
            for _ in range(rounds):
                start = time.perf_counter()
                job = await conn.ask(SubmitJob(PAYLOAD, "bench.yml", str(root)))
                with anyio.fail_after(10):
                    async for ev in events:
                        if isinstance(ev, JobStatusChanged) and ev.jobid == job.jobid:
                            if ev.status == "r":
                                times.append(time.perf_counter() - start)
                            if ev.status in ("c", "ce", "cd"):
                                break
                await anyio.to_thread.run_sync(ketchup, root, "ready", "dummy-5")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    args = parser.parse_args()
    if args.quick:
        args.rounds = 1
    with tempfile.TemporaryDirectory(prefix="tomato-bench-") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        service = subprocess.Popen([str(BIN / "tomato"), "-t"], cwd=root,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            until(lambda: ketchup(root, "status").returncode == 0, 30)
            report("tomato start → answering", [time.perf_counter() - start])
            report("python -c pass", wall([sys.executable, "-c", "pass"], root, args.rounds))
            report("ketchup status (whole process)",
                   wall([str(BIN / "ketchup"), "-t", "status"], root, args.rounds))
            ketchup(root, "load", "bench", "dummy-5")
            ketchup(root, "ready", "dummy-5")
            report("submit → r (service, event seen by a subscriber)",
                   anyio.run(submit_to_running, root, args.rounds))
            (root / "bench.yml").write_text(str(PAYLOAD).replace("'", '"'))
            ketchup(root, "unready", "dummy-5")
            report("ketchup submit (whole process)",
                   wall([str(BIN / "ketchup"), "-t", "submit", "bench.yml"], root, args.rounds))
        finally:
            subprocess.run([str(BIN / "tomato"), "-t", "stop", "--force"], cwd=root,
                           capture_output=True)
            service.wait(30)
    outputs.main((10**3,) if args.quick else (10**3, 10**4, 10**5))
    watch.main(*((2, 1, 10) if args.quick else (10, 10, 10)))


if __name__ == "__main__":
    main()
