"""Asking the output processes for a datagram and an archive (yadg never loads here)."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio

from actors import ActorError, connect, python_argv

from ..codec import CODEC
from ..errors import OutputError
from ..joblog import log_to_job
from ..messages import MakeOutputs
from ..paths import socket_path

logger = logging.getLogger(__name__)


def output_place(jobdata: dict[str, Any], section: str, kind: str) -> tuple[Path, str]:
    """(folder, prefix) of the payload's `output` or `snapshot` section, with defaults:
    the folder where `ketchup submit` ran (relative paths taken from there), and
    `<kind>.<jobid>`."""
    options = jobdata["payload"]["settings"].get(section) or {}
    folder = Path(jobdata["cwd"]) / (options.get("path") or ".")
    return folder.resolve(), options.get("prefix") or f"{kind}.{jobdata['jobid']}"


OUTPUT_TIMEOUT = 3600.0


def output_servers(runtime_dir: Path, count: int, first: int = 0) -> tuple[Path, ...]:
    """The sockets of the `count` output servers, starting with number `first % count`
    (jobs start at different ones, which spreads the work)."""
    socks = [socket_path(runtime_dir, f"outputs-{i}") for i in range(count)]
    k = first % count if count else 0
    return (*socks[k:], *socks[:k])


async def make_outputs(jobdir: Path, outdir: Path, prefix: str, status: str | None = None,
                       servers: Sequence[Path] = ()) -> list[str]:
    """Write `<outdir>/<prefix>.{zip,nc}` from the job folder; raises OutputError.

    Asks the output servers (yadg already loaded) in turn, the first that answers; when
    none does, runs the output process once for this request.
    """
    for server in servers:
        try:
            async with connect(server, CODEC) as conn:
                made = await conn.ask(MakeOutputs(str(jobdir), str(outdir), prefix, status),
                                      timeout=OUTPUT_TIMEOUT)
            return list(made.files)
        except OutputError:
            raise
        except ActorError as exc:
            logger.info("output server %s unavailable (%s)", server.name, exc)
    argv = python_argv("tomato.outputs", "--jobdir", str(jobdir), "--out", str(outdir),
                       "--prefix", prefix, *(("--status", status) if status else ()))
    result = await anyio.run_process(argv, check=False)
    if result.returncode != 0:
        lines = result.stderr.decode(errors="replace").strip().splitlines() or ["no message"]
        raise OutputError(f"outputs in {outdir} failed: {lines[-1]}")
    return list(json.loads(result.stdout).values())


async def final_outputs(jobdir: Path, status: str, reason: str | None,
                        servers: Sequence[Path]) -> tuple[str, str | None, list[str]]:
    """Make a finished job's datagram and archive where its payload says, and note them (or
    why not) in its log; returns its final status (`ce` if they failed), reason and files."""
    files: list[str] = []
    try:
        jobdata = json.loads((jobdir / "jobdata.json").read_text())
        outdir, prefix = output_place(jobdata, "output", "results")
        files = await make_outputs(jobdir, outdir, prefix, status, servers)
        note = logging.INFO, f"outputs: {', '.join(files)}"
    except (OutputError, OSError, ValueError) as exc:
        problem = str(exc) if isinstance(exc, OutputError) else f"outputs failed: {exc}"
        note = logging.ERROR, f"{problem}; the data stays in {jobdir}"
        status, reason = "ce", "; ".join(filter(None, (reason, problem)))
    with contextlib.suppress(OSError):  # the log may be on a full disk: the status says it
        log_to_job(jobdir, *note)
    return status, reason, files
