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

    interface: str
    """The interface it runs, e.g. "DriverInterface 2.1"."""

    def names(self) -> set[str]:
        """Names of the drivers it may run (and other hosts' of the same kind of package),
        found without importing them."""
        ...

    def load(self, name: str) -> type[Driver] | str | None:
        """A native driver class running driver `name`; None if no such driver is
        installed; why not, if it is installed but of another interface. Raises
        DriverError if it is installed but cannot be loaded (its message says why)."""
        ...

    def adopt(self, name: str, found: object) -> type[Driver] | None:
        """A native driver class running `found` (what a `tomato.drivers` entry point
        named `name` gave), if it is of this host's interface; else None."""
        ...

    def fingerprint(self, name: str) -> str | None:
        """What changes when driver `name` is installed, upgraded or removed (None: not
        this host's kind), found without importing it."""
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
    hosts = _hosts()
    others: list[str] = []
    for host in hosts:
        hosted = host.load(name)
        if isinstance(hosted, str):
            others.append(hosted)
        elif hosted is not None:
            return hosted
    if others:
        runs = " and ".join(sorted({host.interface for host in hosts}))
        raise UnknownDriverError(f"{others[0]}; this tomato runs {runs}")
    known = sorted(driver_names())
    raise UnknownDriverError(f"no driver named {name!r} is installed (known: {', '.join(known)})")


def driver_names() -> set[str]:
    """Names of every installed driver, without importing any of them."""
    names = {*BUILTIN, *(ep.name for ep in entry_points(group="tomato.drivers"))}
    for host in _hosts():
        names |= host.names()
    return names


def driver_fingerprint(name: str) -> str | None:
    """What changes when driver `name` is installed, upgraded or removed, found without
    importing it (None for a built-in driver, or one not installed)."""
    if name in BUILTIN:
        return None
    for ep in entry_points(group="tomato.drivers", name=name):
        return f"{ep.value}:{ep.dist.version if ep.dist is not None else ''}"
    for host in _hosts():
        if (found := host.fingerprint(name)) is not None:
            return found
    return None


def _hosts() -> list[DriverHost]:
    return [ep.load() for ep in entry_points(group="tomato.driver_hosts")]
