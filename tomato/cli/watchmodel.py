"""What `ketchup watch` knows: built from the service's WatchState, kept current by events."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from tomato.actors import EventsMissed

from ..jobstatus import FINISHED, PENDING
from ..messages import (
    ComponentData,
    JobData,
    JobInfo,
    JobStatusChanged,
    PipelineChanged,
    PipelineInfo,
    StepStarted,
    WatchState,
)

HISTORY = 240
"""Values kept per column for the sparkline plots."""


@dataclass
class Model:
    """What the watcher knows: built from a WatchState, then kept current by events."""

    pipelines: dict[str, PipelineInfo] = field(default_factory=dict)
    jobs: dict[int, JobInfo] = field(default_factory=dict)
    methods: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    steps: dict[int, dict[str, StepStarted]] = field(default_factory=dict)
    latest: dict[int, dict[str, JobData]] = field(default_factory=dict)
    idle: dict[str, ComponentData] = field(default_factory=dict)
    """component → its last idle measurement."""
    history: dict[tuple[int, int, str, str], deque[tuple[float, float]]] = field(
        default_factory=dict)
    """(jobid, step, role, column) → the latest (uts, value) pairs."""
    counts: dict[tuple[int, int, str], int] = field(default_factory=dict)
    status: dict[int, str] = field(default_factory=dict)
    missed: int = 0
    connected: bool = False

    def load(self, state: WatchState) -> None:
        self.pipelines = {p.name: p for p in state.pipelines}
        self.jobs.update({j.jobid: j for j in state.jobs})
        self.status.update({j.jobid: j.status for j in state.jobs})
        self.methods.update(state.methods)
        self.idle.update(state.idle)

    def apply(self, event: Any) -> None:
        match event:
            case PipelineChanged(pipeline):
                self.pipelines[pipeline.name] = pipeline
            case JobStatusChanged(jobid, status, pipeline, reason):
                self.status[jobid] = status
                if (job := self.jobs.get(jobid)) is not None:
                    stamp = datetime.now(UTC).isoformat(" ")  # heard now: started, or ended
                    ran = status not in PENDING and pipeline is not None
                    self.jobs[jobid] = replace(
                        job, status=status, pipeline=pipeline, reason=reason,
                        executed=job.executed or (stamp if ran else None),
                        completed=job.completed or (stamp if status in FINISHED else None))
            case StepStarted(jobid=jobid, role=role):
                self.steps.setdefault(jobid, {})[role] = event
            case JobData(jobid=jobid, step=step, role=role, columns=columns, points=points):
                self.latest.setdefault(jobid, {})[role] = event
                key = (jobid, step, role)
                self.counts[key] = self.counts.get(key, 0) + len(points)
                for i, name in enumerate(columns, 1):
                    line = self.history.setdefault((*key, name), deque(maxlen=HISTORY))
                    line.extend((p[0], p[i]) for p in points)
            case ComponentData(component=component):
                self.idle[component] = event
            case EventsMissed(count):
                self.missed += count
