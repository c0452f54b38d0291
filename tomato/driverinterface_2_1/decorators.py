"""The decorators of DriverInterface 2.1: what turns a driver's methods into its contract."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

# `to_reply` and `described`: drivers import them from here too
from ..hosting import coerce, described, log_errors_passing, to_reply  # noqa: F401


def in_devmap(func: Callable[..., Any]) -> Callable[..., Any]:
    """Call `func` with `key=(address, channel)` (given as such or as `key`); a component
    that is not registered fails the call."""
    @functools.wraps(func)
    def wrapper(self: Any, **kwargs: Any) -> Any:
        key = kwargs.pop("key", None)
        if key is None:
            key = (kwargs.pop("address", None), kwargs.pop("channel", None))
        key = tuple(key)
        if key not in self.devmap:
            return False, f"component with key {key!r} is not registered", None
        return func(self, key=key, **kwargs)
    return wrapper


log_errors = log_errors_passing(ValueError, AttributeError)
"""ValueError and AttributeError fail the call and leave the driver running; any other
exception is a bug in the driver: logged, and the driver's process exits."""


def coerce_val(func: Callable[..., Any]) -> Callable[..., Any]:
    """Check and convert `val` by the attr's declaration before `set_attr` sees it.
    Raises AttributeError (unknown or read-only attr) or ValueError (the value)."""
    @functools.wraps(func)
    def wrapper(self: Any, attr: str, val: Any, **kwargs: Any) -> Any:
        attrs = self.attrs(**kwargs)
        if attr not in attrs:
            raise AttributeError(f"unknown attr: {attr!r}")
        return func(self, attr=attr, val=coerce(attr, val, attrs[attr]), **kwargs)
    return wrapper
