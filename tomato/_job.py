"""The job actor: one process per running job. Runs the steps, appends the data, reports."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import anyio

from actors import Actor, ActorError, Connection, Context, Ok, connect
from drivers import Column, Describe, ReadData, StartTask, StopTask, Task

from ._codec import CODEC
from ._outputs import make_outputs, output_place
from .errors import OutputError
from .messages import CancelRun, JobFinished
from .output import write_manifest

logger = logging.getLogger("tomato.job")

STOP_TIMEOUT = 1.0
REPORT_TIMEOUT = 60.0


class StepFailed(Exception):
    """A device reported an error for a step."""


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


class JobActor(Actor):
    """Answers CancelRun by cancelling the run; everything else happens in `run`."""

    def __init__(self, jobdir: Path, poll_interval: float) -> None:
        self.jobdir = jobdir
        self.poll = poll_interval
        self.data = json.loads((jobdir / "jobdata.json").read_text())
        self.jobid: int = self.data["jobid"]
        self.scope = anyio.CancelScope()
        self.cancelled = False
        self.datafiles: list[dict[str, Any]] = []

    async def handle(self, msg: Any, ctx: Context) -> Any:
        match msg:
            case CancelRun():
                logger.warning("cancel requested (by uid %s)", ctx.uid)
                self.cancelled = True
                self.scope.cancel()
                return Ok()
        raise ActorError(f"a job does not understand {type(msg).__name__}")

    async def run(self) -> tuple[str, str | None, list[str]]:
        """Run every step, then write the outputs; returns status, reason and output files."""
        status, reason = await self._collect()
        outdir, prefix = output_place(self.data, "output", "results")
        try:
            outputs = await make_outputs(self.jobdir, outdir, prefix, status)
        except OutputError as exc:
            logger.error("%s; the data stays in %s", exc, self.jobdir)
            return "ce", "; ".join(filter(None, (reason, str(exc)))), []
        logger.info("outputs: %s", ", ".join(outputs))
        return status, reason, outputs

    async def _collect(self) -> tuple[str, str | None]:
        """Run every step (and periodic snapshots); returns the status and its reason."""
        steps: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
        for index, step in enumerate(self.data["payload"]["method"]):
            steps[step["component_role"]].append((index, step))
        logger.info("job %d started on pipeline %s", self.jobid, self.data["pipeline"]["name"])
        failures: list[BaseException] = []
        try:
            with self.scope:
                async with anyio.create_task_group() as snapshots:
                    snapshots.start_soon(self._snapshot_periodically)
                    async with anyio.create_task_group() as tg:
                        for role, role_steps in steps.items():
                            tg.start_soon(self._run_role, role, role_steps)
                    snapshots.cancel_scope.cancel()
        except* (StepFailed, ActorError, OSError) as group:
            failures.extend(_leaves(group))
        if failures:
            reason = "; ".join(str(e) for e in failures)
            logger.error("job %d failed: %s", self.jobid, reason)
            return "ce", reason
        if self.cancelled:
            logger.warning("job %d cancelled", self.jobid)
            return "cd", "cancelled while running"
        logger.info("job %d completed", self.jobid)
        return "c", None

    async def _snapshot_periodically(self) -> None:
        options = self.data["payload"]["settings"].get("snapshot")
        if not options:
            return
        outdir, prefix = output_place(self.data, "snapshot", "snapshot")
        while True:
            await anyio.sleep(options["interval"])
            try:
                await make_outputs(self.jobdir, outdir, prefix)
            except OutputError as exc:  # a failed snapshot never stops the data collection
                logger.error("periodic snapshot: %s", exc)

    def _add_datafile(self, index: int, role: str, technique: Any, path: Path) -> None:
        self.datafiles.append({
            "file": path.name, "tag": path.stem, "step": index, "role": role,
            "technique": technique.name,
            "columns": [{"name": c.name, "unit": c.unit, "uncertainty": c.uncertainty}
                        for c in technique.columns]})
        write_manifest(self.jobdir, self.datafiles)

    async def _run_role(self, role: str, steps: list[tuple[int, dict[str, Any]]]) -> None:
        component = self.data["pipeline"]["components"][role]
        async with connect(Path(component["socket"]), CODEC) as device:
            info = await device.ask(Describe())
            techniques = {t.name: t for t in info.techniques}
            for index, step in steps:
                name = step["technique_name"]
                path = self.jobdir / f"{index:02d}-{role}-{name}.csv"
                out = DataFile(path, tuple(techniques[name].columns))
                self._add_datafile(index, role, techniques[name], path)
                try:
                    await self._run_step(device, component["channel"], index, step, out)
                finally:
                    out.close()
                    logger.info("step %d (%s on %s) ended with %d points", index, name, role,
                                out.count)

    async def _run_step(self, device: Connection, channel: str, index: int,
                        step: dict[str, Any], out: DataFile) -> None:
        task = Task(step["technique_name"], step["max_duration"], step["sampling_interval"],
                    step.get("task_params") or {})
        await device.ask(StartTask(channel, task, f"{self.jobid}.{index}"))
        logger.info("step %d (%s) started on %s", index, task.technique, step["component_role"])
        after = 0
        try:
            while True:
                batch = await device.ask(ReadData(channel, after))
                out.append(batch.points)
                after = batch.first + len(batch.points)
                if batch.state == "error":
                    raise StepFailed(f"step {index} ({task.technique}): {batch.error}")
                if batch.state != "running":
                    return
                await anyio.sleep(self.poll)
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(2 * STOP_TIMEOUT):
                await device.ask(StopTask(channel), timeout=STOP_TIMEOUT)
                batch = await device.ask(ReadData(channel, after), timeout=STOP_TIMEOUT)
                out.append(batch.points)


def _leaves(group: BaseExceptionGroup) -> list[BaseException]:
    """The exceptions inside (nested) exception groups."""
    found: list[BaseException] = []
    for exc in group.exceptions:
        found.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return found


async def report(supervisor: Path, jobid: int, status: str, reason: str | None,
                 outputs: list[str]) -> None:
    """Tell the supervisor how the job ended; retried until it is acknowledged (bounded)."""
    with anyio.move_on_after(REPORT_TIMEOUT):
        while True:
            try:
                async with connect(supervisor, CODEC) as conn:
                    await conn.ask(JobFinished(jobid, status, reason, tuple(outputs)))
                    return
            except ActorError as exc:
                logger.warning("could not report to the supervisor (%s); retrying", exc)
                await anyio.sleep(1.0)
    logger.error("the supervisor did not take the report of job %d (%s)", jobid, status)
