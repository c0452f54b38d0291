"""Replies and events as plain records: what `ketchup --json`, `ketchup watch --json` and the
web API print, the same for all three."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from .messages import ComponentData, JobData, JobInfo

SEED_KEYS = ("jobid", "jobname", "status", "submitted", "executed", "completed", "pipeline")


def job_records(jobs: Sequence[JobInfo]) -> list[dict[str, Any]]:
    """Jobs as `ketchup status <jobid>` shows them, YAML and JSON alike: the seed's keys
    first, in its order, then every other field."""
    records = []
    for job in jobs:
        fields = asdict(job)
        records.append({**{key: fields.pop(key) for key in SEED_KEYS}, **fields})
    return records


def event_records(event: Any) -> list[dict[str, Any]]:
    """JSON lines for an event: one per data point, one for anything else."""
    if isinstance(event, JobData):
        return [{"event": "point", "jobid": event.jobid, "step": event.step,
                 "role": event.role, "uts": p[0],
                 "values": dict(zip(event.columns, p[1:], strict=False)),
                 "units": dict(zip(event.columns, event.units, strict=False))}
                for p in event.points]
    if isinstance(event, ComponentData):
        return [{"event": "idle", "component": event.component, "uts": p[0],
                 "values": dict(zip(event.columns, p[1:], strict=False)),
                 "units": dict(zip(event.columns, event.units, strict=False))}
                for p in event.points]
    body = asdict(event) if not isinstance(event, dict) else event
    return [{"event": type(event).__name__, **body}]
