"""Latency from a point made by the driver to `ketchup watch --json` writing it."""

from __future__ import annotations

import json
import statistics
import subprocess
import time

from _common import BIN, Service, channels_lab, service, until

from tomato.messages import GetJobs


def _all_running(svc: Service, count: int) -> bool:
    jobs = svc.ask(GetJobs())
    return len(jobs) == count and all(j.status == "r" for j in jobs)


def measure(pipelines: int, seconds: float, rate: float, settings: str | None = None
            ) -> list[float]:
    """Latencies (s) of every point of `pipelines` jobs at `rate` points/s each."""
    with service(channels_lab(pipelines), settings) as svc:
        # Jobs run longer than the measurement: it starts once all of them run, so the
        # figure is the steady state, not the start-up of ten job processes on the CPU.
        payload = {"version": "0.2", "sample": {"name": "s"}, "method": [
            {"device": "worker", "technique": "random", "time": seconds + 10,
             "delay": 1 / rate}]}
        (svc.root / "p.yml").write_text(json.dumps(payload))
        for i in range(1, pipelines + 1):
            svc.ketchup("load", "s", f"p-{i}")
            svc.ketchup("submit", "p.yml")
            svc.ketchup("ready", f"p-{i}")
        until(lambda: _all_running(svc, pipelines), 60, "every job to run")
        watcher = subprocess.Popen([str(BIN / "ketchup"), "-t", "watch", "--json"],
                                   cwd=svc.root, stdout=subprocess.PIPE, text=True, bufsize=1)
        assert watcher.stdout is not None
        watcher.stdout.readline()  # the initial state
        start = time.time()
        latencies: list[float] = []
        while time.time() < start + seconds:
            record = json.loads(watcher.stdout.readline())
            now = time.time()
            if record["event"] == "point" and record["uts"] > start:
                latencies.append(now - record["uts"])
        watcher.terminate()
        watcher.communicate(timeout=10)
        return latencies


def main(pipelines: int = 10, seconds: float = 10, rate: float = 10,
         settings: str | None = None) -> None:
    latencies = sorted(measure(pipelines, seconds, rate, settings))
    p99 = latencies[min(int(len(latencies) * 0.99), len(latencies) - 1)]
    print(f"watch latency at {rate:g} points/s on {pipelines} pipelines: median "
          f"{statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms "
          f"(n={len(latencies)})", flush=True)


if __name__ == "__main__":
    main()
