"""The benchmarks run (on a tiny size); their figures are read by people, not asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_the_benchmark_runs_and_prints_every_figure(env):
    # At the lowest priority: its processes take only the CPU the other tests leave.
    out = subprocess.run(["nice", "-n", "19", sys.executable, str(ROOT / "benchmarks" / "run.py"),
                          "--quick", "--no-reference"],
                         capture_output=True, text=True, timeout=300, env=env, check=True).stdout
    for name in ("tomato start → answering", "ketchup status (whole process)",
                 "submit → r", "ketchup submit (whole process)", "throughput as a fraction",
                 "scheduling pass", "idle CPU", "data path: bytes on disk per point",
                 "actor ask round trips", "event fan-out", "outputs for 1000 points",
                 "watch latency at 10 points/s on 2 pipelines", "reference (tomato 2.2): skipped"):
        assert name in out, out
