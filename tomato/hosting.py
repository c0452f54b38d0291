"""What the hosts of tomato's published driver interfaces (DriverInterface 2.1 and 3.0)
share: finding `tomato_<name>` packages, calling a driver off the event loop, and turning
its attrs and xarray Datasets into our parameters and points.

A driver package's module is imported by a device process only; the service finds the
names without importing anything (pydantic, pint and xarray stay out of it).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import pkgutil
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from tomato.drivers import (
    AttrInfo,
    AttrValues,
    Driver,
    DriverError,
    Emit,
    Param,
    ParameterError,
)

logger = logging.getLogger(__name__)

PREFIX = "tomato_"
DRIVER_DIED = 70
"""The exit code of a device process whose hosted driver died (EX_SOFTWARE)."""
REGISTER_ATTEMPTS = 3
REGISTER_PAUSE = 1.0


# Finding packages.
def package_names() -> set[str]:
    """Names of the installed `tomato_<name>` modules, without importing them."""
    importlib.invalidate_caches()  # one installed while tomato runs is seen
    return {m.name.removeprefix(PREFIX) for m in pkgutil.iter_modules()
            if m.name.startswith(PREFIX)}


def import_package(name: str) -> Any | None:
    """The module of driver `name` (`tomato_<name>`), or None if it is not installed.
    Raises DriverError saying why it cannot be imported (a module it needs is missing, …)."""
    if importlib.util.find_spec(PREFIX + name) is None:
        return None
    try:
        return importlib.import_module(PREFIX + name)
    except Exception as exc:  # its import is its author's code: any error can come out
        raise DriverError(f"driver {name!r} cannot be imported: {described(exc)}") from None


def interface_version(module: Any) -> str:
    """The DriverInterface version a driver module declares ("(none found)" if none)."""
    version = getattr(getattr(module, "DriverInterface", None), "version", None)
    return str(version) if version is not None else "(none found)"


class PackageHost:
    """Finds the driver packages (`tomato_<name>`) of one DriverInterface version: what a
    `tomato.driver_hosts` entry point names. `package`: our package of that interface,
    whose `_model.ModelInterface` such drivers subclass and whose `host.Hosted` runs one
    (both imported only when a driver is loaded)."""

    def __init__(self, version: str, package: str) -> None:
        self.interface = f"DriverInterface {version}"
        self._package = package

    def adopt(self, name: str, found: object) -> type[Driver] | None:
        """A native driver running `found` (a driver's module or its DriverInterface
        class), if it is of this interface; else None."""
        model = importlib.import_module(f"{self._package}._model")
        hosted = importlib.import_module(f"{self._package}.host").Hosted
        interface = getattr(found, "DriverInterface", found)
        if not (isinstance(interface, type) and issubclass(interface, model.ModelInterface)):
            return None
        return type(f"{interface.__name__}_{name}", (hosted,),
                    {"name": name, "interface": interface})

    def names(self) -> set[str]:
        return package_names()

    def load(self, name: str) -> type[Driver] | str | None:
        module = import_package(name)
        if module is None:
            return None
        return self.adopt(name, module) or (
            f"driver {name!r} (module {module.__name__}) implements DriverInterface "
            f"{interface_version(module)}")

    def fingerprint(self, name: str) -> str | None:
        return package_fingerprint(name)


def package_fingerprint(name: str) -> str | None:
    """What changes when driver `name`'s package is installed, upgraded or removed: its
    module's file and that file's size and time. None if it is not a package of ours."""
    importlib.invalidate_caches()
    spec = importlib.util.find_spec(PREFIX + name)
    if spec is None or spec.origin is None:
        return None
    try:
        stat = Path(spec.origin).stat()
    except OSError:
        return None
    return f"{spec.origin}:{stat.st_size}:{stat.st_mtime_ns}"


# Errors.
def described(exc: BaseException) -> str:
    """An error of a driver's in one line, with where it was raised (its file and line:
    what the driver's author needs, without a traceback in tomato's log)."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name})" \
        if frames else ""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}{where}" if text else f"{type(exc).__name__}{where}"


