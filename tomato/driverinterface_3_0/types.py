"""Type names of DriverInterface 3.0."""

from __future__ import annotations

from typing import TypeAlias

import pint
from pydantic import BaseModel

Type: TypeAlias = type
Val: TypeAlias = str | int | float | pint.Quantity | BaseModel
