"""Type names of DriverInterface 3.0, and what a component and its driver both speak of:
attributes, statuses, the idle measurement."""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

import pint
from pydantic import BaseModel, Field

from ..models import Task

Type: TypeAlias = type
Val: TypeAlias = str | int | float | pint.Quantity | BaseModel


MEASURE = "measure"
"""The one-shot measurement a component's queue can hold instead of a Task."""


class Attr(BaseModel, arbitrary_types_allowed=True):
    """An attribute of a component: its type, whether it can be set (`rw`), whether it is
    part of the component's status, and its units, bounds and options."""

    type: Type
    rw: bool = False
    status: bool = False
    units: str | None = None
    maximum: float | pint.Quantity | None = Field(None, union_mode="left_to_right")
    minimum: float | pint.Quantity | None = Field(None, union_mode="left_to_right")
    options: set[Any] | None = None


class Status(BaseModel):
    """A component's status: whether it answers (`connected`), its state (idle, meas: an
    idle measurement, task, stop: stopped until reset; None when not connected), whether a
    task may be queued, its status attrs and the task it runs."""

    connected: bool
    state: Literal["idle", "meas", "task", "stop"] | None
    can_submit: bool
    attrs: dict[str, Any] = Field(default_factory=dict)
    task: Task | None = None
