"""`tomato`: run the supervisor service in the foreground; `tomato stop`, `tomato status`."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import asyncclick as click

from .. import __version__
from ..errors import ConflictError, TomatoError, exit_code_of
from ..messages import (
    EjectSample,
    GetPipelines,
    GetServiceStatus,
    ListComponents,
    LoadSample,
    Reload,
    RestartDevice,
    SetReady,
    StopService,
)
from .client import request
from .command import Ctx, Group, command, pipeline_command
from .config import config_dirs, start_command
from .web import token

_LEVELS = {0: logging.WARNING, 1: logging.INFO}


class _SayWhenReady:
    """Prints the service's ready line (a TaskStatus, as `serve` reports to)."""

    def started(self, value: str | None = None) -> None:
        click.echo(value)


@click.group(cls=Group, invoke_without_command=True)
@click.version_option(__version__, prog_name="tomato")
@click.option("-v", "--verbose", count=True, help="-v: info, -vv: debug output.")
@click.option("-t", "--test", "test_mode", is_flag=True,
              help="Test mode: settings, state, jobs and devices file in the current folder.")
@click.option("--config", type=click.Path(file_okay=False, path_type=Path),
              help="Use this configuration folder instead of the user's.")
@click.pass_context
async def cli(ctx: click.Context, verbose: int, test_mode: bool, config: Path | None) -> None:
    """Run the tomato job scheduler in the foreground (Ctrl-C stops it)."""
    ctx.obj = (*config_dirs(test_mode, config), start_command(test_mode, config))
    if ctx.invoked_subcommand is not None:
        return
    level = _LEVELS.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("dgbowl_schemas").setLevel(max(level, logging.WARNING))
    from .. import load_settings, serve  # the service's public face: this process becomes it

    config_dir, data_dir, _ = ctx.obj
    try:
        settings = load_settings(config_dir, data_dir, log_level=logging.getLevelName(level),
                                 test_mode=test_mode)
        # The ready line, once: the log says it at -v (and -vv), this says it otherwise.
        await serve(settings, **({"task_status": _SayWhenReady()} if level > logging.INFO
                                 else {}))
    except TomatoError as exc:
        _fail(exc)


@cli.command()
@click.option("--force", is_flag=True, help="Cancel running jobs (their data is kept).")
@click.pass_obj
async def stop(obj: tuple[Path, Path | None, str], force: bool) -> None:
    """Stop the running service (refused while jobs run, unless --force)."""
    try:
        await request(obj[0], StopService(force), start=obj[2])
    except TomatoError as exc:
        _fail(exc)
    click.echo("tomato is stopping")


STATUS_VIEWS = ("tomato", "pipelines", "drivers", "devices", "components")


@cli.command()
@click.argument("what", type=click.Choice(STATUS_VIEWS), default="tomato")
@command
async def status(ctx: Ctx, what: str) -> None:
    """Show the service (pid, paths, devices, jobs), or its pipelines, drivers, devices or
    components (tomato 2.2's and 3.0's spellings; `ketchup status` and `ketchup component
    list` show the same)."""
    from . import render

    if what == "pipelines":
        pipelines = await ctx.ask(GetPipelines())
        ctx.emit(pipelines, lambda: render.pipelines_table(pipelines))
    elif what == "components":
        rows = await ctx.ask(ListComponents())
        ctx.emit(rows, lambda: render.components_table(rows))
    else:
        reply = await ctx.ask(GetServiceStatus())
        if what == "tomato":
            ctx.emit(reply)
        elif what == "devices":
            ctx.emit(reply.devices, lambda: render.devices_table(reply.devices))
        else:
            drivers = render.drivers_of(reply.devices)
            ctx.emit(drivers, lambda: render.drivers_table(drivers))


@cli.group(cls=Group)
def pipeline() -> None:
    """Load, eject, ready or unready a pipeline: tomato 2.2's and 3.0's spellings of `ketchup
    load|eject|ready|unready` (note the order: PIPELINE, then SAMPLE)."""


@pipeline.command("load")
@click.argument("pipeline_name", metavar="PIPELINE")
@click.argument("sample")
@command
async def pipeline_load(ctx: Ctx, pipeline_name: str, sample: str) -> None:
    """Load SAMPLE into an empty PIPELINE (as `ketchup load SAMPLE PIPELINE`)."""
    await pipeline_command(ctx, LoadSample(pipeline_name, sample))


@pipeline.command("eject")
@click.argument("pipeline_name", metavar="PIPELINE")
@command
async def pipeline_eject(ctx: Ctx, pipeline_name: str) -> None:
    """Eject the sample from PIPELINE (as `ketchup eject`)."""
    await pipeline_command(ctx, EjectSample(pipeline_name))


@pipeline.command("ready")
@click.argument("pipeline_name", metavar="PIPELINE")
@command
async def pipeline_ready(ctx: Ctx, pipeline_name: str) -> None:
    """Mark PIPELINE ready (as `ketchup ready`)."""
    await pipeline_command(ctx, SetReady(pipeline_name, True))


