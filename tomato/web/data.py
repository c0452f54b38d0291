"""A job's points for the web: read from its raw data files (one per step, appended as
points arrive) from a cursor on, so a page or a script fetches only what is new."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

MAX_BYTES = 4 * 1024 * 1024
"""Read per file and request at most: a client asks again from the cursor it got."""
_STEP_FILE = re.compile(r"^(\d+)-(.+)-([^-]+)\.(csv|jsonl)$")
"""`{index:02d}-{role}-{technique}.{csv|jsonl}` (jobspec.StepSpec.datafile)."""


class CursorError(ValueError):
    """A cursor that is not `STEP:OFFSET[,STEP:OFFSET…]`."""


def parse_cursor(text: str | None) -> dict[int, int]:
    """`1:2048,2:512` → {1: 2048, 2: 512}: how far each step's file was read, in bytes."""
    if not text:
        return {}
    try:
        pairs = (part.split(":") for part in text.split(","))
        found = {int(step): int(offset) for step, offset in pairs}
    except ValueError:
        raise CursorError(f"cursor {text[:40]!r}: STEP:OFFSET[,STEP:OFFSET…] expected (the "
                          "`cursor` a reply gave)") from None
    if any(v < 0 for v in found.values()):
        raise CursorError(f"cursor {text[:40]!r}: offsets are not negative")
    return found


def points_after(jobdir: Path, after: dict[int, int]) -> dict[str, Any]:
    """The points of every step of the job in `jobdir` after the cursor `after`: per step
    its role, columns, units and new points ([uts, value, …]; a free-form step's: records),
    and the cursor to ask from next time."""
    steps: list[dict[str, Any]] = []
    cursor: dict[int, int] = {}
    files = sorted((int(m.group(1)), m.group(2), m.group(3), m.group(4), p)
                   for p in _listed(jobdir) if (m := _STEP_FILE.match(p.name)))
    for index, role, technique, kind, path in files:
        start = after.get(index, 0)
        with path.open("rb") as f:
            head = [f.readline(), f.readline()] if kind == "csv" else []
            begin = max(start, f.tell())
            f.seek(begin)
            chunk = f.read(MAX_BYTES)
        whole = chunk[:chunk.rfind(b"\n") + 1]  # a line being written waits for next time
        cursor[index] = begin + len(whole)
        lines = whole.decode(errors="replace").splitlines()
        step: dict[str, Any] = {"step": index, "role": role, "technique": technique}
        if kind == "csv" and all(h.endswith(b"\n") for h in head):
            names, units = (next(csv.reader([h.decode(errors="replace")])) for h in head)
            step |= {"columns": names, "units": dict(zip(names, units, strict=False)),
                     "points": [[float(v) if v else None for v in row]
                                for row in csv.reader(lines)]}
        else:
            step |= {"records": [_record(line) for line in lines if line.strip()]}
        steps.append(step)
    return {"steps": steps, "cursor": ",".join(f"{k}:{v}" for k, v in cursor.items())}


def _record(line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError:  # a line a crash tore (a whole one follows it): shown as it is
        return {"torn": line}


def _listed(jobdir: Path) -> list[Path]:
    try:
        return list(jobdir.iterdir())
    except FileNotFoundError:
        return []
