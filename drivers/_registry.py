"""Finding drivers by name: native drivers register under the `tomato.drivers` entry points;
hosts of other driver interfaces (`tomato.driver_hosts`) find theirs, e.g. a
DriverInterface 2.1 package `tomato_<name>`."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Protocol

from ._dummy import DummyDriver
from ._interface import Driver
from .errors import UnknownDriverError

BUILTIN: dict[str, type[Driver]] = {"dummy": DummyDriver}


class DriverHost(Protocol):
    """Runs drivers written to another interface as native ones."""

    def names(self) -> set[str]:
        """Names of the drivers it can run, found without importing them."""
        ...

    def load(self, name: str) -> type[Driver] | None:
        """A native driver class running driver `name`; None if it is not this host's.
        Raises UnknownDriverError if it is, but cannot be run (its message says why)."""
        ...

    def adopt(self, name: str, found: object) -> type[Driver] | None:
        """A native driver class running `found` (what a `tomato.drivers` entry point
        named `name` gave), if it is of this host's interface; else None."""
        ...


def load_driver(name: str) -> type[Driver]:
    """The driver class registered as `name`; raises UnknownDriverError."""
    if name in BUILTIN:
        return BUILTIN[name]
    for ep in entry_points(group="tomato.drivers", name=name):
        found = ep.load()
        if isinstance(found, type) and issubclass(found, Driver):
            return found
        for host in _hosts():
            if (driver := host.adopt(name, found)) is not None:
                return driver
        raise UnknownDriverError(f"driver {name!r} ({ep.value}) is not a driver this tomato "
                                 "can run")
    for host in _hosts():
        if (driver := host.load(name)) is not None:
            return driver
    known = sorted(driver_names())
    raise UnknownDriverError(f"no driver named {name!r} is installed (known: {', '.join(known)})")


def driver_names() -> set[str]:
    """Names of every installed driver, without importing any of them."""
    names = {*BUILTIN, *(ep.name for ep in entry_points(group="tomato.drivers"))}
    for host in _hosts():
        names |= host.names()
    return names


def _hosts() -> list[DriverHost]:
    return [ep.load() for ep in entry_points(group="tomato.driver_hosts")]
