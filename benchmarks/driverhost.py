"""DriverInterface 2.1 and 3.0 drivers (tomato-example-counter 2.1.1 and 3.0.0rc5) in our
device process, against our native dummy: time to start a device (registration included)
and CPU per point. The 3.0 release is installed into .drivers30/ (tests/drivers30)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
from _common import Figure, cpu_seconds, show
from tomato.actors import ORPHAN_GRACE, connect
from tomato.drivers import DEVICE_CODEC, DeviceConfig, ReadData, StartTask, Task

ROOT = Path(__file__).resolve().parent.parent
DRIVERS = {"dummy": ("dummy", "random", None, False),
           "example_counter (2.1)": ("example_counter", "count", "bench-addr", False),
           "example_counter (3.0)": ("example_counter", "count", "bench-addr", True)}
"""label: (driver, technique, address, whether the 3.0 release)"""


def _spawn(label: str, sock: Path) -> tuple[subprocess.Popen[bytes], float]:
    """A device process; returns it and the seconds until it said READY."""
    driver, _, address, v30 = DRIVERS[label]
    env = dict(os.environ)
    if v30:
        folder = subprocess.run([sys.executable, str(ROOT / "tests/drivers30/install.py")],
                                check=True, capture_output=True, text=True).stdout.strip()
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [folder, env.get("PYTHONPATH")]))
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "tomato.drivers.device", str(sock)],
                               stdout=subprocess.PIPE, stdin=subprocess.PIPE, env=env)
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(DEVICE_CODEC.encode(DeviceConfig(
        "bench", driver, ("1",), {}, address, "WARNING", None, ORPHAN_GRACE, None)))
    process.stdin.close()
    line = process.stdout.readline()
    assert line == b"READY\n", line
    return process, time.perf_counter() - start


async def _run_task(sock: Path, technique: str, seconds: float, interval: float) -> int:
    """Run one task on channel 1, reading as a job does; returns the points."""
    points = after = 0
    async with connect(sock, DEVICE_CODEC) as device:
        await device.ask(StartTask("1", Task(technique, seconds, interval), "bench"))
        while True:
            batch = await device.ask(ReadData("1", after))
            points += len(batch.points)
            after = batch.first + len(batch.points)
            if batch.state != "running":
                return points
            await anyio.sleep(0.05)


def main(quick: bool) -> None:
    rounds, seconds, interval = (2, 0.5, 0.05) if quick else (5, 10.0, 0.01)
    for driver, (_, technique, _, _) in DRIVERS.items():
        starts, per_point = [], []
        for _ in range(rounds):
            with tempfile.TemporaryDirectory(prefix="tt-") as tmp:
                sock = Path(tmp) / "dev.sock"
                process, started = _spawn(driver, sock)
                try:
                    cpu_before = cpu_seconds(process.pid)
                    points = anyio.run(_run_task, sock, technique, seconds, interval)
                    per_point.append((cpu_seconds(process.pid) - cpu_before) / points * 1e6)
                finally:
                    process.terminate()
                    process.wait()
                starts.append(started)
        show(Figure(f"device start with the {driver} driver (registration included)",
                    [s * 1000 for s in starts], "ms"))
        show(Figure(f"device CPU per point, {driver} driver at {1 / interval:g} points/s",
                    per_point, "µs"))
