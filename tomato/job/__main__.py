"""Entry point of a job host: `python -m tomato.job --socket S --supervisor T`. It runs the
jobs it is handed (RunJob), each an actor, until it is told to stop, or its supervisor has
been gone for the grace period while it had no job."""

from __future__ import annotations

import argparse
import logging
import resource
import sys
from pathlib import Path

import anyio

from tomato.actors import (
    ORPHAN_GRACE,
    serve_actor,
    signal_ready,
    start_actor,
    task_group,
    until_released,
)

from ..codec import CODEC
from .host import JobHost


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tomato.job")
    parser.add_argument("--socket", required=True, type=Path)
    parser.add_argument("--supervisor", required=True, type=Path)
    parser.add_argument("--poll-interval", type=float, default=30.0)
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument("--orphan-grace", type=float, default=ORPHAN_GRACE,
                        help="seconds the supervisor may be gone before an idle host ends")
    return parser.parse_args(argv)


async def _main(args: argparse.Namespace) -> None:
    async with task_group() as tg:
        host = JobHost(args.supervisor, args.poll_interval, args.orphan_grace, tg)
        tg.start_soon(host.reporter.run)
        async with start_actor(host) as ref:
            await tg.start(serve_actor, ref, args.socket, CODEC)
            signal_ready()
            await until_released(args.supervisor, args.orphan_grace, host.is_idle)
            await host.stop_jobs()
        tg.cancel_scope.cancel()


def _more_files() -> None:
    """A host keeps a raw data file open per running step: the soft limit of open files
    (often 1,024) is raised to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv: list[str] | None = None) -> None:
    args = _parse(sys.argv[1:] if argv is None else argv)
    handler = logging.StreamHandler()
    handler.setLevel(args.log_level)  # a job's INFO lines are for its own log only
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s job host: %(message)s"))
    logging.basicConfig(level=args.log_level, handlers=[handler])
    _more_files()
    anyio.run(_main, args)


if __name__ == "__main__":
    main()