class HostedDriver(Driver):
    """A driver of a published interface: its calls block (they talk to instruments), so
    each runs in a worker thread. The contract's `log_errors` lets the errors of a wrong
    request through (`passes`: ParameterError) and calls `sys.exit` on any other: the
    driver's end, so its process's (restarted, its components registered again). While the
    device starts, that end is its failure, with the driver's reason."""

    passes: tuple[type[BaseException], ...] = (ValueError, AttributeError)
    starting = True

    model: Any

    async def call(self, method: str, **kwargs: Any) -> Any:
        bound: Callable[..., Any] = getattr(self.model, method)

        def guarded() -> Any:
            try:
                return bound(**kwargs)
            except SystemExit as exc:
                return exc

        try:
            reply = await anyio.to_thread.run_sync(guarded)
        except self.passes as exc:
            raise ParameterError(f"{self.name}: {exc}") from None
        if isinstance(reply, SystemExit):
            reason = f"{self.name}: {method} failed: {reply.code}"
            if self.starting:
                raise DriverError(reason)
            logger.critical("%s; the device process ends", reason)
            logging.shutdown()
            os._exit(DRIVER_DIED)
        return reply

    async def checked(self, method: str, **kwargs: Any) -> Any:
        """A driver call's data; DriverError with its message if it failed."""
        reply = await self.call(method, **kwargs)
        if not reply.success:
            raise DriverError(f"{self.name}: {reply.msg}")
        return reply.data

    def key(self, channel: str) -> dict[str, Any]:
        """How the driver's calls name the component of `channel`."""
        raise NotImplementedError

    def register_key(self, channel: str) -> dict[str, Any]:
        """What `cmp_register` takes for the component of `channel`."""
        return self.key(channel)

    async def start(self) -> None:
        """Register every channel as a component (a failed registration is retried), then
        learn the techniques from the first: its capabilities, with its settable attrs as
        their parameters."""
        from tomato.drivers import Technique

        for channel in self.channels:
            for attempt in range(1, REGISTER_ATTEMPTS + 1):
                reply = await self.call("cmp_register", **self.register_key(channel))
                if reply.success:
                    break
                logger.warning("%s (attempt %d of %d)", reply.msg, attempt, REGISTER_ATTEMPTS)
                if attempt < REGISTER_ATTEMPTS:
                    await anyio.sleep(REGISTER_PAUSE)
            else:
                raise DriverError(f"{reply.msg} ({REGISTER_ATTEMPTS} attempts)")
        self.starting = False
        key = self.key(self.channels[0])
        attrs = await self.checked("cmp_attrs", **key)
        params = tuple(param_of(name, attr) for name, attr in attrs.items() if attr.rw)
        self.techniques = {name: Technique(name, params, free_form=True)
                           for name in sorted(await self.checked("cmp_capabilities", **key))}


    # Component calls that both interfaces make alike (the key names the component).
    async def get_attrs(self, channel: str, names: tuple[str, ...]) -> AttrValues:
        key = self.key(channel)
        names = names or tuple(await self.checked("cmp_attrs", **key))
        values = {name: await self.checked("cmp_get_attr", **key, attr=name) for name in names}
        return AttrValues(channel, plain(values), units_of(values))

    async def set_attr(self, channel: str, name: str, value: Any) -> AttrValues:
        await self.checked("cmp_set_attr", **self.key(channel), attr=name, val=value)
        return await self.get_attrs(channel, (name,))

    async def last_data(self, channel: str) -> list[Any] | None:
        reply = await self.call("cmp_last_data", **self.key(channel))
        return last_point(reply.data) if reply.success else None


