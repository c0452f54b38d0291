"""The native driver interface: declare techniques, run a task, emit timestamped points."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, cast

from .errors import DriverError, ParameterError
from .messages import AttrValues, ComponentInfo, Param, Task, Technique

Emit = Callable[[list[Any]], None]
"""Called by a driver with one point: [uts, value per column of the technique] (a
free-form technique's: a record, see Technique)."""

MAX_POINTS = 1e10
"""Points in one step: a year at 100 Hz is 3e9."""

_TYPES: dict[str, tuple[type, ...]] = {
    "float": (int, float), "int": (int,), "str": (str,), "bool": (bool,),
}


class Driver:
    """Base of native drivers. Subclasses set `name` and `techniques` and implement `run`.

    `run` performs one task on one channel, calling `emit` for every point, and returns
    when the task is complete. Stopping a task cancels `run`; clean-up belongs in its
    `finally` (shielded, and quick: a stop must finish within a second).
    """

    name: ClassVar[str]
    techniques: Mapping[str, Technique]
    """A class attribute of native drivers; a host of another interface sets it in `start`."""

    def __init__(self, address: str | None, channels: tuple[str, ...],
                 settings: Mapping[str, Any] | None = None) -> None:
        self.address = address
        self.channels = channels
        self.settings = dict(settings or {})
        self.notice: Callable[[str, str], None] = _log_notice
        """Tell the job running on a channel something it should know (a fault the
        driver recovered from): `notice(channel, text)`. The device actor sets it."""

    async def start(self) -> None:
        """Connect to the instrument before the device serves; raise DriverError if it
        cannot (the message says why)."""

    async def run(self, channel: str, task: Task, emit: Emit) -> None:
        raise NotImplementedError

    async def reset(self, channel: str) -> None:
        """Bring `channel` back to a safe idle state (after a stop or an error)."""

    # Components: what a driver with settable attributes, one-shot measurements or
    # instruments to connect to offers beyond tasks (the defaults: none of that).
    async def describe(self, channel: str) -> ComponentInfo:
        """The channel's status, attrs, capabilities and constants."""
        return ComponentInfo(channel, self.name, False, {}, (), tuple(self.techniques), {})

    async def get_attrs(self, channel: str, names: tuple[str, ...]) -> AttrValues:
        if names:
            raise DriverError(f"driver {self.name!r} has no attrs")
        return AttrValues(channel, {}, {})

    async def set_attr(self, channel: str, name: str, value: Any) -> AttrValues:
        raise DriverError(f"driver {self.name!r} has no attrs")

    async def measure(self, channel: str) -> list[Any] | None:
        """Measure once (the channel is idle); returns the point."""
        raise DriverError(f"driver {self.name!r} has no one-shot measurement")

    async def last_data(self, channel: str) -> list[Any] | None:
        """The last point measured outside tasks (None: the device's last task point)."""
        return None

    async def register(self, channel: str) -> None:
        """Connect to the channel's instrument again; raise DriverError if it cannot."""

    async def background(self, is_idle: Callable[[str], bool],
                         report: Callable[[str, list[Any]], None]) -> None:
        """Runs beside the device while it serves, e.g. measuring idle channels: each point
        goes to `report(channel, point)`."""


def _log_notice(channel: str, text: str) -> None:
    logging.getLogger(__name__).warning("%s: %s", channel, text)


def check_task(technique: Technique, task: Task) -> None:
    """Raise ParameterError naming the field if `task` does not fit `technique`."""
    for name in ("max_duration", "sampling_interval"):
        value = getattr(task, name)
        if (isinstance(value, bool) or not isinstance(value, (int, float))
                or not math.isfinite(value) or value <= 0):
            raise ParameterError(f"must be a number > 0, got {value!r}", {"field": name})
    if (points := task.max_duration / task.sampling_interval) > MAX_POINTS:
        raise ParameterError(f"{task.max_duration:g} s at one point every "
                             f"{task.sampling_interval:g} s makes {points:.3g} points; at most "
                             f"{MAX_POINTS:.0e} in a step", {"field": "max_duration"})
    known = {p.name: p for p in technique.params}
    for key in task.params:
        if key not in known:
            allowed = ", ".join(sorted(known)) or "none"
            raise ParameterError(
                f"technique {technique.name!r} has no parameter {key!r} (allowed: {allowed})",
                {"field": key})
    for param in technique.params:
        if param.name in task.params:
            coerce_param(param, task.params[param.name])
        elif param.required:
            raise ParameterError("is required", {"field": param.name})


def coerce_param(param: Param, value: Any) -> Any:
    """`value` as `param` takes it (a pint Quantity in `param.unit` for a quantity), checked
    against its type, options and bounds; raises ParameterError naming the parameter."""
    field = {"field": param.name}
    if param.type == "quantity":
        value = _quantity(param, value)
        magnitude = value.m
    else:
        value = magnitude = _typed(param, value)
    if param.options is not None and value not in param.options:
        raise ParameterError(f"must be one of {', '.join(map(str, param.options))}, got "
                             f"{_shown(value)}", field)
    unit = f" {param.unit}" if param.type == "quantity" and param.unit else ""
    if param.minimum is not None:
        if magnitude < param.minimum or (param.exclusive_minimum and
                                         magnitude == param.minimum):
            op = ">" if param.exclusive_minimum else ">="
            raise ParameterError(f"must be {op} {param.minimum:g}{unit}, got {_shown(value)}",
                                 field)
    if param.maximum is not None and magnitude > param.maximum:
        raise ParameterError(f"must be <= {param.maximum:g}{unit}, got {_shown(value)}", field)
    return value


def _shown(value: Any) -> str:
    """A value in a message: a quantity as "0.05 second", anything else as Python shows it."""
    return repr(value) if isinstance(value, (int, float, str, bool)) else f"'{value}'"


def _typed(param: Param, value: Any) -> Any:
    types = _TYPES.get(param.type, (object,))
    if (isinstance(value, bool) and param.type != "bool") or not isinstance(value, types):
        if param.coerce and param.type == "bool" and value in (0, 1) and \
                isinstance(value, int):
            return bool(value)
        if param.coerce and not isinstance(value, bool) and param.type in ("float", "int", "str"):
            try:
                converted = {"float": float, "int": int, "str": str}[param.type](value)
                if not isinstance(value, float) or converted == value:
                    return converted
            except (TypeError, ValueError):
                pass
        raise ParameterError(f"must be of type {param.type}, got {value!r}",
                             {"field": param.name})
    return cast(Any, value)


def _quantity(param: Param, value: Any) -> Any:
    """A pint Quantity in `param.unit`: from a string ("0.5 s"), a Quantity, or a number
    (meaning `param.unit`)."""
    import pint  # only for drivers with quantities: 0.2 s to import

    field = {"field": param.name}
    if isinstance(value, bool) or not isinstance(value, (str, int, float, pint.Quantity)):
        raise ParameterError(f"must be a quantity in {param.unit or 'no unit'}, got "
                             f"{value!r}", field)
    try:
        quantity: Any
        if isinstance(value, str):
            quantity = pint.Quantity(value)
        elif isinstance(value, pint.Quantity):
            quantity = value
        else:
            quantity = pint.Quantity(value, param.unit)
        if param.unit:
            if quantity.dimensionless and not pint.Quantity(1, param.unit).dimensionless:
                quantity = pint.Quantity(quantity.m, param.unit)
            quantity = quantity.to(param.unit)
    except Exception as exc:  # pint raises many kinds (unknown unit, syntax, dimension)
        raise ParameterError(f"cannot take {value!r} as {param.unit or 'a quantity'}: "
                             f"{str(exc).splitlines()[0]}", field) from None
    return quantity


def record_scalars(points: list[list[Any]]) -> tuple[list[str], list[str], list[list[Any]]]:
    """The numbers of free-form points as rows: (names, units, [uts, value, ...]), the names
    those of the last point; what a person watching is shown."""
    layout: dict[str, Any] = next((p[2] for p in points if len(p) > 2), {})
    names = [k for k, v in points[-1][1].items() if _is_number(v)] if points else []
    units = [layout.get("units", {}).get(name, "") for name in names]
    return names, units, [[p[0], *(p[1].get(n) for n in names)] for p in points]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and \
        math.isfinite(value)


def point_count(max_duration: float, interval: float) -> int:
    """Points at 0, interval, 2·interval, ... strictly before max_duration."""
    return max(math.ceil(round(max_duration / interval, 9)), 0)
