"""A payload's problems said as its user wrote it: fields named in the user's version's
spelling, misspelled and unknown keys named with what they were meant to be, keys this
tomato does not act on refused."""

from __future__ import annotations

import copy
import difflib
import typing
from typing import Any

from ...errors import PayloadError

MAX_NAME = 256
"""The longest sample or job name."""

VERSIONS = ("0.1", "0.2", "1.0", "2.0", "2.1", "2.2")

# 2.2 names of a step's fields as 0.x payloads spell them.
_OLD_NAMES = {"component_role": "device", "component_tag": "device", "technique_name": "technique",
              "max_duration": "time", "sampling_interval": "delay"}


def field_name(version: str, path: tuple[Any, ...]) -> str:
    """`("method", 0, "max_duration")` as the user wrote it: `method[0].time` in 0.x files."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = _OLD_NAMES.get(part, part) if version.startswith("0.") else part
            text += f".{name}" if text else str(name)
    return text or "(top level)"


HINTS = {"user": " (a 2.2 payload names who submits it: `user: {identifier: NAME}`)",
         "version": f" (one of {', '.join(VERSIONS)})"}


def explained(errors: list[Any], raw: dict[str, Any], version: str, model: type
               ) -> list[tuple[str, str]]:
    """Every problem the payload models found, each as (field, "field: why") the way the
    user wrote it: a required key that is missing beside one that looks like it is said as
    the misspelling it is; an unknown key with the closest known one."""
    problems: list[tuple[str, str]] = []
    for error in errors:
        loc = tuple(error["loc"])
        name, parent = loc[-1] if loc else "", _at(raw, loc[:-1])
        if error["type"] == "missing" and isinstance(parent, dict):
            spelled = field_name(version, (name,))  # as the user's version names it
            typo = difflib.get_close_matches(spelled, [k for k in parent if k != spelled],
                                             1, 0.6)
            if typo:
                where = field_name(version, (*loc[:-1], typo[0]))
                problems.append((where, f"{where}: unknown key; did you mean "
                                        f"{field_name(version, (name,))!r}?"))
                continue
            where = field_name(version, loc)
            problems.append((where, f"{where}: missing{HINTS.get(str(name), '')}"))
        elif error["type"] == "extra_forbidden":
            where = field_name(version, loc)
            known = _fields_of(model, loc[:-1])
            close = difflib.get_close_matches(str(name), known, 1, 0.6)
            problems.append((where, f"{where}: unknown key" + (
                f"; did you mean {field_name(version, (close[0],))!r}?" if close else
                f" (known: {', '.join(field_name(version, (k,)) for k in known)})"
                if known else "")))
        else:
            where = field_name(version, loc)
            problems.append((where, f"{where}: {error['msg'].removeprefix('Value error, ')}"))
    return list(dict.fromkeys(problems))  # each once


def _at(raw: Any, loc: tuple[Any, ...]) -> Any:
    """What `raw` holds at `loc` (None where it holds nothing)."""
    for part in loc:
        try:
            raw = raw[part]
        except (KeyError, IndexError, TypeError):
            return None
    return raw


def _fields_of(model: Any, loc: tuple[Any, ...]) -> list[str]:
    """The keys the payload model takes at `loc` (list items stepped through)."""
    from pydantic import BaseModel

    for part in loc:
        if isinstance(part, int):
            continue
        field_info = getattr(model, "model_fields", {}).get(part)
        if field_info is None:
            return []
        found = [t for t in _types_in(field_info.annotation)
                 if isinstance(t, type) and issubclass(t, BaseModel)]
        if not found:
            return []
        model = found[0]
    return list(getattr(model, "model_fields", {}))


def _types_in(annotation: Any) -> list[Any]:
    """The types inside an annotation (through Optional, Union, Sequence, …)."""
    args = typing.get_args(annotation)
    return [annotation] if not args else [t for a in args for t in _types_in(a)]


UNHONOURED = {
    ("method", "polling_interval"): "data is read as the device produces it; remove it",
    ("settings", "output", "repositories"): "results go to output.path; remove it",
}
"""Keys of the payload models this tomato does not act on: refused, never skipped."""


def refuse_unhonoured(raw: dict[str, Any], version: str, filename: str) -> None:
    for where, holder, why in _unhonoured(raw):
        if holder.get(where[-1]) is not None:
            name = field_name(version, where)
            raise PayloadError(f"{filename}: {name}: not honoured by this tomato ({why})",
                               {"file": filename, "field": name})


def without_unhonoured(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored (upgraded, checked) payload as one would submit it again: the unhonoured
    keys the models filled with their defaults left out (any other value was refused)."""
    again = copy.deepcopy(stored)
    for where, holder, _ in _unhonoured(again):
        holder.pop(where[-1], None)
    return again


def _unhonoured(raw: dict[str, Any]) -> list[tuple[tuple[Any, ...], dict[str, Any], str]]:
    """(where, the mapping holding it, why) of every place of `raw` an unhonoured key goes."""
    found: list[tuple[tuple[Any, ...], dict[str, Any], str]] = []
    for path, why in UNHONOURED.items():
        if path[0] == "method":
            found += [(("method", i, path[1]), step, why) for i, step in
                      enumerate(raw.get("method") or []) if isinstance(step, dict)]
        elif isinstance(holder := _at(raw, path[:-1]), dict):
            found.append((path, holder, why))
    return found


