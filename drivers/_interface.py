"""The native driver interface: declare techniques, run a task, emit timestamped points."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, cast

from .errors import ParameterError
from .messages import Param, Task, Technique

Emit = Callable[[list[float]], None]
"""Called by a driver with one point: [uts, value per column of the technique]."""

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
    techniques: ClassVar[Mapping[str, Technique]]

    def __init__(self, address: str | None, channels: tuple[str, ...],
                 settings: Mapping[str, Any] | None = None) -> None:
        self.address = address
        self.channels = channels
        self.settings = dict(settings or {})

    async def run(self, channel: str, task: Task, emit: Emit) -> None:
        raise NotImplementedError

    async def reset(self, channel: str) -> None:
        """Bring `channel` back to a safe idle state (after a stop or an error)."""


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
            _check_param(param, task.params[param.name])
        elif param.required:
            raise ParameterError("is required", {"field": param.name})


def _check_param(param: Param, value: Any) -> None:
    field = {"field": param.name}
    types = _TYPES.get(param.type, (object,))
    if (isinstance(value, bool) and param.type != "bool") or not isinstance(value, types):
        raise ParameterError(f"must be of type {param.type}, got {value!r}", field)
    value = cast(Any, value)  # a number if bounds are given (the check above says which)
    if param.minimum is not None:
        if value < param.minimum or (param.exclusive_minimum and value == param.minimum):
            op = ">" if param.exclusive_minimum else ">="
            raise ParameterError(f"must be {op} {param.minimum:g}, got {value!r}", field)
    if param.maximum is not None and value > param.maximum:
        raise ParameterError(f"must be <= {param.maximum:g}, got {value!r}", field)


def point_count(max_duration: float, interval: float) -> int:
    """Points at 0, interval, 2·interval, ... strictly before max_duration."""
    return max(math.ceil(round(max_duration / interval, 9)), 0)
