"""Driver values as the wire carries them: a pint quantity as its magnitude and unit."""

from __future__ import annotations

from typing import Any

import pint

from tomato.drivers import AttrInfo

from ._model import Attr
from .decorators import param_of


def plain(values: dict[str, Any]) -> dict[str, Any]:
    """Values msgpack can carry: a quantity's magnitude, numpy scalars as numbers, sets as
    lists, anything else unknown as its text."""
    return {name: _plain(value) for name, value in values.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, pint.Quantity):
        value = value.m
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        value = value.item()
    if isinstance(value, (set, frozenset, tuple, list)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def units_of(values: dict[str, Any]) -> dict[str, str]:
    return {name: str(value.u) for name, value in values.items()
            if isinstance(value, pint.Quantity)}


def attr_info(name: str, attr: Attr) -> AttrInfo:
    param = param_of(name, attr)
    return AttrInfo(name, param.type, param.unit, attr.rw, attr.status, param.minimum,
                    param.maximum, None if param.options is None else tuple(param.options))
