"""The benchmarks run (on a tiny size); their figures are read by people, not asserted.

`pytest -m benchmark` (CI runs it after the suite): one test per section, so the sections
spread over the workers, each at the lowest priority."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
pytestmark = pytest.mark.benchmark
FIGURES = {
    "cli": ("tomato start → answering", "ketchup status (whole process)", "submit → r",
            "ketchup submit (whole process)", "a state commit, synchronous=FULL"),
    "throughput": ("throughput as a fraction",),
    "scale": ("scheduling pass", "idle CPU"),
    "datapath": ("data path: bytes on disk per point",),
    "actors": ("actor ask round trips", "event fan-out"),
    "outputs": ("outputs for 1000 points",),
    "watch": ("watch latency at 10 points/s on 2 pipelines",),
    "drivers": ("device start with the example_counter (2.1) driver",
                "device CPU per point, example_counter (2.1) driver",
                "device start with the example_counter (3.0) driver",
                "device CPU per point, example_counter (3.0) driver"),
    "cluster": ("submit → r, one tomato alone", "submit → r through the cluster",
                "claims with three tomatos competing", "ketchup status, 3 tomatos x 5"),
    "density": ("last submit → all r", "PSS, every tomato process", "CPU, every tomato process",
                "every job taken over (0 not running)", "(10/10 c with all points"),
    "web": ("lab page: address → every pipeline shown", "event → browser latency",
            "CPU web process, 3 followers", "RSS web process, 10 followers"),
}


@pytest.mark.timeout(300)  # as long as the run it waits for (at the lowest priority)
@pytest.mark.parametrize("section", FIGURES)
def test_the_benchmark_section_runs_and_prints_its_figures(env, section):
    out = subprocess.run(["nice", "-n", "19", sys.executable, str(ROOT / "benchmarks" / "run.py"),
                          "--quick", "--only", section],
                         capture_output=True, text=True, timeout=300, env=env, check=True).stdout
    for name in FIGURES[section]:
        assert name in out, out


def test_the_reference_is_skipped_when_asked(env):
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--help"],
                         capture_output=True, text=True, timeout=60, env=env, check=True).stdout
    assert "--no-reference" in out and "--only" in out
