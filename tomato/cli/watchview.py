"""Rich renderables for `ketchup watch`: pure functions of the watch model and the time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich import box
from rich.console import Group
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ..jobstatus import PENDING, Status
from ..messages import ComponentData, JobData, StepStarted
from .cells import STATUS_STYLE
from .render import add_row
from .watchmodel import FINISHED, Model

BARS = "▁▂▃▄▅▆▇█"
PLOT_WIDTH = 60


def pipelines_view(model: Model, now: float, notice: str = "") -> Any:
    table = Table(title="tomato: pipelines (Ctrl-C to leave)", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for name in ("pipeline", "sample", "ready", "job", "status", "step", "progress", "latest",
                 "age"):
        table.add_column(name, no_wrap=name != "latest")
    for p in model.pipelines.values():
        ready = Text("yes", "green") if p.ready else Text("no", "dim")
        if p.failed and p.jobid is None:  # why, where the values would be
            add_row(table, p.name, p.sample or "-", Text("failed", "bold red"), "-", "", "", "",
                          Text(p.failed, "red"), "")
            continue
        if p.jobid is None:
            idle = _idle(model, p.components)
            add_row(table, p.name, p.sample or "-", ready, "-", "", "", "",
                          _values(idle) if idle else "", _age(idle, now))
            continue
        status = model.status.get(p.jobid, Status.RUNNING)
        steps = model.steps.get(p.jobid, {})
        step = next(iter(steps.values()), None)
        data = next(iter(model.latest.get(p.jobid, {}).values()), None)
        add_row(table, p.name, p.sample or "-", ready, str(p.jobid),
                      Text(status, STATUS_STYLE.get(status, "")),
                      f"{step.step + 1}/{step.total}" if step else "",
                      _progress(step, now, 16) if step else "",
                      _values(data) if data else "", _age(data, now))
    return _with_notice(table, notice, model)


def job_view(model: Model, jobid: int, now: float, notice: str = "") -> Any:
    job = model.jobs.get(jobid)
    if job is None:
        return Text(f"job {jobid}: waiting for tomato…")
    status = model.status.get(jobid, job.status)
    header = Text.assemble(
        (f"job {jobid}", "bold"), f" {job.jobname or ''}  ", "status ",
        (status, STATUS_STYLE.get(status, "")), f"  sample {job.sample}",
        f"  pipeline {job.pipeline or '-'}",
        f"  elapsed {_elapsed(job.executed, job.completed, now)}")
    parts: list[Any] = [header, _steps_table(model, jobid, now), _latest_table(model, jobid, now)]
    if status in PENDING and job.reason:  # why it waits, until it runs
        parts.insert(1, Text(f"waiting: {job.reason}", "yellow"))
    parts.extend(_plots(model, jobid))
    return _with_notice(Group(*parts), notice, model)


def _steps_table(model: Model, jobid: int, now: float) -> Table:
    table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
    for name in ("step", "role", "technique", "progress"):
        table.add_column(name, no_wrap=True)
    running = model.steps.get(jobid, {})
    finished = model.status.get(jobid) in FINISHED
    for i, step in enumerate(model.methods.get(jobid, [])):
        current = running.get(step["role"])
        if current is not None and current.step == i and not finished:
            progress: Any = _progress(current, now, 30)
        elif current is not None and (current.step > i or finished):
            progress = Text("done", "green")
        else:
            progress = Text("waiting", "dim")
        add_row(table, f"{i + 1}/{len(model.methods[jobid])}", step["role"], step["technique"],
                      progress)
    return table


def _latest_table(model: Model, jobid: int, now: float) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for name in ("component", "step", "latest values", "points seen", "age"):
        table.add_column(name, no_wrap=True)
    for role, data in model.latest.get(jobid, {}).items():
        seen = model.counts.get((jobid, data.step, role), 0)
        add_row(table, role, str(data.step + 1), _values(data), str(seen), _age(data, now))
    return table


def _plots(model: Model, jobid: int) -> list[Text]:
    plots = []
    for (job, step, role, name), line in model.history.items():
        if job != jobid or not line:
            continue
        values = [v for _, v in line][-PLOT_WIDTH:]
        low, high = min(values), max(values)
        span = (high - low) or 1.0
        bars = "".join(BARS[min(int((v - low) / span * (len(BARS) - 1) + 0.5), len(BARS) - 1)]
                       for v in values)
        plots.append(Text.assemble((f"step {step + 1} {role}.{name} ", "bold"), (bars, "cyan"),
                                   f"  {low:.4g} … {high:.4g}"))
    return plots


def _progress(step: StepStarted, now: float, width: int) -> Any:
    elapsed = max(now - step.started, 0.0)
    total = step.max_duration
    grid = Table.grid(padding=(0, 1))
    grid.add_row(ProgressBar(total=total, completed=min(elapsed, total), width=width),
                 f"{_secs(elapsed)} / {_secs(total)} ({_secs(max(total - elapsed, 0.0))} left)")
    return grid


def _idle(model: Model, components: tuple[str, ...]) -> ComponentData | None:
    """The latest idle measurement of a pipeline's components ("role: device:channel")."""
    found = [d for c in components if (d := model.idle.get(c.split(": ", 1)[-1]))]
    return max(found, key=lambda d: d.points[-1][0], default=None)


def _values(data: JobData | ComponentData) -> str:
    if not data.points:
        return ""
    last = data.points[-1]
    return "  ".join(f"{name}={value:.6g}{(' ' + unit) if unit else ''}"
                     for name, unit, value in zip(data.columns, data.units, last[1:],
                                                  strict=False))


def _age(data: JobData | ComponentData | None, now: float) -> str:
    if data is None or not data.points:
        return ""
    return f"{max(now - data.points[-1][0], 0.0):.1f} s"


def _elapsed(executed: str | None, completed: str | None, now: float) -> str:
    """Since the job started; until it ended, once it has."""
    if not executed:
        return "-"
    end = datetime.fromisoformat(completed).timestamp() if completed else now
    return _secs(end - datetime.fromisoformat(executed).timestamp())


def _secs(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _with_notice(body: Any, notice: str, model: Model) -> Any:
    lines = [body]
    if model.missed:
        lines.append(Text(f"(missed {model.missed} events: this terminal fell behind)", "yellow"))
    if notice:
        lines.append(Text(notice, "bold red"))
    return Group(*lines) if len(lines) > 1 else body
