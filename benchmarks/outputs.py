"""End-of-job processing: time and peak memory of the output process for N raw points."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
from tomato.actors import ORPHAN_GRACE, connect
from tomato.drivers import Column, Task

from tomato.childconfig import OutputServerConfig
from tomato.codec import CODEC
from tomato.jobspec import JobSpec, Place, StepSpec
from tomato.processmessages import MakeOutputs


def fake_job(jobdir: Path, points: int) -> MakeOutputs:
    """A job folder as a finished job leaves it (record, log, one raw CSV), and the request
    for its outputs beside it."""
    jobdir.mkdir(parents=True)
    step = StepSpec(0, "worker", Task("random", points * 0.1, 0.1), (Column("value", "", 1e-6),))
    spec = JobSpec(1, "bench", "s", (step,), Place(str(jobdir.parent), "results"),
                   pipeline="p")
    (jobdir / "jobdata.json").write_text(json.dumps({"jobid": 1, "payload": {}}))
    (jobdir / "jobdata.log").write_text("bench\n")
    start = 1.7e9
    with (jobdir / step.datafile).open("w") as f:
        f.write("uts,value\ns,\n")
        f.writelines(f"{start + k * 0.1:.6f},{(k * 7919 % 1000) / 1000:.6f}\n"
                     for k in range(points))
    return MakeOutputs(str(jobdir), spec, spec.output, "c")


def measure(points: int) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of a one-off `python -m tomato.outputs` on `points` points."""
    with tempfile.TemporaryDirectory(prefix="tomato-bench-out-") as tmp:
        request = CODEC.encode(fake_job(Path(tmp) / "job", points))
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "tomato.outputs"], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL)
        assert proc.stdin is not None
        proc.stdin.write(request)
        proc.stdin.close()
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"benchmark: the output process failed for {points} points")
        return elapsed, usage.ru_maxrss / 1024


async def _ask_server(sock: Path, request: MakeOutputs) -> float:
    async with connect(sock, CODEC) as conn:
        start = time.perf_counter()
        await conn.ask(request, timeout=600)
        return time.perf_counter() - start


def measure_server(points: int) -> float:
    """Seconds for the (warm) output server to make the outputs of `points` points."""
    with tempfile.TemporaryDirectory(prefix="tomato-bench-srv-") as tmp:
        request, sock = fake_job(Path(tmp) / "job", points), Path(tmp) / "out.sock"
        server = subprocess.Popen([sys.executable, "-m", "tomato.outputs", "--serve", str(sock)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            assert server.stdin is not None
            server.stdin.write(CODEC.encode(OutputServerConfig(None, ORPHAN_GRACE)))
            server.stdin.close()
            assert server.stdout is not None and server.stdout.readline() == b"READY\n"
            return anyio.run(_ask_server, sock, request)
        finally:
            server.terminate()
            server.wait(30)


def main(sizes: tuple[int, ...] = (10**3, 10**4, 10**5)) -> None:
    for points in sizes:
        seconds, rss = measure(points)
        warm = measure_server(points)
        print(f"outputs for {points} points: {seconds * 1000:.0f} ms, peak RSS {rss:.0f} MiB "
              f"(one-off process); {warm * 1000:.0f} ms by the output server", flush=True)


if __name__ == "__main__":
    main()