@pipeline.command("unready")
@click.argument("pipeline_name", metavar="PIPELINE")
@command
async def pipeline_unready(ctx: Ctx, pipeline_name: str) -> None:
    """Mark PIPELINE not ready (as `ketchup unready`)."""
    await pipeline_command(ctx, SetReady(pipeline_name, False))


@cli.command()
@click.argument("device")
@click.option("--force", is_flag=True,
              help="Even if a running job uses it: the job waits for it and goes on, as "
                   "after a crash (points in between may be missing).")
@click.pass_obj
async def restart(obj: tuple[Path, Path | None, str], device: str, force: bool) -> None:
    """Start DEVICE's process again, with a fresh restart budget: a failed device (once its
    instrument or driver is mended), or a running one (its driver as installed now).
    Refused (exit 5) while a running job uses it, unless --force; exit 12 with the driver's
    reason if it fails again."""
    try:
        row = await request(obj[0], RestartDevice(device, force), start=obj[2])
    except TomatoError as exc:
        _fail(exc)
    click.echo(f"device {row.name} is {row.state} (pid {row.pid})")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@click.pass_obj
async def reload(obj: tuple[Path, Path | None, str], as_json: bool) -> None:
    """Read the devices file and the drivers' settings again and apply them: devices and
    pipelines added, changed (restarted) and removed; refused, changing nothing, if a
    running job uses what would change."""
    try:
        done = await request(obj[0], Reload(), start=obj[2])
    except TomatoError as exc:
        _fail(exc)
    if as_json:
        click.echo(json.dumps(asdict(done), indent=1))
        return
    for what in ("added", "changed", "removed", "failed"):
        if names := getattr(done, what):
            label = "restarted (changed)" if what == "changed" else what
            click.echo(f"devices {label}: {', '.join(names)}")
    for note in done.not_applied:
        click.echo(f"not applied: {note}")
    click.echo("reloaded")


@cli.command()
@click.pass_obj
async def recover(obj: tuple[Path, Path | None, str]) -> None:
    """Rebuild the state database's records of jobs from the job folders (after the
    database was lost, replaced by an older copy, or damaged: a damaged one is first moved
    aside), so that no jobid is given twice. Run while tomato is stopped."""
    from .. import recover_state as rebuild

    try:
        settings = _settings_of(obj)
        with _stopped(settings):
            rebuilt, aside = rebuild(settings.state_db, settings.jobs_dir,
                                     settings.cluster.host if settings.cluster else None)
    except TomatoError as exc:
        _fail(exc)
    if aside is not None:
        click.echo(f"the damaged database was moved to {aside}")
    click.echo(f"rebuilt {len(rebuilt)} job record(s) from {settings.jobs_dir}"
               + (f": jobs {', '.join(map(str, rebuilt))}" if rebuilt else ""))


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
async def backup(obj: tuple[Path, Path | None, str], file: Path) -> None:
    """Copy the state database to FILE (a new file, readable by you alone), consistent
    even while tomato runs. Restore it by putting it in place while tomato is stopped
    (then `tomato recover` adds the jobs that started after the copy)."""
    try:
        source = _settings_of(obj).state_db
        _copy_database(source, file)
    except TomatoError as exc:
        _fail(exc)
    click.echo(f"backed up {source} to {file}")


def _copy_database(source: Path, file: Path) -> None:
    """SQLite's online backup of `source` into the new file `file` (0600)."""
    import sqlite3

    if not source.exists():
        raise TomatoError(f"{source}: no state database to back up")
    try:
        os.close(os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        raise TomatoError(f"{file}: exists; choose a new file") from None
    except OSError as exc:
        raise TomatoError(f"{file}: cannot be written ({exc.strerror})") from None
    try:
        with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as db, \
                closing(sqlite3.connect(file)) as copy:
            db.backup(copy)
    except sqlite3.Error as exc:
        file.unlink(missing_ok=True)
        raise TomatoError(f"{source}: could not be backed up ({exc})") from None


def _settings_of(obj: tuple[Path, Path | None, str]) -> Any:
    from .. import load_settings

    return load_settings(obj[0], obj[1], test_mode=obj[2] == "tomato -t")


@contextmanager
def _stopped(settings: Any) -> Iterator[None]:
    """Hold the service's lock (as a service would): raises ConflictError if it runs."""
    import fcntl

    from ..paths import ensure_private_dir, open_lock

    fd = open_lock(ensure_private_dir(settings.runtime_dir))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ConflictError(f"tomato is running for {settings.config_dir}: stop it first "
                            "(`tomato stop`)") from None
    try:
        yield
    finally:
        os.close(fd)


cli.add_command(token)


def _fail(exc: TomatoError) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(exit_code_of(exc))


def main() -> None:
    cli(_anyio_backend="asyncio")


if __name__ == "__main__":
    main()
