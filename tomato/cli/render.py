"""Pure functions from replies to rich renderables (only the Console writes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text

from ..messages import ComponentRow, DeviceInfoRow, JobInfo, PipelineInfo
from .cells import (
    PIPELINE_COLUMNS,
    TIMES,
    job_rows,
    job_table_columns,
    pipeline_rows,
    plain,
    printable,
)

IDENTIFYING = {"jobid", "jobname", "status", "sample", "pipeline", "component"}
"""Columns kept at least as wide as their name on a narrow terminal."""


def shown(value: Any) -> Any:
    """A cell as a terminal may print it: text from people and drivers (names, reasons,
    values) with its control characters written out (an escape sequence is `\x1b[2J`, not
    a cleared screen)."""
    if isinstance(value, Text):
        if value.plain.isprintable():
            return value
        return Text(printable(value.plain), value.style)
    if isinstance(value, str):
        return printable(value)
    return value


def add_row(table: Table, *cells: Any) -> None:
    table.add_row(*(shown(c) for c in cells))


def _table(title: str) -> Table:
    """A table as ketchup draws them: titled, a rule under the header, no frame."""
    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                 collapse_padding=True)


def _add_columns(table: Table, names: Sequence[str]) -> None:
    """Columns that wrap (fold) on a narrow terminal: no value is ever cut."""
    for name in names:
        table.add_column(name, overflow="fold",
                         min_width=len(name) if name in IDENTIFYING else None)


def plain_table(table: Table) -> str:
    """A rich table as scripts read it (see `cells.plain`)."""
    columns = [list(c.cells) for c in table.columns]
    rows = [[v.plain if isinstance(v, Text) else str(v) for v in row]
            for row in zip(*columns, strict=True)]
    return plain([str(c.header) for c in table.columns], rows)


def pipelines_table(pipelines: Sequence[PipelineInfo]) -> Table:
    table = _table("pipelines")
    _add_columns(table, PIPELINE_COLUMNS)
    for row in pipeline_rows(pipelines):
        add_row(table, *(Text(text, style) for text, style in row))
    return table


def jobs_table(jobs: Sequence[JobInfo], title: str = "jobs") -> Table:
    table = _table(title)
    rows = job_rows(jobs)
    for i, name in enumerate(job_table_columns(jobs)):
        widest = max((len(row[i][0]) for row in rows), default=0)
        if name in TIMES and widest:  # a time (and its header) is never cut in two
            table.add_column(name, no_wrap=True, min_width=max(widest, len(name)))
        else:  # nothing to cut: it gives its room to the names
            _add_columns(table, [name])
    for row in rows:
        add_row(table, *(Text(text, style) for text, style in row))
    if not jobs:
        table.caption = "no jobs"
    return table


def components_table(rows: Sequence[ComponentRow]) -> Table:
    table = _table("components")
    _add_columns(table, ("component", "driver", "device", "pipelines", "job"))
    for c in rows:
        state = Text(c.state, "green" if c.state == "running" else "bold red")
        add_row(table, c.name, c.driver, state, ", ".join(c.pipelines) or Text("-", "dim"),
                      str(c.jobid) if c.jobid is not None else Text("-", "dim"))
    return table


def devices_table(rows: Sequence[DeviceInfoRow]) -> Table:
    table = _table("devices")
    _add_columns(table, ("device", "driver", "state", "pid", "restarts", "channels", "reason"))
    for d in rows:
        state = Text(d.state, "green" if d.state == "running" else "bold red")
        add_row(table, d.name, d.driver, state, str(d.pid or "-"), str(d.restarts),
                      ", ".join(f"{ch}: {s}" for ch, s in d.channels.items()) or "-",
                      d.reason or "")
    return table


def drivers_of(rows: Sequence[DeviceInfoRow]) -> list[dict[str, Any]]:
    """Each driver in use, with its devices and their states."""
    drivers: dict[str, dict[str, str]] = {}
    for d in rows:
        drivers.setdefault(d.driver, {})[d.name] = d.state
    return [{"driver": name, "devices": devices} for name, devices in drivers.items()]


def drivers_table(drivers: Sequence[dict[str, Any]]) -> Table:
    table = _table("drivers")
    _add_columns(table, ("driver", "devices"))
    for d in drivers:
        add_row(table, d["driver"], ", ".join(f"{n} ({s})" for n, s in d["devices"].items()))
    return table


def pipeline_columns(pipelines: Sequence[PipelineInfo], pids: dict[int, int | None]
                     ) -> dict[str, list[Any]]:
    """Pipelines as tomato 0.2's `status -J` printed them: a list per column (`pids`: the
    job process of each running job)."""
    return {"pipeline": [p.name for p in pipelines], "sampleid": [p.sample for p in pipelines],
            "ready": [int(p.ready) for p in pipelines], "jobid": [p.jobid for p in pipelines],
            "pid": [pids.get(p.jobid) if p.jobid is not None else None for p in pipelines]}


def job_columns(jobs: Sequence[JobInfo], queue: bool) -> dict[str, list[Any]]:
    """Jobs as tomato 0.2's `status queue -J` (or `status -J ID`) printed them."""
    names = (("jobid", "jobid"), ("jobname", "jobname"), ("status", "status"),
             *(() if queue else (("submitted_at", "submitted"), ("executed_at", "executed"),
                                 ("completed_at", "completed"))),
             ("pipeline", "pipeline"), ("pid", "pid"))
    return {shown: [getattr(j, field) for j in jobs] for shown, field in names}
