"""`ketchup`: submit payloads, inspect and cancel jobs, manage samples in pipelines."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import asyncclick as click

from tomato.actors import ActorError

from .. import __version__
from ..errors import exit_code_of
from ..messages import (
    CancelJobs,
    EjectSample,
    GetJobs,
    GetPipelines,
    LoadSample,
    SearchJobs,
    SetReady,
    SubmitJob,
    TakeSnapshot,
)
from ..records import job_records
from .command import Ctx, Group, client_options, command, pipeline_command
from .components import component
from .config import config_dirs
from .habits import hold, jobid_list, priority, release, requeue, since_option
from .web import web


@click.group(cls=Group)
@click.version_option(__version__, prog_name="ketchup")
@client_options
@click.option("-v", "--verbose", count=True, hidden=True,
              help="With 'status queue': finished jobs too (kept for tomato 0.2 scripts).")
@click.pass_context
async def cli(ctx: click.Context, test_mode: bool, config: Path | None, verbose: int) -> None:
    """Submit jobs to tomato, see, search and cancel them, watch them live and take
    snapshots; load, eject, ready and unready pipelines; reach components directly."""
    ctx.obj = (test_mode, config)
    ctx.meta["verbose"] = verbose


cli.add_command(component)
for habit in (hold, release, priority, requeue):
    cli.add_command(habit)
cli.add_command(web)


@cli.command()
@click.argument("payload", type=click.Path(path_type=Path, dir_okay=False))
@click.option("-j", "--jobname", help="A name for the job (see 'ketchup search').")
@click.option("--check", is_flag=True,
              help="Only check it against this lab (as a submit does), queue nothing.")
@click.option("-J", "columns", is_flag=True,
              help="PAYLOAD is base64 of the payload's JSON (kept for tomato 0.2 scripts).")
@click.option("--after", metavar="ID[,ID...]", callback=jobid_list,
              help="Start only once these jobs completed (c); if one ends otherwise, this "
                   "job is cancelled, saying why.")
@click.option("--after-any", metavar="ID[,ID...]", callback=jobid_list,
              help="Start once these jobs ended, however they ended.")
@click.option("--hold", is_flag=True, help="Queue it held: it starts once released "
                                           "('ketchup release JOBID').")
@click.option("--priority", type=int, default=0, show_default=True,
              help="Among the queued jobs a pipeline can run, higher first (then in "
                   "submission order).")
@click.option("--pipeline", metavar="NAME", help="Run it on this pipeline only.")
@command
async def submit(ctx: Ctx, payload: Path, jobname: str | None, check: bool,
                 columns: bool, after: tuple[int, ...], after_any: tuple[int, ...],
                 hold: bool, priority: int, pipeline: str | None) -> None:
    """Submit the PAYLOAD file (YAML or JSON) to the queue; prints the jobid."""
    from ..payloadfile import read_payload, read_payload_base64

    if after and after_any:
        raise click.UsageError("--after and --after-any: give one of them")
    raw = read_payload_base64(str(payload)) if columns else read_payload(payload)
    if columns:
        payload = Path("(base64 payload)")
    job = await ctx.ask(SubmitJob(raw, str(payload), str(Path.cwd()), jobname, check,
                                  after=after or after_any, after_any=bool(after_any),
                                  hold=hold, priority=priority, pipeline=pipeline))
    if check:
        ctx.emit(job, lambda: f"{payload}: a valid {job.version} payload; pipelines that can "
                              f"run it: {', '.join(job.pipelines) or 'none yet'}")
        return
    if columns:  # as tomato 0.2 printed it: its scripts split these lines
        click.echo(f"jobid: {job.jobid}\njobname: {job.jobname or 'null'}")
    elif ctx.mode == "rich":
        click.echo(f"jobid: {job.jobid}")
    else:
        ctx.emit(job)


@cli.command()
@click.argument("what", nargs=-1)
@click.option("-a", "--all", "show_all", is_flag=True, help="With 'queue': finished jobs too.")
@click.option("-v", "--verbose", "verbose", is_flag=True,
              help="As -a (kept for tomato 0.2 scripts).")
@click.option("-J", "columns", is_flag=True,
              help="JSON of one list per column (kept for tomato 0.2 scripts).")
@click.option("--since", metavar="WHEN", callback=since_option,
              help="With 'queue': finished jobs too, those that ended since WHEN: 7d, 12h, "
                   "30m ago, or a date (2026-11-30) or time (2026-11-30T14:00) here.")
@command
async def status(ctx: Ctx, what: tuple[str, ...], show_all: bool, verbose: bool,
                 columns: bool, since: str | None) -> None:
    """Pipelines (no argument), the queue ('queue'), or jobs by JOBID (YAML)."""
    from . import render

    show_all = show_all or verbose or since is not None or bool(
        click.get_current_context().find_root().meta.get("verbose"))
    if not what:
        pipelines = await ctx.ask(GetPipelines())
        if columns:
            pids = {j.jobid: j.pid for j in await ctx.ask(GetJobs(()))}
            return _columns(render.pipeline_columns(pipelines, pids))
        ctx.emit(pipelines, lambda: render.pipelines_table(pipelines))
    elif what == ("queue",):
        jobs = await ctx.ask(GetJobs((), show_all, since))
        if columns:
            return _columns(render.job_columns(jobs, queue=True))
        ctx.emit(jobs, lambda: render.jobs_table(jobs, "queue"))
    else:
        jobs = await ctx.ask(GetJobs(_jobids(what)))
        if columns:
            return _columns(render.job_columns(jobs, queue=False))
        ctx.emit(job_records(jobs))


def _columns(table: dict[str, list[Any]]) -> None:
    """tomato 0.2's JSON: one list per column ({} with no rows)."""
    import json

    click.echo(json.dumps(table if any(table.values()) else {}))


