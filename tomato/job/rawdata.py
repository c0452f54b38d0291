"""Raw data files: one CSV per step and component, appended as points arrive."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from drivers import Column


class DataFile:
    """One step's raw data: CSV with a `uts` column and a units row, appended per batch.

    Each batch goes down in whole lines; a write that fails (disk full) is cut back to the
    last whole line, so what was written before stays intact.
    """

    def __init__(self, path: Path, columns: tuple[Column, ...]) -> None:
        self.path = path
        self.columns = columns
        self.count = 0
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._size = os.fstat(self._fd).st_size
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
