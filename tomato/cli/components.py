"""`ketchup component ...`: a component (DEVICE:CHANNEL) reached directly, as tomato 2.x's
`passata` does: its status and attrs, set an attr, measure once, register, reset. (`passata`
itself is kept for 2.x's and 3.0's scripts: `passata.py`.)"""

from __future__ import annotations

from typing import Any

import asyncclick as click

from ..client_codec import component_codec
from ..messages import ForComponent, ListComponents
from .command import Ctx, Group, command


@click.group(cls=Group)
def component() -> None:
    """Components (DEVICE:CHANNEL) directly: list, show, get, set, measure, data, register,
    reset."""


async def ask_component(ctx: Ctx, name: str, request: Any, force: bool = False) -> Any:
    """Send `request` to component NAME (through the service); its reply."""
    return await ctx.ask(ForComponent(name, request, force), component_codec())


@component.command("list")
@command
async def list_(ctx: Ctx) -> None:
    """Every component: its device's driver and state, its pipelines, the job using it."""
    from . import render

    rows = await ctx.ask(ListComponents())
    ctx.emit(rows, lambda: render.components_table(rows))


@component.command()
@click.argument("name")
@command
async def show(ctx: Ctx, name: str) -> None:
    """NAME's status (running, status attrs), attrs, capabilities and constants."""
    from tomato.drivers.messages import GetComponent

    ctx.emit(await ask_component(ctx, name, GetComponent("")))


@component.command()
@click.argument("name")
@click.argument("attrs", nargs=-1)
@command
async def get(ctx: Ctx, name: str, attrs: tuple[str, ...]) -> None:
    """The values of NAME's ATTRS (all of them if none is named)."""
    from tomato.drivers.messages import GetAttrs

    ctx.emit(await ask_component(ctx, name, GetAttrs("", attrs)))


@component.command("set", context_settings={"ignore_unknown_options": True})  # VALUE -0.5
@click.argument("name")
@click.argument("attr")
@click.argument("value")
@click.option("--force", is_flag=True, help="Even if a running job uses the component.")
@command
async def set_(ctx: Ctx, name: str, attr: str, value: str, force: bool) -> None:
    """Set NAME's ATTR to VALUE (a number, or text such as '0.5 s'); the driver checks it."""
    from tomato.drivers.messages import SetAttr

    ctx.emit(await ask_component(ctx, name, SetAttr("", attr, _value(value)), force))


@component.command()
@click.argument("name")
@command
async def data(ctx: Ctx, name: str) -> None:
    """NAME's last measured point."""
    from tomato.drivers.messages import GetLastData

    ctx.emit(await ask_component(ctx, name, GetLastData("")))


@component.command()
@click.argument("name")
@command
async def measure(ctx: Ctx, name: str) -> None:
    """Measure once on NAME (refused while a task runs on it); prints the point."""
    from tomato.drivers.messages import Measure

    ctx.emit(await ask_component(ctx, name, Measure("")))


@component.command()
@click.argument("name")
@click.option("--force", is_flag=True, help="Even if a running job uses the component.")
@command
async def register(ctx: Ctx, name: str, force: bool) -> None:
    """Connect to NAME's instrument again (after it failed to register)."""
    from tomato.drivers.messages import RegisterComponent

    await ask_component(ctx, name, RegisterComponent(""), force)
    ctx.emit({"component": name, "registered": True}, lambda: f"{name} registered")


@component.command()
@click.argument("name")
@click.option("--force", is_flag=True, help="Even if a running job uses the component.")
@command
async def reset(ctx: Ctx, name: str, force: bool) -> None:
    """Stop whatever runs on NAME and bring it back to its idle state."""
    from tomato.drivers.messages import ResetComponent

    await ask_component(ctx, name, ResetComponent(""), force)
    ctx.emit({"component": name, "reset": True}, lambda: f"{name} reset")


def _value(text: str) -> Any:
    """A number if VALUE reads as one, else the text (the driver converts units)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
