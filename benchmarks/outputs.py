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

from actors import connect
from tomato.codec import CODEC
from tomato.messages import MakeOutputs
from tomato.outputs.build import write_manifest


def fake_job(jobdir: Path, points: int) -> None:
    """A job folder as a finished job leaves it: jobdata, log, manifest, one raw CSV."""
    jobdir.mkdir(parents=True)
    jobdata = {"jobid": 1, "jobname": "bench", "sample": "s", "cwd": str(jobdir),
               "pipeline": {"name": "p", "components": {}},
               "payload": {"version": "2.2", "settings": {}, "method": []}}
    (jobdir / "jobdata.json").write_text(json.dumps(jobdata))
    (jobdir / "jobdata.log").write_text("bench\n")
    start = 1.7e9
    with (jobdir / "00-worker-random.csv").open("w") as f:
        f.write("uts,value\ns,\n")
        f.writelines(f"{start + k * 0.1:.6f},{(k * 7919 % 1000) / 1000:.6f}\n"
                     for k in range(points))
    write_manifest(jobdir, [{"file": "00-worker-random.csv", "tag": "00-worker-random",
                             "step": 0, "role": "worker", "technique": "random",
                             "columns": [{"name": "value", "unit": "",
                                          "uncertainty": 1e-6}]}])


def measure(points: int) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of `python -m tomato.output` on `points` points."""
    with tempfile.TemporaryDirectory(prefix="tomato-bench-out-") as tmp:
        jobdir = Path(tmp) / "job"
        fake_job(jobdir, points)
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "tomato.outputs", "--jobdir", str(jobdir),
                                 "--out", tmp, "--prefix", "results"],
                                stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"benchmark: the output process failed for {points} points")
        return elapsed, usage.ru_maxrss / 1024


async def _ask_server(sock: Path, jobdir: Path, out: Path) -> float:
    async with connect(sock, CODEC) as conn:
        start = time.perf_counter()
        await conn.ask(MakeOutputs(str(jobdir), str(out), "results"), timeout=600)
        return time.perf_counter() - start


def measure_server(points: int) -> float:
    """Seconds for the (warm) output server to make the outputs of `points` points."""
    with tempfile.TemporaryDirectory(prefix="tomato-bench-srv-") as tmp:
        jobdir, sock = Path(tmp) / "job", Path(tmp) / "out.sock"
        fake_job(jobdir, points)
        server = subprocess.Popen([sys.executable, "-m", "tomato.outputs", "--serve", str(sock)],
                                  stdout=subprocess.PIPE)
        try:
            assert server.stdout is not None and server.stdout.readline() == b"READY\n"
            return anyio.run(_ask_server, sock, jobdir, Path(tmp))
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
