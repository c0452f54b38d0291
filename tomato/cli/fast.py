"""`ketchup status` and `ketchup status queue [-a]` as scripts call them (piped, or with
`--json`): asked blocking, printed without click, rich or an event loop, so a script's
call costs little more than starting Python. Anything else goes to the full CLI."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any


def run(argv: list[str]) -> int | None:
    """Run `argv` (without the program name) if it is such a call; its exit code. None:
    not one of those (the full CLI runs it)."""
    if os.environ.get("TOMATO_NO_FAST"):
        return None
    test_mode, config, args = False, None, list(argv)
    while args and (args[0] in ("-t", "--test") or args[0].startswith("--config")):
        option = args.pop(0)
        if option in ("-t", "--test"):
            test_mode = True
        elif option.startswith("--config="):
            config = Path(option.partition("=")[2])
        elif args:
            config = Path(args.pop(0))
        else:
            return None
    as_json = "--json" in args
    args = [a for a in args if a != "--json"]
    if args and args[0] == "status":
        rest = sorted(args[1:])
        if rest in ([], ["queue"], ["-a", "queue"], ["--all", "queue"]) and (
                as_json or not sys.stdout.isatty()):
            return _status(test_mode, config, bool(rest), len(rest) == 2, as_json)
    return None


def _status(test_mode: bool, config: Path | None, queue: bool, show_all: bool,
            as_json: bool) -> int:
    from ..errors import TomatoError, exit_code_of
    from ..messages import GetJobs, GetPipelines
    from . import cells
    from .client import request_now
    from .config import config_dirs, start_command

    try:
        answer = request_now(config_dirs(test_mode, config)[0],
                             GetJobs((), show_all) if queue else GetPipelines(),
                             start_command(test_mode, config))
    except TomatoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exit_code_of(exc)
    if as_json:
        import json
        from dataclasses import asdict

        print(json.dumps([asdict(a) for a in answer], indent=1))
    elif queue:
        print(cells.plain(cells.job_table_columns(answer), cells.job_rows(answer)))
    else:
        print(cells.plain(cells.PIPELINE_COLUMNS, cells.pipeline_rows(answer)))
    return 0


def main() -> Any:
    """The `ketchup` command: a script's status call here, anything else by the full CLI
    (whose imports a status call never pays for)."""
    code = run(sys.argv[1:])
    if code is None:
        from .ketchup import main as full

        return full()
    try:
        sys.stdout.flush()
    except OSError:  # the reader went away
        code = code or 1
    os._exit(code)
