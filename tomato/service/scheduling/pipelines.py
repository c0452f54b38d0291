"""The pipelines: their state (kept in the store), the commands on them (load, eject,
ready, unready), and placing a job on one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from tomato.drivers import Technique

from ...errors import ConflictError, NotFoundError, PayloadError
from ...jobspec import ComponentSpec, JobSpec, StepSpec
from ...messages import PipelineChanged, PipelineInfo
from ...paths import device_socket
from ..config.devicesfile import Lab
from ..state.store import Store
from .payloadwords import MAX_NAME
from .queue import Pipeline, components_of


class Pipelines:
    """Every pipeline of the lab; each change is stored, then published."""

    def __init__(self, lab: Lab, techniques: dict[str, dict[str, Technique]], store: Store,
                 publish: Callable[[Any], None]) -> None:
        self._techniques = techniques
        self._devices = {d.name: d for d in lab.devices}
        self.source = lab.source
        """Where the lab came from (the devices file)."""
        self._store = store
        self._publish = publish
        rows = store.sync_pipelines([p.name for p in lab.pipelines])
        self.all: dict[str, Pipeline] = {}
        for spec in lab.pipelines:
            caps = {c.role: frozenset(techniques[c.device]) for c in spec.components}
            sample, ready, jobid = rows[spec.name]
            self.all[spec.name] = Pipeline(spec, caps, sample, ready, jobid)

    def get(self, name: str) -> Pipeline:
        pipeline = self.all.get(name)
        if pipeline is None:
            raise NotFoundError(f"no pipeline named {name!r} (pipelines: "
                                f"{', '.join(self.all)})")
        return pipeline

    def roles(self) -> dict[str, dict[str, dict[str, Technique]]]:
        """What each pipeline's roles can do: pipeline → role → technique by name."""
        return {p.name: {c.role: self._techniques[c.device] for c in p.spec.components}
                for p in self.all.values()}

    def infos(self) -> list[PipelineInfo]:
        return [info(p) for p in self.all.values()]

    def _set(self, p: Pipeline, **fields: Any) -> PipelineInfo:
        stored = {k: int(v) if isinstance(v, bool) else v for k, v in fields.items()
                  if k != "failed"}
        if stored:  # first: a refused write (full disk, for a client) changes nothing
            self._store.set_pipeline(p.name, **stored)
        for name, value in fields.items():
            setattr(p, name, value)
        changed = info(p)
        self._publish(PipelineChanged(changed))
        return changed

    # Commands.
    def load(self, name: str, sample: str) -> PipelineInfo:
        p = self.get(name)
        if not sample or len(sample) > MAX_NAME or not sample.isprintable():
            why = ("is empty" if not sample else f"is longer than {MAX_NAME} characters"
                   if len(sample) > MAX_NAME else f"has characters that are not printable "
                   f"({sample!r})")
            raise PayloadError(f"sample name {why}", {"field": "sample"})
        if p.sample is not None:
            raise ConflictError(f"pipeline {p.name!r} already holds sample {p.sample!r}; "
                                f"eject it first")
        with self._store.strict():  # a client is told it is done: recorded, or refused
            return self._set(p, sample=sample)

    def eject(self, name: str) -> PipelineInfo:
        p = self.get(name)
        _refuse_if_running(p)
        with self._store.strict():
            return self._set(p, sample=None)

    def set_ready(self, name: str, ready: bool) -> PipelineInfo:
        p = self.get(name)
        _refuse_if_running(p)
        with self._store.strict():
            return self._set(p, ready=ready)

    # Jobs.
    def take(self, p: Pipeline, spec: JobSpec, rundir: Path) -> JobSpec:
        """Start `spec` on `p`: it is no longer ready; returns the spec with its pipeline,
        components and the columns its steps record."""
        self._set(p, ready=False, jobid=spec.jobid)
        components = {c.role: c for c in p.spec.components}
        return replace(
            spec, pipeline=p.name,
            components=tuple(ComponentSpec(
                c.role, c.device, c.channel, str(device_socket(rundir, c.device)),
                self._devices[c.device].driver, self._devices[c.device].address,
                tuple(self._techniques[c.device])) for c in p.spec.components),
            steps=tuple(_placed(s, self._techniques[components[s.role].device]
                                [s.task.technique]) for s in spec.steps))

    def hold(self, name: str, jobid: int) -> None:
        """Keep `name` for `jobid` while the cluster is asked to let this tomato run it (in
        memory only: a restart asks again)."""
        self.all[name].jobid = jobid

    def unhold(self, name: str, jobid: int) -> None:
        if (p := self.all.get(name)) is not None and p.jobid == jobid:
            p.jobid = None

    def release(self, name: str | None, jobid: int, ready: bool) -> None:
        """Free the pipeline `name` of job `jobid` (if it still holds it)."""
        p = self.all.get(name or "")
        if p is not None and p.jobid == jobid:
            self._set(p, jobid=None, ready=ready)

    def forget_jobs(self, keep: set[int]) -> None:
        """After a restart: free pipelines held by jobs other than `keep`."""
        for p in self.all.values():
            if p.jobid is not None and p.jobid not in keep:
                self._set(p, jobid=None)

    def device_techniques(self) -> dict[str, dict[str, Technique]]:
        """What each device offers, by device."""
        return dict(self._techniques)

    def use(self, lab: Lab, techniques: dict[str, dict[str, Technique]]) -> None:
        """The lab as reloaded: pipelines added, changed (their state kept) and removed."""
        self._techniques = techniques
        self._devices = {d.name: d for d in lab.devices}
        self.source = lab.source
        rows = self._store.sync_pipelines([p.name for p in lab.pipelines])
        kept = dict(self.all)
        self.all.clear()  # the same mapping: the queue holds it
        for spec in lab.pipelines:
            caps = {c.role: frozenset(techniques.get(c.device, ())) for c in spec.components}
            p = kept.get(spec.name)
            if p is not None:
                p.spec, p.capabilities = spec, caps
            else:
                p = Pipeline(spec, caps, *rows[spec.name])
            self.all[spec.name] = p
            self._publish(PipelineChanged(info(p)))

    def learn(self, device: str, techniques: dict[str, Technique]) -> None:
        """What `device` offers, now that it runs (it had failed to start)."""
        self._techniques[device] = techniques
        for p in self.all.values():
            for c in p.spec.components:
                if c.device == device:
                    p.capabilities[c.role] = frozenset(techniques)

    def jobs_using(self, device: str) -> list[int]:
        """The running jobs of the pipelines that use `device`."""
        return [p.jobid for p in self.all.values() if p.jobid is not None
                and any(c.device == device for c in p.spec.components)]

    def failures(self) -> dict[str, str]:
        """Why each failed pipeline is failed (its device's reason) and what starts it
        again, by pipeline."""
        return {p.name: f"{p.failed} (once mended: `tomato restart {p.failed_device}`)"
                for p in self.all.values() if p.failed is not None}

    def device_failed(self, device: str, reason: str | None) -> list[tuple[int, str]]:
        """Mark the pipelines using `device` failed (`reason` None: no longer); returns
        (jobid, why) of their jobs."""
        ended = []
        why = f"device {device} failed: {reason}" if reason is not None else None
        for p in self.all.values():
            if any(c.device == device for c in p.spec.components) and p.failed != why:
                p.failed_device = device if why is not None else None
                self._set(p, failed=why)
                if p.jobid is not None and why is not None:
                    ended.append((p.jobid, why))
        return ended


def info(p: Pipeline) -> PipelineInfo:
    caps = sorted({t for ts in p.capabilities.values() for t in ts})
    return PipelineInfo(p.name, p.sample, p.ready, p.jobid, tuple(p.capabilities),
                        components_of(p.spec), tuple(caps), p.failed)


def _refuse_if_running(p: Pipeline) -> None:
    if p.jobid is not None:
        raise ConflictError(f"pipeline {p.name!r} is running job {p.jobid}; "
                            f"let it finish or cancel it first")


def _placed(step: StepSpec, technique: Technique) -> StepSpec:
    """The step as its component's technique records it."""
    return replace(step, columns=technique.columns, free_form=technique.free_form)
