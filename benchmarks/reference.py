"""The reference: dgbowl's tomato 2.2 with its `tomato-example-counter` driver, measured on
this machine in the same run. Installed into its own virtual environment (never ours),
started on a free loopback port in a temp folder; the processes it starts are ended by pid.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from _common import Figure, show, until, wall

VENV = Path(__file__).parent / ".reference-venv"
PACKAGES = ("tomato==2.2", "tomato-example-counter")

# Marks pipelines ready over its own API in one process (its CLI needs ~0.5 s a call).
READY_ALL = """
import sys, zmq
from tomato.tomato import pipeline_ready
ctx = zmq.Context()
for name in sys.argv[2:]:
    rep = pipeline_ready(port=int(sys.argv[1]), timeout=10000, context=ctx, pipeline=name)
    assert rep.success, rep.msg
"""


def ensure_venv() -> Path:
    """The reference's venv (made once, kept beside the benchmarks, ignored by git)."""
    tomato = VENV / "bin" / "tomato"
    if not tomato.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", *PACKAGES], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return VENV / "bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def counter_payload(seconds: float, unlock: bool = False) -> dict:
    return {"version": "2.2", "user": {"identifier": "bench"}, "sample": {"identifier": "s"},
            "settings": {"unlock_when_done": unlock},
            "method": [{"component_role": "counter", "technique_name": "count",
                        "max_duration": seconds, "sampling_interval": 0.1}]}


class Reference:
    """tomato 2.2 in a temp folder, with `pipelines` counter pipelines."""

    def __init__(self, bin_dir: Path, root: Path, pipelines: int) -> None:
        self.bin = bin_dir
        self.root = root
        self.port = free_port()
        # It starts its daemon, drivers and jobs by name: its venv comes first on PATH.
        self.env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
        self.app = root / "app"
        self.names = [f"pip-{i}" for i in range(1, pipelines + 1)]
        self.run("tomato", "init", "-A", str(self.app), "-D", str(root / "data"),
                 "-L", str(root / "log"))
        devices = [{"name": f"dev-{i}", "driver": "example_counter", "address": f"a{i}",
                    "channels": ["1"], "pollrate": 1} for i in range(1, pipelines + 1)]
        pips = [{"name": name, "devices": [{"role": "counter", "device": f"dev-{i}",
                                            "channel": "1"}]}
                for i, name in enumerate(self.names, 1)]
        (self.app / "devices.yml").write_text(json.dumps({"devices": devices,
                                                          "pipelines": pips}))
        start = time.perf_counter()
        with (root / "start.log").open("w") as log:  # its daemon keeps these open: no pipes
            subprocess.run([str(bin_dir / "tomato"), "start", "-p", str(self.port), "-A",
                            str(self.app)], cwd=root, stdout=log, stderr=log, check=True,
                           env=self.env)
        until(lambda: all(f"name:{n} " in self.run("tomato", "status", "pipelines").stdout
                          for n in self.names), 120, "tomato 2.2 pipelines")
        self.ready_after = time.perf_counter() - start
        self.db = root / "data" / "Jobs" / "dbpath.sqlite"

    def run(self, exe: str, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bin / exe), *args, "-p", str(self.port)],
                              cwd=self.root, capture_output=True, text=True, check=check,
                              env=self.env)

    def submit(self, payload: dict) -> None:
        path = self.root / f"p{time.monotonic_ns()}.yml"
        path.write_text(json.dumps(payload))
        self.run("ketchup", "submit", str(path), check=True)

    def jobs(self) -> list[tuple]:
        with contextlib.closing(sqlite3.connect(self.db)) as db:
            return db.execute("SELECT id, status, submitted_at, launched_at, completed_at "
                              "FROM queue ORDER BY id").fetchall()

    def ready_all(self) -> None:
        # From its own folder: run from our checkout, `tomato` would be ours, not 2.2.
        result = subprocess.run([str(self.bin / "python"), "-c", READY_ALL, str(self.port),
                                 *self.names], cwd=self.root, capture_output=True, text=True,
                                env=self.env)
        if result.returncode != 0:
            why = (result.stderr.strip().splitlines() or ["no message"])[-1]
            raise SystemExit(f"benchmark: tomato 2.2 refused 'ready': {why}")

    def stop(self) -> None:
        """Stop it, then end every process of this port by pid (daemon, drivers, jobs)."""
        self.run("tomato", "stop")
        mark = str(self.port).encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            with contextlib.suppress(OSError):
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                if any(a.startswith(b"tomato-") or b"/tomato-" in a for a in argv[:2]) and \
                        mark in argv:
                    os.kill(int(entry.name), signal.SIGKILL)


