"""`Message`, the base of every message type, and the control messages every actor
understands (answered by the runtime itself)."""

from __future__ import annotations

from dataclasses import MISSING, FrozenInstanceError, dataclass, fields
from typing import Any, ClassVar, cast, dataclass_transform


@dataclass_transform(frozen_default=True)
class Message:
    """Base of message types: a subclass declares its fields as a dataclass does, and is one
    (`fields`, `asdict`, `replace` and pattern matching work); instances are immutable, equal
    when of the same type with equal fields, and shown as `Name(field=value, ...)`.

    Why not `@dataclass(frozen=True)`: it compiles five methods from source for each class,
    and a command-line client that knows thirty message types paid for that at every start
    (`python benchmarks/run.py --only cli`). These methods are written once, here, for
    every message.
    """

    __slots__ = ()
    _spec: ClassVar[tuple[tuple[str, Any, Any], ...]] = ()
    """(name, default, default factory) of each field, in order."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclass(init=False, repr=False, eq=False)(cls)
        cls._spec = tuple((f.name, f.default, f.default_factory)
                          for f in fields(cast(Any, cls)))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        spec, name_ = self._spec, type(self).__name__
        if len(args) > len(spec):
            raise TypeError(f"{name_} takes {len(spec)} fields, {len(args)} were given")
        for (name, _, _), value in zip(spec, args, strict=False):
            if name in kwargs:
                raise TypeError(f"{name_} got the field {name!r} twice")
            object.__setattr__(self, name, value)
        for name, default, factory in spec[len(args):]:
            if name in kwargs:
                value = kwargs.pop(name)
            elif default is not MISSING:
                value = default
            elif factory is not MISSING:
                value = factory()
            else:
                raise TypeError(f"{name_} is missing the field {name!r}")
            object.__setattr__(self, name, value)
        if kwargs:
            raise TypeError(f"{name_} has no field {sorted(kwargs)[0]!r}")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name, _, _ in self._spec)

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __repr__(self) -> str:
        body = ", ".join(f"{name}={getattr(self, name)!r}" for name, _, _ in self._spec)
        return f"{type(self).__qualname__}({body})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self._values()))


class Ping(Message):
    """Ask whether the actor's process is alive; answered outside the mailbox."""


class Pong(Message):
    """Reply to Ping."""

    pid: int


class EventsMissed(Message):
    """Delivered to a subscriber before the next event after it fell behind."""

    count: int


class Ok(Message):
    """A reply that carries nothing but success."""


CONTROL_TYPES: tuple[type, ...] = (Ping, Pong, EventsMissed, Ok)
