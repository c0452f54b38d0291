"""What every ketchup command shares: the configuration, the output mode, one request."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from functools import wraps
from pathlib import Path
from typing import Any

import asyncclick as click

from tomato.actors import ActorError, Codec

from ..errors import exit_code_of
from .client import CLIENT_CODEC, request
from .config import config_dirs, start_command


class Group(click.Group):
    """A command group whose --help lists each command with the whole first sentence of its
    help, wrapped to the terminal, never cut off with "..."."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, cmd.short_help or first_sentence(cmd.help or ""))
                for name in self.list_commands(ctx)
                if (cmd := self.get_command(ctx, name)) is not None and not cmd.hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def client_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options of a client tool's group (ketchup, passata): which tomato it talks to."""
    fn = click.option("--config", type=click.Path(file_okay=False, path_type=Path),
                      help="Talk to the tomato of this configuration folder.")(fn)
    return click.option("-t", "--test", "test_mode", is_flag=True,
                        help="Talk to the test-mode tomato started in the current folder.")(fn)


def first_sentence(text: str) -> str:
    """The first sentence of a help text (up to ". " or its first blank line), one line."""
    paragraph = " ".join(text.strip().split("\n\n")[0].split())
    head, dot, _ = paragraph.partition(". ")
    return head + dot.strip()


class Ctx:
    """What every command gets: the configuration and the output mode. `obj`: what the
    group put in click's context, (test mode, --config) for ketchup and passata, (config
    dir, data dir, start command) for tomato."""

    def __init__(self, obj: tuple[Any, ...], mode: str) -> None:
        if len(obj) == 3:
            self.config_dir, _, self.start = obj
        else:
            test_mode, config = obj
            self.config_dir = config_dirs(test_mode, config)[0]
            self.start = start_command(test_mode, config)
        self.mode = mode

    async def ask(self, msg: Any, codec: Codec = CLIENT_CODEC) -> Any:
        return await request(self.config_dir, msg, start=self.start, codec=codec)

    def emit(self, data: Any, render: Callable[[], Any] | None = None) -> None:
        """Machine output (--json/--yaml) of `data`, or `render()` on the console."""
        plain = _plain(data)
        if self.mode == "json":
            import json

            click.echo(json.dumps(plain, indent=1))
        elif self.mode == "yaml" or render is None:
            import yaml

            click.echo(yaml.safe_dump(plain, sort_keys=False).rstrip())
        else:
            from rich.console import Console
            from rich.table import Table

            from .render import plain_table

            shown = render()
            if isinstance(shown, Table) and not sys.stdout.isatty():  # a script reads it
                click.echo(plain_table(shown))
            else:
                Console(soft_wrap=False).print(shown)


def _plain(data: Any) -> Any:
    if is_dataclass(data) and not isinstance(data, type):
        return asdict(data)
    if isinstance(data, (list, tuple)):
        return [_plain(d) for d in data]
    return data


def command(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A ketchup command: --json/--yaml options, errors as one line and an exit code."""

    @click.option("--json", "as_json", is_flag=True, help="Output JSON.")
    @click.option("-y", "--yaml", "as_yaml", is_flag=True, help="Output YAML.")
    @click.pass_obj
    @wraps(fn)
    async def wrapper(obj: tuple[Any, ...], *args: Any, as_json: bool, as_yaml: bool,
                      **kwargs: Any) -> None:
        if as_json and as_yaml:
            raise click.UsageError("--json or --yaml: one of them")
        mode = "json" if as_json else "yaml" if as_yaml else "rich"
        try:
            await fn(Ctx(obj, mode), *args, **kwargs)
        except ActorError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exit_code_of(exc))

    return wrapper


async def pipeline_command(ctx: Ctx, msg: Any) -> None:
    """Load, eject, ready or unready a pipeline; shows it as it is then."""
    from . import render

    pipeline = await ctx.ask(msg)
    ctx.emit(pipeline, lambda: render.pipelines_table([pipeline]))