def _stamp(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def measure(rounds: int, quick: bool) -> dict[str, Figure]:
    bin_dir = ensure_venv()
    figures: dict[str, Figure] = {}
    with tempfile.TemporaryDirectory(prefix="tomato22-") as tmp:
        ref = Reference(bin_dir, Path(tmp), 1)
        try:
            figures["start"] = show(Figure("[tomato 2.2] start → pipelines answering",
                                           [ref.ready_after], "s"))
            figures["status"] = show(Figure("[tomato 2.2] ketchup status (whole process)", [
                t * 1000 for t in wall([str(bin_dir / "ketchup"), "status", "-p",
                                        str(ref.port)], ref.root, rounds)], "ms"))
            ref.run("tomato", "pipeline", "load", "pip-1", "s", check=True)
            ref.ready_all()
            (ref.root / "one.yml").write_text(json.dumps(counter_payload(0.2, unlock=True)))
            submits = []
            for n in range(1, min(rounds, 5) + 1):
                submits += wall([str(bin_dir / "ketchup"), "submit", "one.yml", "-p",
                                 str(ref.port)], ref.root, 1)
                until(lambda n=n: sum(1 for j in ref.jobs() if j[1] == "c") == n, 60,
                      "the reference job to complete")
            figures["submit"] = show(Figure("[tomato 2.2] ketchup submit (whole process)",
                                            [t * 1000 for t in submits], "ms"))
            figures["dispatch"] = show(Figure("[tomato 2.2] submit → r (its launched_at)", [
                (_stamp(j[3]) - _stamp(j[2])) * 1000 for j in ref.jobs()], "ms"))
        finally:
            ref.stop()
        figures.update(throughput(bin_dir, Path(tmp) / "t", quick))
    return figures


def throughput(bin_dir: Path, root: Path, quick: bool) -> dict[str, Figure]:
    jobs, pipelines, seconds = (4, 2, 0.5) if quick else (20, 10, 0.5)
    root.mkdir()
    ref = Reference(bin_dir, root, pipelines)
    try:
        for name in ref.names:
            ref.run("tomato", "pipeline", "load", name, "s", check=True)
        for _ in range(jobs):
            ref.submit(counter_payload(seconds, unlock=True))
        ref.ready_all()

        def ended() -> int:
            return sum(1 for j in ref.jobs() if j[1] in ("c", "ce", "cd"))

        try:
            until(lambda: ended() == jobs, 120, "the reference's jobs to end")
        except SystemExit:  # it sometimes stops launching jobs: say so, keep the rest
            print(f"[tomato 2.2] throughput: not measured, only {ended()} of {jobs} jobs "
                  "ended within 120 s (it stopped launching the others)", flush=True)
            return {}
        done = ref.jobs()
        first = min(_stamp(j[3]) for j in done)
        last = max(_stamp(j[4]) for j in done)
    finally:
        ref.stop()
    ideal = jobs / pipelines * seconds
    return {
        "throughput": show(Figure(f"[tomato 2.2] throughput, {jobs} jobs of {seconds} s on "
                                  f"{pipelines} pipelines, first start → last c", [last - first],
                                  "s")),
        "throughput_fraction": show(Figure("[tomato 2.2] throughput as a fraction of ideal",
                                           [ideal / (last - first)], "")),
    }
