"""Asking the output process for a datagram and an archive (yadg never loads here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio

from actors import python_argv

from .errors import OutputError


def output_place(jobdata: dict[str, Any], section: str, kind: str) -> tuple[Path, str]:
    """(folder, prefix) of the payload's `output` or `snapshot` section, with defaults:
    the folder where `ketchup submit` ran (relative paths taken from there), and
    `<kind>.<jobid>`."""
    options = jobdata["payload"]["settings"].get(section) or {}
    folder = Path(jobdata["cwd"]) / (options.get("path") or ".")
    return folder.resolve(), options.get("prefix") or f"{kind}.{jobdata['jobid']}"


async def make_outputs(jobdir: Path, outdir: Path, prefix: str, status: str | None = None
                       ) -> list[str]:
    """Write `<outdir>/<prefix>.{zip,nc}` from the job folder; raises OutputError."""
    argv = python_argv("tomato.output", "--jobdir", str(jobdir), "--out", str(outdir),
                       "--prefix", prefix, *(("--status", status) if status else ()))
    result = await anyio.run_process(argv, check=False)
    if result.returncode != 0:
        lines = result.stderr.decode(errors="replace").strip().splitlines() or ["no message"]
        raise OutputError(f"outputs in {outdir} failed: {lines[-1]}")
    return list(json.loads(result.stdout).values())
