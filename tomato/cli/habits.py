"""`ketchup hold`, `release`, `priority` and `requeue`: a queued job's habits changed, a
finished job queued again; and `status queue --since`."""

from __future__ import annotations

from typing import Any

import asyncclick as click

from ..messages import HoldJobs, RequeueJob, SetPriority
from ..records import job_records
from .command import Ctx, command


def jobid_list(ctx: click.Context, param: click.Parameter, value: str | None
               ) -> tuple[int, ...]:
    """ID[,ID...] as jobids (an option's callback)."""
    if not value:
        return ()
    try:
        return tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"jobids are whole numbers separated by commas, got "
                                 f"{value!r}") from None


def since_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """WHEN (7d, 12h, 30m ago; or a date or time on this PC's clock) as the UTC time the
    records write (an option's callback)."""
    if value is None:
        return None
    from datetime import UTC, datetime, timedelta

    units = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}
    try:
        if value[-1:] in units and value[:-1].replace(".", "", 1).isdigit():
            when = datetime.now(UTC) - timedelta(**{units[value[-1]]: float(value[:-1])})
        else:
            when = datetime.fromisoformat(value).astimezone(UTC)
    except ValueError:
        raise click.BadParameter(f"{value!r}: a span ago (7d, 12h, 30m, 2w) or a date or "
                                 "time (2026-11-30, 2026-11-30T14:00) expected") from None
    return when.isoformat(sep=" ")


@click.command()
@click.argument("jobids", metavar="JOBID...", type=int, nargs=-1, required=True)
@command
async def hold(ctx: Ctx, jobids: tuple[int, ...]) -> None:
    """Hold queued jobs: they do not start until released."""
    ctx.emit(job_records(await ctx.ask(HoldJobs(jobids, True))))


@click.command()
@click.argument("jobids", metavar="JOBID...", type=int, nargs=-1, required=True)
@command
async def release(ctx: Ctx, jobids: tuple[int, ...]) -> None:
    """Release held jobs: they start when a pipeline can run them."""
    ctx.emit(job_records(await ctx.ask(HoldJobs(jobids, False))))


@click.command()
@click.argument("jobid", type=int)
@click.argument("value", metavar="PRIORITY", type=int)
@command
async def priority(ctx: Ctx, jobid: int, value: int) -> None:
    """Give a queued job a PRIORITY: among the jobs a pipeline can run, higher first."""
    ctx.emit(job_records(await ctx.ask(SetPriority((jobid,), value))))


@click.command()
@click.argument("jobid", type=int)
@click.option("--after", metavar="ID[,ID...]", callback=jobid_list, default=None,
              help="The jobs it is to run after now (default: as before).")
@command
async def requeue(ctx: Ctx, jobid: int, after: tuple[int, ...]) -> None:
    """Queue finished job JOBID again as it was (payload, name, folder, --after, priority,
    pipeline); prints the new jobid."""
    job: Any = await ctx.ask(RequeueJob(jobid, after if after else None))
    if ctx.mode == "rich":
        click.echo(f"jobid: {job.jobid}")
    else:
        ctx.emit(job)
