"""Type names of DriverInterface 2.1."""

from __future__ import annotations

from typing import TypeVar

import pint

Type = type
Val = TypeVar("Val", str, int, float, pint.Quantity)
Key = tuple[str, str]
"""A component: (address, channel)."""
