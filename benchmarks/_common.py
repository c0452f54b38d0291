"""Helpers of the benchmarks: a tomato service in a temp folder, timing, statistics."""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from tomato.actors import ActorError, connect

from tomato.cli.client import service_socket
from tomato.codec import CODEC
from tomato.messages import GetPipelines, GetServiceStatus, JobStatusChanged, SubmitJob

BIN = Path(sys.executable).parent
LEAN = "[jobs]\nstandby = 0\noutput_servers = 0\n[web]\nlisten = \"\"\n"
"""Settings for a quick run where a figure does not depend on them: no processes kept
waiting, so the smoke run takes little CPU from the tests beside it."""


@dataclass
class Figure:
    name: str
    values: list[float]
    unit: str

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def line(self, label: str = "") -> str:
        low, high = min(self.values), max(self.values)
        spread = f" (min {low:.4g}, max {high:.4g}, n={len(self.values)})" \
            if len(self.values) > 1 else ""
        return f"{self.name}{label}: {self.median:.4g} {self.unit}{spread}"


def show(figure: Figure) -> Figure:
    print(figure.line(), flush=True)
    return figure


def until(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"benchmark: timed out waiting for {what}")
        time.sleep(0.005)


def wall(argv: list[str], cwd: Path, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    """Processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(stat[1]) == pid:
                    found.append(int(entry.name))
    return found


class Service:
    """`tomato -t` in a temp folder (optionally with a devices file), and its ketchup."""

    def __init__(self, root: Path, devices: str | None = None, settings: str | None = None
                 ) -> None:
        self.root = root
        if devices is not None:
            (root / "devices.yml").write_text(devices)
        if settings is not None:
            (root / "settings.toml").write_text(settings)
        self.started = time.perf_counter()
        self.process = subprocess.Popen([str(BIN / "tomato"), "-t"], cwd=root,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Asked in-process, every 5 ms: a `ketchup status` each time would take CPU from it.
        until(lambda: self.answering() or self.process.poll() is not None, 120,
              "tomato to answer")
        if self.process.poll() is not None:
            raise SystemExit(f"benchmark: tomato exited with {self.process.returncode}")
        self.ready_after = time.perf_counter() - self.started

    def ask(self, msg: Any) -> Any:
        """The service's reply to `msg`, asked over its socket from this process."""
        async def ask() -> Any:
            async with connect(service_socket(self.root), CODEC) as conn:
                return await conn.ask(msg, timeout=30)

        return anyio.run(ask)

    def answering(self) -> bool:
        try:
            self.ask(GetPipelines())
        except ActorError:
            return False
        return True

    def ketchup(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([str(BIN / "ketchup"), "-t", *args], cwd=self.root,
                              capture_output=True)

    def stop(self) -> None:
        subprocess.run([str(BIN / "tomato"), "-t", "stop", "--force"], cwd=self.root,
                       capture_output=True)
        self.process.wait(60)


@contextlib.contextmanager
def service(devices: str | None = None, settings: str | None = None) -> Iterator[Service]:
    with tempfile.TemporaryDirectory(prefix="tomato-bench-") as tmp:
        svc = Service(Path(tmp), devices, settings)
        try:
            yield svc
        finally:
            svc.stop()


async def submit_to_r(payload: dict[str, Any], submit_on: Path, run_on: Path, rounds: int
                      ) -> list[float]:
    """Submit `payload` on one tomato → its r as the events of the one that runs it (the
    same, alone) show it; each job ends before the next is submitted."""
    times = []
    async with connect(service_socket(submit_on), CODEC) as here, \
            connect(service_socket(run_on), CODEC) as there, there.subscribe() as events:
        for _ in range(rounds):
            start = time.perf_counter()
            job = await here.ask(SubmitJob(payload, "bench.yml", str(submit_on)))
            with anyio.fail_after(30):
                async for ev in events:
                    if isinstance(ev, JobStatusChanged) and ev.jobid == job.jobid:
                        if ev.status == "r":
                            times.append(time.perf_counter() - start)
                        if ev.status in ("c", "ce", "cd"):
                            break
    return times


def standby(svc: Service) -> int:
    """How many job processes of `svc` wait for a job."""
    return svc.ask(GetServiceStatus()).standby


def channels_lab(count: int) -> str:
    """A devices file: one dummy device with `count` channels, pipelines p-1 .. p-count."""
    channels = ", ".join(str(i) for i in range(1, count + 1))
    return (f"devices:\n  - {{name: d, driver: dummy, channels: [{channels}]}}\n"
            "pipelines:\n  - name: p-*\n    devices: [{tag: worker, name: d, channel: each}]\n")
