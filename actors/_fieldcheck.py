"""Checking a decoded message's fields against the types its class declares: at the border,
a forged or mistaken message is refused naming the field, and a tuple the wire carried as
a list arrives as the tuple its class declares."""

from __future__ import annotations

import dataclasses
import sys
import types
from collections.abc import Callable
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

Check = Callable[[Any], Any]
"""Returns the value (a list made the declared tuple), or raises _Mismatch."""


T = TypeVar("T")


class _Mismatch(Exception):
    pass


def typed(cls: type[T], body: Any) -> T:
    """An instance of the dataclass `cls` made of a decoded map, each field checked against
    the type `cls` declares (a list made the tuple it declares); TypeError naming what does
    not fit (not a map, a field unknown or missing, a value of another type)."""
    if not isinstance(body, dict):
        raise TypeError(f"a map of fields expected, not {type(body).__name__}")
    checks = _CHECKS.get(cls)
    if checks is None:
        checks = _CHECKS[cls] = field_checks(cls)
    return cls(**apply(cls, checks, dict(body)))


_CHECKS: dict[type, tuple[tuple[str, Check | None], ...]] = {}


def field_checks(cls: type) -> tuple[tuple[str, Check | None], ...]:
    """(field, check) for each field of the dataclass `cls`; None: anything goes (Any, or
    an annotation that cannot be resolved here)."""
    module = vars(sys.modules.get(cls.__module__, types.ModuleType("none")))
    checks = []
    for field in dataclasses.fields(cls):
        annotation = field.type
        if isinstance(annotation, str):
            try:
                annotation = eval(annotation, module)
            except Exception:
                annotation = Any
        checks.append((field.name, _check(annotation)))
    return tuple(checks)


def apply(cls: type, checks: tuple[tuple[str, Check | None], ...], body: dict[str, Any]
          ) -> dict[str, Any]:
    """`body` with each field checked (and a list made a declared tuple); raises TypeError
    naming the field, what was declared and what came."""
    for name, check in checks:
        if check is not None and name in body:
            try:
                body[name] = check(body[name])
            except _Mismatch:
                declared = next(f.type for f in dataclasses.fields(cls) if f.name == name)
                value = body[name]
                raise TypeError(f"field {name!r} must be {declared}, not "
                                f"{type(value).__name__} {str(value)[:40]!r}") from None
    return body


def _fail(value: Any) -> Any:
    raise _Mismatch


def _check(tp: Any) -> Check | None:
    if tp is Any or tp is object:
        return None
    origin, args = get_origin(tp), get_args(tp)
    if origin is Union or origin is types.UnionType:
        parts = [_check(a) for a in args]
        if any(p is None for p in parts):
            return None
        return _union([p for p in parts if p is not None])
    if tp is None or tp is type(None):
        return lambda v: v if v is None else _fail(v)
    if tp is bool:
        return lambda v: v if isinstance(v, bool) else _fail(v)
    if tp is int:
        return lambda v: v if isinstance(v, int) and not isinstance(v, bool) else _fail(v)
    if tp is float:
        return lambda v: v if isinstance(v, (int, float)) and not isinstance(v, bool) \
            else _fail(v)
    if tp is str or tp is bytes:
        return lambda v: v if isinstance(v, tp) else _fail(v)
    if origin is tuple:
        return _tuple(args)
    if origin is list or tp is list:
        item = _check(args[0]) if args else None
        if item is None:
            return lambda v: v if isinstance(v, list) else _fail(v)
        return lambda v: [item(x) for x in v] if isinstance(v, list) else _fail(v)
    if origin is dict or tp is dict:
        key, value = (_check(args[0]), _check(args[1])) if args else (None, None)
        if key is None and value is None:
            return lambda v: v if isinstance(v, dict) else _fail(v)
        return lambda v: {(key(k) if key else k): (value(x) if value else x)
                          for k, x in v.items()} if isinstance(v, dict) else _fail(v)
    if origin is Literal:
        return lambda v: v if v in args else _fail(v)
    if isinstance(tp, type):
        return lambda v: v if isinstance(v, tp) else _fail(v)
    return None


def _union(parts: list[Check]) -> Check:
    def check(value: Any) -> Any:
        for part in parts:
            try:
                return part(value)
            except _Mismatch:
                pass
        raise _Mismatch

    return check


def _tuple(args: tuple[Any, ...]) -> Check:
    if not args or (len(args) == 2 and args[1] is Ellipsis):
        item = _check(args[0]) if args else None

        def many(v: Any) -> Any:
            if not isinstance(v, (list, tuple)):
                raise _Mismatch
            return tuple(v) if item is None else tuple(item(x) for x in v)

        return many
    items = [_check(a) for a in args]

    def fixed(v: Any) -> Any:
        if not isinstance(v, (list, tuple)) or len(v) != len(items):
            raise _Mismatch
        return tuple(x if c is None else c(x) for c, x in zip(items, v, strict=True))

    return fixed
