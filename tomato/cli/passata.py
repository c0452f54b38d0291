"""`passata`: tomato 2.2's and 3.0's spelling of `ketchup component`, for the scripts labs
already have. One implementation (the component requests of `ketchup component`); NAME is
a component as any of them names it: `DEVICE:CHANNEL` (ours), `DRIVER:ADDRESS:CHANNEL`
(3.0) or `DRIVER:(ADDRESS,CHANNEL)` (2.x)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import asyncclick as click

from .. import __version__
from .command import Ctx, Group, client_options, command
from .components import ask_component


@click.group(cls=Group)
@click.version_option(__version__, prog_name="passata")
@client_options
@click.pass_context
async def cli(ctx: click.Context, test_mode: bool, config: Path | None) -> None:
    """Components directly, as tomato 2.2's and 3.0's passata: status, attrs, capabilities,
    constants, get, register, reset. The native spelling is `ketchup component` (which
    also sets attrs, measures once and shows the last data)."""
    ctx.obj = (test_mode, config)


async def _described(ctx: Ctx, name: str) -> dict:
    from dataclasses import asdict

    from tomato.drivers.messages import GetComponent

    return asdict(await ask_component(ctx, name, GetComponent("")))


@cli.command()
@click.argument("name")
@command
async def status(ctx: Ctx, name: str) -> None:
    """NAME's status: running or not, and its status attrs (`ketchup component show`)."""
    info = await _described(ctx, name)
    ctx.emit({"component": name, "running": info["running"], **info["status"]})


@cli.command()
@click.argument("name")
@command
async def attrs(ctx: Ctx, name: str) -> None:
    """NAME's attrs: type, unit, whether settable, bounds, options."""
    ctx.emit((await _described(ctx, name))["attrs"])


@cli.command()
@click.argument("name")
@command
async def capabilities(ctx: Ctx, name: str) -> None:
    """The techniques NAME can run."""
    ctx.emit((await _described(ctx, name))["capabilities"])


@cli.command()
@click.argument("name")
@command
async def constants(ctx: Ctx, name: str) -> None:
    """NAME's constants (its driver's and its own)."""
    ctx.emit((await _described(ctx, name))["constants"])


@cli.command()
@click.argument("name")
@click.argument("attr_names", metavar="ATTR...", nargs=-1, required=True)
@command
async def get(ctx: Ctx, name: str, attr_names: tuple[str, ...]) -> None:
    """The values of NAME's ATTRs (`ketchup component get`)."""
    from tomato.drivers.messages import GetAttrs

    ctx.emit(await ask_component(ctx, name, GetAttrs("", attr_names)))


@cli.command()
@click.argument("name")
@command
async def register(ctx: Ctx, name: str) -> None:
    """Connect to NAME's instrument again (`ketchup component register`)."""
    from tomato.drivers.messages import RegisterComponent

    await ask_component(ctx, name, RegisterComponent(""))
    ctx.emit({"component": name, "registered": True}, lambda: f"{name} registered")


@cli.command()
@click.argument("name")
@click.option("-f", "--force", is_flag=True, help="Even if a running job uses the component.")
@command
async def reset(ctx: Ctx, name: str, force: bool) -> None:
    """Stop whatever runs on NAME and bring it back to idle (`ketchup component reset`)."""
    from tomato.drivers.messages import ResetComponent

    await ask_component(ctx, name, ResetComponent(""), force)
    ctx.emit({"component": name, "reset": True}, lambda: f"{name} reset")


def main() -> NoReturn:
    try:
        cli(_anyio_backend="asyncio")
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    os._exit(code)


if __name__ == "__main__":
    main()
