"""Entry point of a job process: `python -m tomato.job --socket S --supervisor T`. It waits
for RunJob, runs that job, reports its end, and waits again if the supervisor wants it."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import anyio

from tomato.actors import serve_actor, signal_ready, start_actor, task_group, until_released

from ..codec import CODEC
from ..jobfolder import JOB_LOG, JOB_LOG_FORMAT
from ..messages import JobCollected, JobSpec, NextJob
from .actor import JobActor, report
from .reporter import DRAIN_TIMEOUT, Reporter

JOB_LOGGER = "tomato.job"
"""The logger whose records (this package's) go to the job log."""


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tomato.job")
    parser.add_argument("--socket", required=True, type=Path)
    parser.add_argument("--supervisor", required=True, type=Path)
    parser.add_argument("--poll-interval", type=float, default=0.1)
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument("--orphan-grace", type=float, default=60.0,
                        help="seconds the supervisor may be gone before a waiting process ends")
    return parser.parse_args(argv)


def _job_log(jobdir: Path, verbosity: str) -> logging.Handler:
    """The job log is the user's record: at least INFO, DEBUG if the payload asks."""
    handler = logging.FileHandler(jobdir / JOB_LOG, encoding="utf-8")
    handler.setFormatter(logging.Formatter(JOB_LOG_FORMAT))
    handler.setLevel(min(logging.INFO, logging.getLevelName(verbosity)))
    job_logger = logging.getLogger(JOB_LOGGER)
    job_logger.addHandler(handler)
    job_logger.setLevel(handler.level)
    return handler


async def _main(args: argparse.Namespace) -> None:
    reporter = Reporter(args.supervisor)
    actor = JobActor(args.poll_interval, reporter)
    async with task_group() as tg:
        tg.start_soon(reporter.run)
        async with start_actor(actor) as ref:
            await tg.start(serve_actor, ref, args.socket, CODEC)
            signal_ready()
            while (spec := await _next_job(actor, args)) is not None:
                handler = _job_log(actor.jobdir, spec.verbosity)
                try:
                    status, reason = await actor.run()
                finally:
                    logging.getLogger(JOB_LOGGER).removeHandler(handler)
                    handler.close()
                # The supervisor hears the last points before the end; if it is gone, this
                # waits no longer than the service's processes wait for it.
                await reporter.drain(min(DRAIN_TIMEOUT, args.orphan_grace))
                # From here this process may be handed its next job (the supervisor makes
                # this one's outputs).
                reply = await report(args.supervisor, JobCollected(spec.jobid, status, reason),
                                     args.orphan_grace)
                if not isinstance(reply, NextJob) or not reply.wait:
                    break
        tg.cancel_scope.cancel()


async def _next_job(actor: JobActor, args: argparse.Namespace) -> JobSpec | None:
    """The next job; None if SIGTERM came first, or the supervisor was gone for the grace
    period (a waiting process just ends)."""
    spec: JobSpec | None = None
    async with anyio.create_task_group() as waiting:
        async def stop_on_signal() -> None:
            await until_released(args.supervisor, args.orphan_grace)
            waiting.cancel_scope.cancel()

        waiting.start_soon(stop_on_signal)
        spec = await actor.next_job()
        waiting.cancel_scope.cancel()
    return spec


def main(argv: list[str] | None = None) -> None:
    args = _parse(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=args.log_level,
                        format="%(asctime)s %(levelname)s job: %(message)s")
    anyio.run(_main, args)


if __name__ == "__main__":
    main()