def log_errors_passing(*passes: type[Exception]) -> Callable[[Callable[..., Any]], Any]:
    """The contract's `log_errors` decorator: the exceptions `passes` fail the call and
    leave the driver running; any other is a bug in the driver: logged, and the driver's
    process exits, the exception its reason (the host tells which call)."""
    import functools
    import sys

    def log_errors(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except passes:
                raise
            except Exception as exc:
                logger.critical("driver call %s failed: %s", func.__name__, described(exc))
                sys.exit(f"{type(exc).__name__}: {exc}")
        return wrapper
    return log_errors


def to_reply(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the `(success, msg, data)` a driver's method returns into a Reply (both
    interfaces' decorator)."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .models import Reply

        result = func(*args, **kwargs)
        if isinstance(result, Reply):
            return result
        success, msg, data = result
        return Reply(success=success, msg=msg, data=data)
    return wrapper


# Attrs and values.
def param_of(name: str, attr: Any) -> Param:
    """The task parameter a driver's attr makes (values coerced, as 2.1 and 3.0 do); an
    attr of a type we do not check (a pydantic model) is checked by the driver."""
    import pint

    kind = ("quantity" if attr.type is pint.Quantity else
            attr.type.__name__ if attr.type in (float, int, str, bool) else "any")

    def magnitude(bound: Any) -> float | None:
        if isinstance(bound, pint.Quantity):
            return float(bound.to(attr.units).m if attr.units else bound.m)
        return None if bound is None else float(bound)

    return Param(name, kind, attr.units or "", magnitude(attr.minimum),
                 maximum=magnitude(attr.maximum),
                 options=None if attr.options is None else tuple(sorted(attr.options, key=str)),
                 coerce=True)


def coerce(name: str, val: Any, props: Any) -> Any:
    """`val` as the type `props` declares, checked against its options, units and bounds.
    Raises ValueError naming the attr."""
    from tomato.drivers import coerce_param

    try:
        return coerce_param(param_of(name, props), val)
    except ParameterError as exc:
        raise ValueError(f"attr {name!r}: {exc.message}") from None


def attr_info(name: str, attr: Any) -> AttrInfo:
    param = param_of(name, attr)
    return AttrInfo(name, param.type, param.unit, attr.rw, attr.status, param.minimum,
                    param.maximum, None if param.options is None else tuple(param.options))


def plain(values: dict[str, Any]) -> dict[str, Any]:
    """Values msgpack can carry: a quantity's magnitude, numpy scalars as numbers, sets as
    lists, a pydantic model as its fields, anything else unknown as its text."""
    return {name: _plain(value) for name, value in values.items()}


def _plain(value: Any) -> Any:
    import pint

    if isinstance(value, pint.Quantity):
        value = value.m
    if hasattr(value, "model_dump") and callable(value.model_dump):  # pydantic
        value = value.model_dump()
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        value = value.item()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset, tuple, list)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def units_of(values: dict[str, Any]) -> dict[str, str]:
    import pint

    return {name: str(value.u) for name, value in values.items()
            if isinstance(value, pint.Quantity)}


class Layout:
    """Turns Datasets into free-form points; a point carries the layout (units, dims,
    coords) when it differs from the last one's."""

    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self._last: dict[str, Any] | None = None

    def emit(self, ds: Any) -> None:
        uts = ds["uts"].values.tolist()
        values = {name: var.values.tolist() for name, var in ds.data_vars.items()}
        layout = {
            "units": {name: str(var.attrs["units"]) for name, var in ds.variables.items()
                      if "units" in var.attrs and name != "uts"},
            "dims": {name: list(var.dims[1:]) for name, var in ds.data_vars.items()
                     if var.dims[1:]},
            "coords": {name: var.values.tolist() for name, var in ds.coords.items()
                       if name != "uts"},
        }
        for i, t in enumerate(uts):
            point: list[Any] = [float(t), {name: v[i] for name, v in values.items()}]
            if layout != self._last:
                point.append(layout)
                self._last = layout
            self._emit(point)


def last_point(ds: Any) -> list[Any] | None:
    """The last point of a Dataset (None for none)."""
    if ds is None:
        return None
    points: list[list[Any]] = []
    Layout(points.append).emit(ds)
    return points[-1] if points else None
