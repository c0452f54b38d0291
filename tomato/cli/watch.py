"""`ketchup watch`: follow pipelines or one job from the supervisor's event stream."""

from __future__ import annotations

import json
import signal
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import anyio

from tomato.actors import RETRY_DELAY, ActorError, Connection, EventsMissed, connect

from ..jobstatus import Status
from ..messages import (
    ComponentData,
    GetJobs,
    GetWatchState,
    JobData,
    JobInfo,
    PipelineChanged,
    WatchState,
)
from ..records import event_records
from .client import CLIENT_CODEC, service_socket
from .watchmodel import FINISHED, Model

EXIT_CODES: dict[str, int] = {Status.COMPLETED: 0, Status.FAILED: 10, Status.CANCELLED: 11}


class Watcher:
    """Connects (and reconnects), loads the state, applies events, renders or prints."""

    def __init__(self, config_dir: Path, jobid: int | None, as_json: bool) -> None:
        self.config_dir = config_dir
        self.jobid = jobid
        self.as_json = as_json
        self.model = Model()
        self.final: JobInfo | None = None
        self.notice = ""
        self.seen: dict[tuple[int, int, str], float] = {}

    def emit(self, record: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()

    async def run(self, on_change: Any) -> None:
        """Follow events until the watched job ends (or forever); `on_change()` redraws."""
        sock = service_socket(self.config_dir)
        while self.final is None:
            try:
                async with connect(sock, CLIENT_CODEC) as conn, conn.subscribe() as events:
                    state = await conn.ask(GetWatchState(self.jobid))
                    self.model.connected, self.notice = True, ""
                    if self.as_json:
                        self.emit({"event": "state", "pipelines": [asdict(p) for p in
                                                                   state.pipelines],
                                   "jobs": [asdict(j) for j in state.jobs]})
                    for event in _replay(state):
                        self._take(event)
                    self.model.load(state)
                    await self._check_end(conn)
                    on_change()
                    if self.final is not None:
                        return
                    async for event in events:
                        if self._wanted(event):
                            self._take(event)
                            await self._check_end(conn)
                            on_change()
                        if self.final is not None:
                            return
            except ActorError as exc:
                if self.model.connected or not self.notice:
                    self.notice = f"tomato is not running ({exc}); reconnecting…"
                    if self.as_json:
                        self.emit({"event": "disconnected", "reason": str(exc)})
                    else:
                        print(self.notice, file=sys.stderr, flush=True)
                self.model.connected = False
                on_change()
                await anyio.sleep(RETRY_DELAY)

    def _take(self, event: Any) -> None:
        """Apply and (JSON) print an event, skipping points already seen."""
        if isinstance(event, ComponentData) and self.jobid is not None:
            return  # a job's watcher hears its job only
        if isinstance(event, JobData):
            key = (event.jobid, event.step, event.role)
            last = self.seen.get(key, float("-inf"))
            points = [p for p in event.points if p[0] > last]
            if not points:
                return
            self.seen[key] = points[-1][0]
            event = replace(event, points=points)
        self.model.apply(event)
        if self.as_json:
            for record in event_records(event):
                self.emit(record)

    def _wanted(self, event: Any) -> bool:
        if self.jobid is None or isinstance(event, (EventsMissed, PipelineChanged)):
            return True
        return getattr(event, "jobid", None) == self.jobid

    async def _check_end(self, conn: Connection) -> None:
        """The watched job has ended: fetch its record (outputs, reason) to close with."""
        if self.jobid is not None and self.model.status.get(self.jobid) in FINISHED:
            [self.final] = await conn.ask(GetJobs((self.jobid,)))


def _replay(state: WatchState) -> list[Any]:
    """The state's running steps and recent points, as the events that made them."""
    events: list[Any] = [s for roles in state.steps.values() for s in roles.values()]
    events.extend(d for roles in state.latest.values() for d in roles.values())
    return events


async def watch(config_dir: Path, jobid: int | None, as_json: bool, width: int | None = None
                ) -> int:
    """Run the watch until the job ends or Ctrl-C; returns the exit code."""
    watcher = Watcher(config_dir, jobid, as_json)
    async with anyio.create_task_group() as tg:
        tg.start_soon(_cancel_on_interrupt, tg.cancel_scope)
        if as_json:
            await watcher.run(lambda: None)
        else:
            await _live(watcher, width)
        tg.cancel_scope.cancel()
    if watcher.final is None:  # Ctrl-C: the normal end of a pipelines watch
        return 0 if jobid is None else 130
    return _finish(watcher, as_json)


async def _cancel_on_interrupt(scope: anyio.CancelScope) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            scope.cancel()
            return


async def _live(watcher: Watcher, width: int | None) -> None:
    from rich.console import Console
    from rich.live import Live

    from . import watchview

    console = Console(width=width)

    def view() -> Any:
        now = time.time()
        if watcher.jobid is None:
            return watchview.pipelines_view(watcher.model, now, watcher.notice)
        return watchview.job_view(watcher.model, watcher.jobid, now, watcher.notice)

    with Live(view(), console=console, auto_refresh=False, transient=False) as live:
        def redraw() -> None:
            live.update(view(), refresh=True)

        async with anyio.create_task_group() as tg:
            async def tick() -> None:  # ages and progress move on between events
                while True:
                    await anyio.sleep(1.0)
                    redraw()

            tg.start_soon(tick)
            await watcher.run(redraw)
            tg.cancel_scope.cancel()


def _finish(watcher: Watcher, as_json: bool) -> int:
    job = watcher.final
    assert job is not None
    if as_json:
        watcher.emit({"event": "end", "jobid": job.jobid, "status": job.status,
                      "reason": job.reason, "outputs": job.outputs, "jobpath": job.jobpath})
    else:
        where = ", ".join(job.outputs or []) or f"(no outputs; data in {job.jobpath})"
        why = f" ({job.reason})" if job.reason else ""
        print(f"job {job.jobid} ended {job.status}{why}; outputs: {where}", flush=True)
    return EXIT_CODES.get(job.status, 1)
