"""Raw data files, one per step, appended as points arrive: CSV for rows of columns, JSON
Lines for free-form records (any shape: spectra, strings). Written by the job process; by
the service for the points a job process that died left on its devices."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from tomato.drivers import Column


class _AppendOnly:
    """A file only ever appended to, in whole lines: a write that fails (disk full) is cut
    back to the last whole line, so what was written before stays intact."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._size = os.fstat(self._fd).st_size

    def _write(self, text: str) -> None:
        encoded = text.encode()
        data = memoryview(encoded)
        try:
            while data:
                data = data[os.write(self._fd, data):]
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._size)
            raise
        self._size += len(encoded)

    def close(self) -> None:
        os.close(self._fd)


class RecordFile(_AppendOnly):
    """A free-form step's raw data, JSON Lines: a point per line, `{"uts": ..., name:
    value, ...}`; a line without `uts` gives the layout of the points after it (`units`,
    `dims`, `coords`), written when it changes. A torn last line (a crash mid-write) is
    the only damage a crash can do, and readers skip it."""

    def append(self, points: list[list[Any]]) -> None:
        lines = []
        for point in points:
            if len(point) > 2:
                lines.append(json.dumps(point[2]) + "\n")
            lines.append(json.dumps({"uts": point[0], **point[1]}) + "\n")
        if lines:
            self._write("".join(lines))
            self.count += len(points)


class DataFile(_AppendOnly):
    """One step's raw data: CSV with a `uts` column and a units row, appended per batch.

    Each batch goes down in whole lines; a write that fails (disk full) is cut back to the
    last whole line, so what was written before stays intact.
    """

    def __init__(self, path: Path, columns: tuple[Column, ...]) -> None:
        super().__init__(path)
        self.columns = columns
        if self._size == 0:
            self._write(",".join(["uts", *(c.name for c in columns)]) + "\n"
                        + ",".join(["s", *(c.unit for c in columns)]) + "\n")

    def append(self, points: list[list[float]]) -> None:
        if not points:
            return
        lines = []
        for uts, *values in points:
            cells = [f"{uts:.6f}", *(f"{v:.{c.decimals}f}" for c, v in zip(self.columns, values,
                                                                          strict=True))]
            lines.append(",".join(cells) + "\n")
        self._write("".join(lines))
        self.count += len(points)


def whole_points(path: Path, free_form: bool) -> int:
    """The points a raw data file holds (0 if there is none yet), after cutting off a torn
    last line (its writer was killed mid-line), so that what is appended next stays whole."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return 0
    whole = data[:data.rfind(b"\n") + 1]
    lines = whole.decode(errors="replace").splitlines()
    if not free_form and len(lines) < 2:  # its header is not whole: written again
        whole, lines = b"", []
    if len(whole) < len(data):
        os.truncate(path, len(whole))
    if not free_form:
        return max(len(lines) - 2, 0)  # the names and units rows first
    return sum(1 for line in lines if '"uts"' in line and "uts" in json.loads(line))
