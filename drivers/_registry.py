"""Finding drivers by name: installed packages register them under `tomato.drivers`."""

from __future__ import annotations

from importlib.metadata import entry_points

from ._dummy import DummyDriver
from ._interface import Driver
from .errors import UnknownDriverError

BUILTIN: dict[str, type[Driver]] = {"dummy": DummyDriver}


def load_driver(name: str) -> type[Driver]:
    """The driver class registered as `name`; raises UnknownDriverError."""
    if name in BUILTIN:
        return BUILTIN[name]
    for ep in entry_points(group="tomato.drivers", name=name):
        return ep.load()
    known = sorted({*BUILTIN, *(ep.name for ep in entry_points(group="tomato.drivers"))})
    raise UnknownDriverError(f"no driver named {name!r} is installed (known: {', '.join(known)})")


def driver_names() -> set[str]:
    """Names of every installed driver, without importing any of them."""
    return {*BUILTIN, *(ep.name for ep in entry_points(group="tomato.drivers"))}