def _jobids(values: tuple[str, ...]) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in values)
    except ValueError:
        raise click.BadParameter(f"jobids are whole numbers, got {' '.join(values)!r}; "
                                 "use 'ketchup status queue' for the queue") from None


@cli.command()
@click.argument("jobids", nargs=-1, required=True)
@command
async def cancel(ctx: Ctx, jobids: tuple[str, ...]) -> None:
    """Cancel jobs: queued ones at once, running ones after their devices stop."""

    jobs = await ctx.ask(CancelJobs(_jobids(jobids)))
    ctx.emit(job_records(jobs))


@cli.command("cancel_all")
@command
async def cancel_all(ctx: Ctx) -> None:
    """Cancel every queued and running job, one line each (kept for tomato 0.2 scripts)."""
    jobs = await ctx.ask(GetJobs(()))
    if jobs:
        jobs = await ctx.ask(CancelJobs(tuple(j.jobid for j in jobs)))
    ctx.emit([{"jobid": j.jobid, "status": j.status} for j in jobs],
             lambda: "\n".join(f"job {j.jobid}: {j.status}" for j in jobs) or "no jobs")


@cli.command()
@click.argument("sample")
@click.argument("pipeline")
@command
async def load(ctx: Ctx, sample: str, pipeline: str) -> None:
    """Load SAMPLE into an empty PIPELINE."""
    await pipeline_command(ctx, LoadSample(pipeline, sample))


@cli.command()
@click.argument("pipeline")
@command
async def eject(ctx: Ctx, pipeline: str) -> None:
    """Eject the sample from PIPELINE (not while a job runs on it)."""
    await pipeline_command(ctx, EjectSample(pipeline))


@cli.command()
@click.argument("pipeline")
@command
async def ready(ctx: Ctx, pipeline: str) -> None:
    """Mark PIPELINE ready: a matching queued job may start on it."""
    await pipeline_command(ctx, SetReady(pipeline, True))


@cli.command()
@click.argument("pipeline")
@command
async def unready(ctx: Ctx, pipeline: str) -> None:
    """Mark PIPELINE not ready (not while a job runs on it)."""
    await pipeline_command(ctx, SetReady(pipeline, False))


@cli.command()
@click.argument("jobids", metavar="JOBID...", type=int, nargs=-1, required=True)
@command
async def snapshot(ctx: Ctx, jobids: tuple[int, ...]) -> None:
    """Write snapshot.JOBID.{nc,zip} of each job's data so far into this folder.

    Each job is tried; one that fails is said, and the exit code is the first failure's."""
    files: list[str] = []
    failed: ActorError | None = None
    for jobid in jobids:
        try:
            taken = await ctx.ask(TakeSnapshot(jobid, str(Path.cwd())))
        except ActorError as exc:
            if len(jobids) == 1:
                raise
            click.echo(f"error: {exc}", err=True)
            failed = failed or exc
            continue
        if taken.warning:
            click.echo(f"warning: {taken.warning}", err=True)
        files.extend(taken.files)
    ctx.emit({"files": files}, lambda: "\n".join(files))
    if failed is not None:
        sys.exit(exit_code_of(failed))


@cli.command()
@click.argument("jobid", type=int, required=False)
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per event per line (the default when not a terminal).")
@click.option("--width", type=int, default=None, help="Screen width (default: the terminal's).")
@click.pass_obj
async def watch(obj: tuple[bool, Path | None], jobid: int | None, as_json: bool,
                width: int | None) -> None:
    """Live view of all pipelines, or of job JOBID until it ends (exit 0 if it completed)."""
    from .watch import watch as run_watch

    config_dir = config_dirs(*obj)[0]
    as_json = as_json or not sys.stdout.isatty()
    try:
        code = await run_watch(config_dir, jobid, as_json, width)
    except ActorError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exit_code_of(exc))
    sys.exit(code)


@cli.command()
@click.argument("text")
@click.option("-c", "--complete", is_flag=True, help="Include finished jobs.")
@command
async def search(ctx: Ctx, text: str, complete: bool) -> None:
    """Jobs whose name contains TEXT (queued and running; -c: finished too)."""
    from . import render

    jobs = await ctx.ask(SearchJobs(text, complete))
    ctx.emit(jobs, lambda: render.jobs_table(jobs, f"jobs named *{text}*"))


def main() -> NoReturn:
    """Run the command, then leave at once: with its output flushed, the interpreter's
    teardown of some 300 modules is only delay."""
    try:
        cli(_anyio_backend="asyncio")
        code: Any = 0
    except SystemExit as exc:
        code = exc.code
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # the reader went away: what was not written is lost, say so by the code
        code = code or 1
    os._exit(code or 0)


if __name__ == "__main__":
    main()
