"""The decorators of DriverInterface 3.0: what turns a driver's methods into its contract."""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable
from typing import Any

# `to_reply` and `described`: drivers import them from here too
from ..hosting import coerce, described, log_errors_passing, to_reply  # noqa: F401
from ..models import Reply


def in_devmap(func: Callable[..., Any]) -> Callable[..., Any]:
    """Call `func` for the component `name`; one that is not registered fails the call."""
    @functools.wraps(func)
    def wrapper(self: Any, **kwargs: Any) -> Any:
        name = kwargs.pop("name", None)
        if name not in self.devmap:
            return Reply(success=False, msg=f"component with name {name!r} is not registered")
        return func(self, name=name, **kwargs)
    return wrapper


log_errors = log_errors_passing(ValueError, AttributeError, TypeError)
"""ValueError, AttributeError and TypeError fail the call and leave the driver running;
any other exception is a bug in the driver: logged, and the driver's process exits."""


def coerce_val(func: Callable[..., Any]) -> Callable[..., Any]:
    """Check and convert `val` by the attr's declaration before `set_attr` sees it: not
    None, a known and settable attr, of its type (a pydantic model from a dict or its
    text), among its options, in its units and bounds. Raises AttributeError or
    ValueError."""
    @functools.wraps(func)
    def wrapper(self: Any, attr: str, val: Any, **kwargs: Any) -> Any:
        if val is None:
            raise ValueError(f"attr {attr!r} cannot be None")
        attrs = self.attrs()
        if attr not in attrs:
            raise AttributeError(f"unknown attr: {attr!r}")
        if not attrs[attr].rw:
            raise AttributeError(f"attr {attr!r} is read-only")
        return func(self, attr=attr, val=coerce_attr(attr, val, attrs[attr]), **kwargs)
    return wrapper


def coerce_attr(name: str, val: Any, props: Any) -> Any:
    """`val` as attr `name` takes it; raises ValueError (or TypeError) naming it."""
    from pydantic import BaseModel, ValidationError

    if isinstance(props.type, type) and issubclass(props.type, BaseModel):
        if isinstance(val, props.type):
            return val
        try:
            fields = ast.literal_eval(val) if isinstance(val, str) else val
            return props.type(**fields)
        except (ValueError, SyntaxError, TypeError, ValidationError) as exc:
            first = str(exc).splitlines()[0]
            raise ValueError(f"attr {name!r}: not a {props.type.__name__}: {first}") from None
    return coerce(name, val, props)


def coerce_type(val: Any, kind: Any) -> Any:
    """`val` as `kind`: a bool from a bool or an int, a pydantic model from a dict or its
    text, anything else by calling `kind`. Raises ValueError or TypeError."""
    from pydantic import BaseModel

    if issubclass(kind, bool) and not isinstance(val, int):
        raise TypeError(f"val {val!r} is not of type 'bool' or 'int'")
    if issubclass(kind, BaseModel):
        return kind(**(ast.literal_eval(val) if isinstance(val, str) else val))
    return kind(val)
