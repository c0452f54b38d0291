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
    read_config,
    serve_actor,
    signal_ready,
    start_actor,
    task_group,
    until_released,
)

from ..childconfig import JobHostConfig
from ..codec import CODEC
from .host import JobHost


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tomato.job",
        description="A job host, served on SOCKET; a JobHostConfig on standard input.")
    parser.add_argument("socket", type=Path, help="where it serves")
    return parser.parse_args(argv)


async def _main(socket: Path, config: JobHostConfig) -> None:
    supervisor = Path(config.supervisor)
    async with task_group() as tg:
        host = JobHost(supervisor, config.poll_interval, config.orphan_grace, tg)
        tg.start_soon(host.reporter.run)
        async with start_actor(host) as ref:
            await tg.start(serve_actor, ref, socket, CODEC)
            signal_ready()
            await until_released(supervisor, config.orphan_grace, host.is_idle)
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
    config = read_config(CODEC, JobHostConfig)
    handler = logging.StreamHandler()
    handler.setLevel(config.log_level)  # a job's INFO lines are for its own log only
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s job host: %(message)s"))
    logging.basicConfig(level=config.log_level, handlers=[handler])
    _more_files()
    anyio.run(_main, args.socket, config)


if __name__ == "__main__":
    main()
