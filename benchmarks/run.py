"""Benchmarks: `python benchmarks/run.py [--quick] [--no-reference] [--rounds N]`.

Prints one figure a line (`name: median unit (min, max, n)`), ours, then the reference's
(tomato 2.2 with tomato-example-counter, measured in the same run on the same machine, in a
virtual environment of its own), then ours/reference ratios. Sections:
1-2. `python -c pass` (floor), `ketchup status` and `ketchup submit` whole-process wall time;
     submit → r; start → answering.
3. throughput: 20 jobs of 0.5 s on 10 pipelines (first start → last c; ideal 1.0 s).
4. scheduler scale: 1,000 pipelines x 10,000 queued jobs (pass time, idle CPU, RSS, dispatch).
5. data path: 10^6 points from one job (CPU per process, RSS over time, bytes per point).
6. actor runtime: asks per second and event fan-out, against a bare asyncio echo.
Plus end-of-job outputs (10^3..10^5 points), `ketchup watch` latency, and drivers:
DriverInterface 2.1 and 3.0 packages (tomato-example-counter) against our native dummy
(device start, CPU per point), the cluster (submit → r alone and through NATS, claims with
three tomatos competing, `ketchup status` over 3 x 100 pipelines), and density (100 and
1,000 jobs running at once: memory and CPU by process kind, status, watch, take-over, the
end burst; tomato 2.2's memory per job beside it), and the web page (first paint of the
lab page in a headless Chromium, event → browser latency, CPU with followers). `--quick`
runs every section on a tiny size (the test suite's smoke test); `--only SECTION` runs one
section (cli, throughput, scale, datapath, actors, outputs, watch, drivers, cluster,
density, web).
"""

from __future__ import annotations

import argparse
import compileall
import json
import time
from pathlib import Path

import actors_bench
import anyio
import cluster
import density
import driverhost
import ours
import outputs
import reference
import watch
import web
from _common import (
    BIN,
    LEAN,
    Figure,
    children,
    service,
    show,
    standby,
    submit_to_r,
    until,
    wall,
)
from tomato.actors import connect

from tomato.cli.client import service_socket
from tomato.codec import CODEC
from tomato.messages import LoadSample, SetReady

PAYLOAD = {"version": "0.2", "sample": {"name": "bench"}, "tomato": {"unlock_when_done": True},
           "method": [{"device": "worker", "technique": "random", "time": 0.2, "delay": 0.1}]}


async def submit_to_running(root, rounds: int) -> list[float]:
    """Submit → r on a ready pipeline, as an event subscriber on the socket sees it."""
    async with connect(service_socket(root), CODEC) as conn:
        await conn.ask(LoadSample("dummy-5", "bench"))
        await conn.ask(SetReady("dummy-5", True))
    return await submit_to_r(PAYLOAD, root, root, rounds)


def cli(rounds: int, quick: bool = False) -> dict[str, Figure]:
    figures = {}
    with service(settings=LEAN if quick else None) as svc:
        figures["start"] = show(Figure("tomato start → answering", [svc.ready_after], "s"))
        if not quick:  # the start-up finishes first (device, 2 output servers, a job host)
            until(lambda: standby(svc) >= 1 and len(children(svc.process.pid)) >= 4, 60,
                  "the service's processes")
        figures["floor"] = show(Figure("python -c pass (the floor)", [
            t * 1000 for t in wall([str(BIN / "python"), "-c", "pass"], svc.root, rounds)],
            "ms"))
        figures["status"] = show(Figure("ketchup status (whole process)", [
            t * 1000 for t in wall([str(BIN / "ketchup"), "-t", "status"], svc.root, rounds)],
            "ms"))
        (svc.root / "bench.yml").write_text(json.dumps(PAYLOAD))
        figures["submit"] = show(Figure("ketchup submit (whole process)", [
            t * 1000 for t in wall([str(BIN / "ketchup"), "-t", "submit", "bench.yml"],
                                   svc.root, rounds)], "ms"))
        svc.ketchup("cancel", *[str(i) for i in range(1, rounds + 1)])
        figures["dispatch"] = show(Figure("submit → r (event on the socket)", [
            t * 1000 for t in anyio.run(submit_to_running, svc.root, rounds)], "ms"))
        for mode in ("NORMAL", "FULL"):  # what durability costs a submit, on this disk
            show(Figure(f"a state commit, synchronous={mode}"
                        f"{' (ours: synced before a reply)' if mode == 'FULL' else ''}",
                        commit_times(svc.root / "commit-bench.db", mode, 10 * rounds), "ms"))
    return figures


def commit_times(path: Path, synchronous: str, count: int) -> list[float]:
    """Milliseconds per commit of a job's size into a WAL database with `synchronous`."""
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={synchronous}")
        db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body BLOB)")
        times = []
        for _ in range(count):
            start = time.perf_counter()
            db.execute("INSERT INTO t (body) VALUES (?)", (b"x" * 2000,))
            times.append((time.perf_counter() - start) * 1000)
    return times


SECTIONS = ("cli", "throughput", "scale", "datapath", "actors", "outputs", "watch", "drivers",
            "cluster", "density", "web")


def run_section(section: str, quick: bool, rounds: int, with_reference: bool = True
                ) -> dict[str, Figure] | None:
    """Run one section; returns the figures compared with the reference, if any."""
    match section:
        case "cli":
            return cli(rounds, quick)
        case "throughput":
            return ours.throughput(quick)
        case "scale":
            return ours.scale(quick)
        case "datapath":
            return ours.datapath(quick)
        case "actors":
            actors_bench.main(quick)
        case "outputs":
            outputs.main((10**3,) if quick else (10**3, 10**4, 10**5))
        case "watch":
            watch.main(2, 1, 10, LEAN) if quick else watch.main()
        case "drivers":
            driverhost.main(quick)
        case "cluster":
            cluster.main(quick, rounds)
        case "density":
            density.main(quick, with_reference)
        case "web":
            web.main(quick)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument("--no-reference", action="store_true",
                        help="skip tomato 2.2 (e.g. offline: it is installed from PyPI)")
    parser.add_argument("--only", choices=SECTIONS, help="run this section alone")
    args = parser.parse_args()
    rounds = 2 if args.quick else args.rounds
    print(f"# benchmarks {time.strftime('%Y-%m-%d %H:%M')}{' (quick)' if args.quick else ''}")
    # An installed tomato has its bytecode compiled (pip does it); an editable checkout gets
    # it on first import, unless PYTHONDONTWRITEBYTECODE is set (as in some sandboxes).
    for package in ("actors", "drivers", "tomato"):
        compileall.compile_dir(Path(__file__).resolve().parent.parent / package, quiet=1)
    print("# our packages byte-compiled first, as an installed tomato is")
    mine: dict[str, Figure] = {}
    for section in (args.only,) if args.only else SECTIONS:
        mine.update(run_section(section, args.quick, rounds, not args.no_reference) or {})
    if args.only:
        return
    if args.no_reference:
        print("# reference (tomato 2.2): skipped (--no-reference)")
        return
    theirs = reference.measure(rounds, args.quick)
    print("# ours / reference (lower is better, but for throughput)")
    for key in ("start", "status", "submit", "dispatch", "throughput", "throughput_fraction"):
        if key in mine and key in theirs:
            print(f"ratio {key}: {mine[key].median / theirs[key].median:.3g}")


if __name__ == "__main__":
    main()
