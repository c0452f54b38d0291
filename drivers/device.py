"""Entry point of a device process: `python -m tomato.drivers.device SOCKET`, its
DeviceConfig on standard input."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import anyio
from tomato.actors import (
    read_config,
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
from .messages import DeviceConfig


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tomato.drivers.device",
        description="A device process: its driver, served on SOCKET. What else it needs comes "
                    "as a DeviceConfig on standard input (the driver's settings may hold "
                    "passwords: never on the command line, where every user sees them).")
    parser.add_argument("socket", type=Path, help="where it serves")
    parser.add_argument("--check", action="store_true",
                        help="only load the driver and make it with its settings: exit 0, or "
                             "print why not (FAILED ...) and exit 1")
    return parser.parse_args(argv)


async def _serve(socket: Path, config: DeviceConfig, check: bool) -> None:
    try:
        driver_cls = load_driver(config.driver)
        driver = driver_cls(config.address, config.channels, dict(config.settings))
        if check:
            return
        await driver.start()
    except DriverError as exc:
        signal_failed(str(exc))
        sys.exit(1)
    except Exception as exc:  # a driver's own code: whatever it raised is the reason
        logging.getLogger(__name__).exception("driver %r could not start", config.driver)
        signal_failed(f"driver {config.driver!r} could not start: {type(exc).__name__}: {exc}")
        sys.exit(1)
    owner = Owner(Path(config.owner_pidfile) if config.owner_pidfile else None)
    supervisor = Path(config.supervisor) if config.supervisor else None
    async with task_group() as tg:
        actor = DeviceActor(config.name, driver, tg, owner)
        async with start_actor(actor) as ref:
            await tg.start(serve_actor, ref, socket, DEVICE_CODEC)
            tg.start_soon(driver.background, actor.is_channel_idle, actor.idle_point)
            signal_ready()
            await until_released(supervisor, config.orphan_grace, actor.is_idle)
        tg.cancel_scope.cancel()


def main(argv: list[str] | None = None) -> None:
    args = _parse(sys.argv[1:] if argv is None else argv)
    config = read_config(DEVICE_CODEC, DeviceConfig)
    logging.basicConfig(level=config.log_level,
                        format=f"%(asctime)s %(levelname)s device {config.name}: %(message)s")
    anyio.run(_serve, args.socket, config, args.check)


if __name__ == "__main__":
    main()
