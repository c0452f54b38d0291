"""The cells of ketchup's pipeline and job tables, as text with a style name: what both a
terminal's table (render.py, with rich) and a script's plain lines (here, without rich)
are made of, so the two never differ."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from ..jobstatus import Status
from ..messages import JobInfo, PipelineInfo

Cell = tuple[str, str]
"""(text, style); an empty style: none."""

STATUS_STYLE: dict[str, str] = {
    Status.QUEUED: "yellow", Status.MATCHED: "yellow", Status.RUNNING: "bold cyan",
    Status.CANCELLING: "magenta", Status.COMPLETED: "green", Status.FAILED: "bold red",
    Status.CANCELLED: "red"}
PIPELINE_COLUMNS = ("pipeline", "sample", "ready", "job", "components", "capabilities")
JOB_COLUMNS = ("jobid", "jobname", "status", "sample", "pipeline", "submitted", "executed",
               "completed")
TIMES = ("submitted", "executed", "completed")


def printable(text: str) -> str:
    """`text` with its control characters written out (an escape sequence is `\\x1b[2J`,
    not a cleared screen); line breaks kept."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == "\n" else repr(c)[1:-1] for c in text)


def pipeline_rows(pipelines: Sequence[PipelineInfo]) -> list[list[Cell]]:
    rows = []
    for p in pipelines:
        ready = ("yes", "green") if p.ready else ("no", "dim")
        if p.failed:
            ready = (f"failed: {p.failed}", "bold red")
        rows.append([(p.name, ""), (p.sample, "") if p.sample else ("-", "dim"), ready,
                     (str(p.jobid), "") if p.jobid is not None else ("-", "dim"),
                     ("\n".join(p.components), ""), (", ".join(p.capabilities), "")])
    return rows


def job_table_columns(jobs: Sequence[JobInfo]) -> tuple[str, ...]:
    """The job table's columns: a reason column when a job has one."""
    return JOB_COLUMNS + ("reason",) * any(j.reason for j in jobs)


def job_rows(jobs: Sequence[JobInfo], today: date | None = None) -> list[list[Cell]]:
    today = today or datetime.now().astimezone().date()
    with_reason = any(j.reason for j in jobs)
    rows = []
    for j in jobs:
        rows.append([(str(j.jobid), ""), (j.jobname or "", ""),
                     (j.status, STATUS_STYLE.get(j.status, "")), (j.sample, ""),
                     (j.pipeline or "", ""),
                     *((when(t, today), "") for t in (j.submitted, j.executed, j.completed)),
                     *[(j.reason or "", "")] * with_reason])
    return rows


def when(stamp: str | None, today: date) -> str:
    """Local time; the date too unless it is today."""
    if not stamp:
        return ""
    local = datetime.fromisoformat(stamp).astimezone()
    return local.strftime("%H:%M:%S" if local.date() == today else "%Y-%m-%d %H:%M")


def plain(columns: Sequence[str], rows: Sequence[Sequence[Cell | Any]]) -> str:
    """A table as scripts read it (`grep`, `cut -f`): a header line, then a line per row,
    cells separated by tabs, whole (never cut), unpadded, without styles; an empty cell
    is `-`."""
    def cell(value: Any) -> str:
        text = value[0] if isinstance(value, tuple) else str(value)
        return " ".join(printable(text).split()) or "-"

    return "\n".join(["\t".join(columns), *("\t".join(cell(v) for v in row) for row in rows)])
