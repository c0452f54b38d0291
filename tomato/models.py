"""The models tomato 2.x drivers import from `tomato.models`: `Task` (a step of a 2.2
payload, from dgbowl-schemas) and `Reply` (what every DriverInterface 2.1 call returns)."""

from __future__ import annotations

from typing import Any

from dgbowl_schemas.tomato.payload import Task
from pydantic import BaseModel


class Reply(BaseModel, arbitrary_types_allowed=True):
    """The outcome of a driver call: whether it worked, why not, and what it returned."""

    success: bool
    msg: str
    data: Any = None


__all__ = ["Reply", "Task"]
