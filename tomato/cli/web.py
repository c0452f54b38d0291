"""`tomato token add/list/revoke` (who may use the web page and API) and `ketchup web`
(the page's address, with the owner's login token)."""

from __future__ import annotations

import json
from pathlib import Path

import asyncclick as click

from ..errors import ConfigError, NotRunningError
from ..paths import web_address_file
from ..tokens import ROLES, TOKENS_FILE, Tokens
from .client import service_socket
from .command import Ctx, Group, command


@click.group(cls=Group)
def token() -> None:
    """Tokens for the web page and API: one per person, with a role (viewer reads; user
    also submits, cancels and snapshots its own jobs and downloads results; admin does
    all)."""


def _tokens(ctx: Ctx) -> Tokens:
    return Tokens(ctx.config_dir / TOKENS_FILE)


@token.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True)
@command
async def token_add(ctx: Ctx, name: str, role: str) -> None:
    """Make a token for NAME (replacing one it had) and print it: it is kept hashed, so
    this is the only time it is shown."""
    secret = _tokens(ctx).add(name, role)
    if ctx.mode == "rich":
        click.echo(secret)
        click.echo(f"a token for {name} ({role}): give it to them; it is not shown again. "
                   "On the page: the address `ketchup web` prints, with ?token= this; "
                   "for the API: Authorization: Bearer this", err=True)
    else:
        ctx.emit({"name": name, "role": role, "token": secret})


@token.command("list")
@command
async def token_list(ctx: Ctx) -> None:
    """Show the tokens' names, roles and when they were made (never the tokens)."""
    rows = _tokens(ctx).list()
    if ctx.mode == "rich":
        for row in rows:
            click.echo(f"{row['name']}\t{row['role']}\t{row['created']}")
        if not rows:
            click.echo("no tokens (tomato token add NAME --role ROLE makes one)", err=True)
    else:
        ctx.emit(rows)


@token.command("revoke")
@click.argument("name")
@command
async def token_revoke(ctx: Ctx, name: str) -> None:
    """Revoke NAME's token: the web page and API refuse it from now on."""
    _tokens(ctx).revoke(name)
    if ctx.mode == "rich":
        click.echo(f"revoked the token of {name}")
    else:
        ctx.emit({"revoked": name})


@click.command()
@click.option("--open", "open_browser", is_flag=True, help="Open it in a browser too.")
@command
async def web(ctx: Ctx, open_browser: bool) -> None:
    """Print the address of the web page with a login token (tomato's own user: an admin's;
    others ask for a token of their own: tomato token add NAME)."""
    found = web_address(ctx.config_dir)
    url = f"{found['url']}?token={found['token']}"
    if ctx.mode == "rich":
        click.echo(url)
    else:
        ctx.emit({"url": found["url"], "login": url})
    if open_browser:
        import webbrowser

        webbrowser.open(url)


def web_address(config_dir: Path) -> dict[str, str]:
    """What the web process wrote of itself; raises saying why there is nothing to show
    (no page served, or not for this user)."""
    path = web_address_file(service_socket(config_dir).parent)
    try:
        found: dict[str, str] = json.loads(path.read_text())
    except FileNotFoundError:
        raise NotRunningError(
            "no web page is served: tomato is not running, or [web] listen in its "
            "settings.toml is empty, or the page failed to start (tomato's log says why)"
            ) from None
    except PermissionError:
        raise ConfigError("the web page's login is tomato's own user's; ask them for a token "
                          "of yours (tomato token add NAME --role user)") from None
    except ValueError as exc:
        raise ConfigError(f"{path}: not the web page's address ({exc})") from None
    return found
