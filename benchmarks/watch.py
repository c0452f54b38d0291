"""Latency from a point made by the driver to `ketchup watch --json` writing it."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def _ketchup(root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(BIN / "ketchup"), "-t", *args], cwd=root, capture_output=True)


def measure(pipelines: int, seconds: float, rate: float) -> list[float]:
    """Latencies (s) of every point of `pipelines` jobs at `rate` points/s each."""
    with tempfile.TemporaryDirectory(prefix="tomato-bench-watch-") as tmp:
        root = Path(tmp)
        channels = ", ".join(str(i) for i in range(1, pipelines + 1))
        (root / "devices.yml").write_text(
            f"devices:\n  - {{name: d, driver: dummy, channels: [{channels}]}}\n"
            "pipelines:\n  - name: p-*\n    devices: [{tag: worker, name: d, channel: each}]\n")
        service = subprocess.Popen([str(BIN / "tomato"), "-t"], cwd=root,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while _ketchup(root, "status").returncode != 0:
                if time.monotonic() > deadline:
                    raise SystemExit("benchmark: tomato did not start")
                time.sleep(0.05)
            # Jobs run longer than the measurement: it starts once all of them run, so the
            # figure is the steady state, not the start-up of ten job processes on the CPU.
            payload = {"version": "0.2", "sample": {"name": "s"}, "method": [
                {"device": "worker", "technique": "random", "time": seconds + 10,
                 "delay": 1 / rate}]}
            (root / "p.yml").write_text(json.dumps(payload))
            for i in range(1, pipelines + 1):
                _ketchup(root, "load", "s", f"p-{i}")
                _ketchup(root, "submit", "p.yml")
                _ketchup(root, "ready", f"p-{i}")
            while len(json.loads(_ketchup(root, "status", "queue", "--json").stdout)
                      ) != pipelines or b'"qw"' in _ketchup(root, "status", "queue",
                                                            "--json").stdout:
                time.sleep(0.1)
            watcher = subprocess.Popen([str(BIN / "ketchup"), "-t", "watch", "--json"],
                                       cwd=root, stdout=subprocess.PIPE, text=True, bufsize=1)
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
        finally:
            subprocess.run([str(BIN / "tomato"), "-t", "stop", "--force"], cwd=root,
                           capture_output=True)
            service.wait(30)


def main(pipelines: int = 10, seconds: float = 10, rate: float = 10) -> None:
    latencies = sorted(measure(pipelines, seconds, rate))
    p99 = latencies[min(int(len(latencies) * 0.99), len(latencies) - 1)]
    print(f"watch latency at {rate:g} points/s on {pipelines} pipelines: median "
          f"{statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms "
          f"(n={len(latencies)})", flush=True)


if __name__ == "__main__":
    main()
