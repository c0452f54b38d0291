"""What the supervisor keeps of running jobs for `ketchup watch`: each component's current
step, and its latest points (so a watcher joining late still sees them)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Container
from dataclasses import replace

from ...jobspec import JobSpec
from ...messages import ComponentData, JobData, JobInfo, PipelineInfo, StepStarted, WatchState

RECENT = 200
"""Points kept per running step and component (a thousand jobs: ~30 MB)."""


class Progress:
    def __init__(self) -> None:
        self.steps: dict[int, dict[str, StepStarted]] = {}
        self._latest: dict[int, dict[str, tuple[JobData, deque[list[float]]]]] = {}

    def take(self, reports: tuple[object, ...], running: Container[int],
             tell: Callable[[object], None]) -> None:
        """Keep what jobs report (StepStarted, JobData), and `tell` watchers of it: not the
        points of a job that has ended."""
        for msg in reports:
            if isinstance(msg, StepStarted):
                self.step_started(msg)
            elif isinstance(msg, JobData) and (msg.jobid in running or msg.jobid in self.steps):
                self.data(msg)
            else:
                continue
            tell(msg)

    def step_started(self, msg: StepStarted) -> None:
        self.steps.setdefault(msg.jobid, {})[msg.role] = msg

    def data(self, msg: JobData) -> None:
        """Keep the points of `msg` (the last RECENT of its step)."""
        roles = self._latest.setdefault(msg.jobid, {})
        kept = roles.get(msg.role)
        if kept is None or kept[0].step != msg.step:
            kept = roles[msg.role] = (msg, deque(maxlen=RECENT))
        kept[1].extend(msg.points)

    def forget(self, jobid: int) -> None:
        self.steps.pop(jobid, None)
        self._latest.pop(jobid, None)

    def latest(self, jobids: set[int]) -> dict[int, dict[str, JobData]]:
        """For each of `jobids`: each component's step with its recent points."""
        return {j: {role: replace(msg, points=list(points)) for role, (msg, points) in
                    roles.items()} for j, roles in self._latest.items() if j in jobids}

    def watch_state(self, pipelines: list[PipelineInfo], jobs: list[JobInfo],
                    specs: dict[int, JobSpec], idle: dict[str, ComponentData],
                    points: bool = True) -> WatchState:
        """What a watcher of `jobs` starts from (`points`: with their recent points)."""
        methods = {jobid: [{"role": s.role, "technique": s.task.technique,
                            "max_duration": s.task.max_duration} for s in spec.steps]
                   for jobid, spec in specs.items()}
        ids = {j.jobid for j in jobs}
        return WatchState(pipelines, jobs, methods,
                          {j: s for j, s in self.steps.items() if j in ids},
                          self.latest(ids) if points else {}, dict(idle))
