"""Entry point of a device process: `python -m tomato.drivers.device --name N --driver D ...`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import anyio
from tomato.actors import (
    ORPHAN_GRACE,
    serve_actor,
    signal_failed,
    signal_ready,
    start_actor,
    task_group,
    until_released,
)

from ._device import DEVICE_CODEC, DeviceActor, Owner
from ._registry import load_driver
from .errors import DriverError


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tomato.drivers.device")
    parser.add_argument("--name", required=True)
    parser.add_argument("--driver", required=True)
    parser.add_argument("--socket", required=True, type=Path)
    parser.add_argument("--address", default=None)
    parser.add_argument("--channels", required=True, help="comma-separated")
    parser.add_argument("--settings-stdin", action="store_true",
                        help="read the driver's settings (a JSON object) from standard input: "
                             "never on the command line, where every user sees them")
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument("--supervisor", type=Path, default=None,
                        help="the supervisor's socket: stop when it is gone and no task runs")
    parser.add_argument("--orphan-grace", type=float, default=ORPHAN_GRACE,
                        help="seconds the supervisor may be gone before that")
    parser.add_argument("--check", action="store_true",
                        help="only load the driver and make it with its settings: exit 0, or "
                             "print why not (FAILED ...) and exit 1")
    parser.add_argument("--owner-pidfile", type=Path, default=None,
                        help="take commands only from the process whose pid this file holds "
                             "and from its children (default: from any process of this user)")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    try:
        driver_cls = load_driver(args.driver)
        settings = json.loads(sys.stdin.buffer.read() or b"{}") if args.settings_stdin else {}
        driver = driver_cls(args.address, tuple(args.channels.split(",")), settings)
        if args.check:
            return
        await driver.start()
    except DriverError as exc:
        signal_failed(str(exc))
        sys.exit(1)
    except Exception as exc:  # a driver's own code: whatever it raised is the reason
        logging.getLogger(__name__).exception("driver %r could not start", args.driver)
        signal_failed(f"driver {args.driver!r} could not start: {type(exc).__name__}: {exc}")
        sys.exit(1)
    async with task_group() as tg:
        actor = DeviceActor(args.name, driver, tg, Owner(args.owner_pidfile))
        async with start_actor(actor) as ref:
            await tg.start(serve_actor, ref, args.socket, DEVICE_CODEC)
            tg.start_soon(driver.background, actor.is_channel_idle, actor.idle_point)
            signal_ready()
            await until_released(args.supervisor, args.orphan_grace, actor.is_idle)
        tg.cancel_scope.cancel()


def main(argv: list[str] | None = None) -> None:
    args = _parse(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=args.log_level,
                        format=f"%(asctime)s %(levelname)s device {args.name}: %(message)s")
    anyio.run(_serve, args)


if __name__ == "__main__":
    main()
