"""Payloads: validated with the model their `version` names, upgraded to the newest (2.2),
and turned into the job's spec. The only module that reads a payload's keys."""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import os
from pathlib import Path
from typing import Any

from tomato.drivers import ParameterError, Task, Technique, check_task

from ...errors import PayloadError
from ...jobspec import JobSpec, Place, Snapshots, StepSpec
from ...messages import PayloadChecked, SubmitJob
from .payloadwords import MAX_NAME, VERSIONS, explained, field_name, refuse_unhonoured

logger = logging.getLogger(__name__)

LATEST = "2.2"

def payload_version(raw: Any, filename: str) -> str:
    if not isinstance(raw, dict):
        raise PayloadError(f"{filename}: expected a mapping at the top level",
                           {"file": filename, "field": ""})
    version = raw.get("version")
    if version is None:
        raise PayloadError(f"{filename}: version: missing (one of {', '.join(VERSIONS)})",
                           {"file": filename, "field": "version"})
    version = f"{version:.1f}" if isinstance(version, float) else str(version)
    if version not in VERSIONS:
        raise PayloadError(f"{filename}: version: unknown payload version {version!r} "
                           f"(known: {', '.join(VERSIONS)})",
                           {"file": filename, "field": "version"})
    return version


def normalise_payload(raw: Any, filename: str) -> tuple[str, dict[str, Any]]:
    """Validate `raw` as the version it names and upgrade it; returns (version, 2.2 dict).

    Raises PayloadError with one line naming the file, the field and the reason.
    """
    from pydantic import ValidationError

    version = payload_version(raw, filename)
    _check_durations(raw, version, filename)
    refuse_unhonoured(raw, version, filename)
    schemas = importlib.import_module("dgbowl_schemas.tomato")
    model = getattr(schemas, f"Payload_{version.replace('.', '_')}")
    try:
        with contextlib.redirect_stdout(io.StringIO()) as printed:  # dgbowl-schemas prints
            payload = model(**{**raw, "version": version})
            while payload.version != LATEST:
                payload = payload.update()
        if printed.getvalue():
            logger.debug("%s: the payload models printed %r", filename, printed.getvalue())
    except ValidationError as exc:
        problems = explained(exc.errors(), raw, version, model)
        raise PayloadError(f"{filename}: {'; '.join(why for _, why in problems)}",
                           {"file": filename, "field": problems[0][0]}) from None
    except (ValueError, AssertionError, OSError) as exc:
        raise PayloadError(f"{filename}: {exc}", {"file": filename, "field": ""}) from None
    return version, payload.model_dump(mode="json")


def _check_durations(raw: dict[str, Any], version: str, filename: str) -> None:
    """A step's durations are numbers > 0 or times with units ("2 min"): `time: true` is
    not 1 s, and "5 kg" is not a time (the models would take the one, crash on the other)."""
    method = raw.get("method")
    for i, step in enumerate(method if isinstance(method, list) else ()):
        for key, value in step.items() if isinstance(step, dict) else ():
            if key not in ("time", "delay", "max_duration", "sampling_interval",
                           "polling_interval"):
                continue
            where = field_name(version, ("method", i, key))
            if isinstance(value, bool):
                raise PayloadError(f"{filename}: {where}: must be a number > 0, got {value}",
                                   {"file": filename, "field": where})
            if isinstance(value, str):
                try:
                    step[key] = float(value)  # "2" is 2 s, in every version
                except ValueError:
                    if why := _not_a_time(value):
                        raise PayloadError(f"{filename}: {where}: {why}",
                                           {"file": filename, "field": where}) from None


def _not_a_time(text: str) -> str | None:
    """Why `text` is not a time with units ("0.5 s", "2 min"); None if it is one."""
    import pint  # only for a payload that gives a time as text

    try:
        pint.Quantity(text).to("second")
    except Exception as exc:  # pint raises many kinds (unknown unit, syntax, dimension)
        return f"{text!r} is not a time: {str(exc).splitlines()[0]}"
    return None


def task_of(step: dict[str, Any]) -> Task:
    """The driver task of a (2.2) method step."""
    return Task(step["technique_name"], step["max_duration"], step["sampling_interval"],
                step.get("task_params") or {})


def job_spec(payload: dict[str, Any], jobid: int, jobname: str | None, cwd: str,
             owner: int | None = None) -> JobSpec:
    """The spec of a queued job from its (2.2) payload; `cwd` is where ketchup ran; its
    outputs are written as `owner` (the submitter's uid; None: tomato's user) could."""
    settings = payload["settings"]
    snapshot = settings.get("snapshot")
    return JobSpec(
        jobid, jobname, payload["sample"]["identifier"],
        tuple(StepSpec(i, step["component_role"], task_of(step), name=step.get("task_name"),
                       start_with=step.get("start_with_task_name"),
                       stop_with=step.get("stop_with_task_name"))
              for i, step in enumerate(payload["method"])),
        _place(settings.get("output"), cwd, f"results.{jobid}", owner),
        Snapshots(_place(snapshot, cwd, f"snapshot.{jobid}", owner),
                  float(snapshot["interval"]))
        if snapshot else None,
        bool(settings.get("unlock_when_done", False)),
        settings.get("verbosity") or "WARNING")


def _place(options: dict[str, Any] | None, cwd: str, prefix: str, owner: int | None
           ) -> Place:
    """The payload's `output` or `snapshot` folder (relative to `cwd`) and prefix."""
    options = options or {}
    folder = Path(os.path.abspath(Path(cwd) / (options.get("path") or ".")))
    return Place(str(folder), options.get("prefix") or prefix, owner)


def check_places(version: str, spec: JobSpec, filename: str, uid: int) -> None:
    """Raise PayloadError, naming the field, if the submitter `uid` could not write where
    the job's outputs or snapshots go (tomato writes them as the submitter could)."""
    from ...writable import can_write

    old = version.startswith("0.")
    places = {"output": spec.output, "snapshot": spec.snapshots.place if spec.snapshots
              else None}
    for section, place in places.items():
        if place is not None and (why := can_write(Path(place.folder), uid)) is not None:
            where = f"{'tomato' if old else 'settings'}.{section}.path"
            raise PayloadError(f"{filename}: {where}: results are written as you could; {why}",
                               {"file": filename, "field": where})



def check_names(version: str, payload: dict[str, Any], filename: str,
                jobname: str | None) -> None:
    """Sample and job names are printable text of at most MAX_NAME characters; output
    prefixes are file names (not paths). Raises PayloadError naming the field as the user's
    version spells it."""
    old = version.startswith("0.")
    names = {"sample.name" if old else "sample.identifier": payload["sample"]["identifier"],
             "jobname": jobname}
    for section in ("output", "snapshot"):
        if (options := payload["settings"].get(section)) and options.get("prefix"):
            where = f"{'tomato' if old else 'settings'}.{section}.prefix"
            names[where] = prefix = options["prefix"]
            if "/" in prefix or prefix in (".", ".."):
                raise PayloadError(f"{filename}: {where}: a file name, not a path (use "
                                   f"'path' for the folder), got {prefix!r}",
                                   {"file": filename, "field": where})
    for where, name in names.items():
        if name is not None and (len(name) > MAX_NAME or not name.isprintable()):
            why = (f"longer than {MAX_NAME} characters" if len(name) > MAX_NAME
                   else "has characters that are not printable")
            raise PayloadError(f"{filename}: {where}: {why}", {"file": filename,
                                                             "field": where})


Roles = dict[str, dict[str, dict[str, Technique]]]
"""pipeline → role → technique name → technique."""


def check_method(version: str, payload: dict[str, Any], filename: str, pipelines: Roles,
                 failed: dict[str, str] | None = None) -> None:
    """Refuse a method that no pipeline can ever run: a role no pipeline has, a technique
    its component cannot do, a parameter its driver refuses, steps that need different
    pipelines, a trigger naming no step or waiting on itself. Raises PayloadError naming
    the field as the user's version spells it; a technique only a failed device (`failed`:
    pipeline → why) might do is refused saying which and why."""
    method = payload["method"]
    if not method:
        raise PayloadError(f"{filename}: method: needs at least one step",
                           {"file": filename, "field": "method"})
    _check_triggers(version, method, filename)
    able = set(pipelines)
    runs_on = []
    for i, step in enumerate(method):
        runs_on.append(_able(version, filename, i, step, pipelines, failed or {}))
        able &= runs_on[-1]
    if not able:
        where = "; ".join(f"step {i}: {', '.join(sorted(p))}" for i, p in enumerate(runs_on))
        raise PayloadError(f"{filename}: method: no pipeline can run every step ({where})",
                           {"file": filename, "field": "method"})


def _able(version: str, filename: str, i: int, step: dict[str, Any], pipelines: Roles,
          failed: dict[str, str]) -> set[str]:
    """The pipelines that can run step `i`; raises PayloadError if none can."""
    def refuse(key: str, why: str) -> PayloadError:
        where = field_name(version, ("method", i, key))
        return PayloadError(f"{filename}: {where}: {why}", {"file": filename, "field": where})

    role, name = step["component_role"], step["technique_name"]
    with_role = {p: roles[role] for p, roles in pipelines.items() if role in roles}
    if not with_role:
        known = sorted({r for roles in pipelines.values() for r in roles})
        raise refuse("component_role", f"no pipeline has a component with role {role!r} "
                                       f"(roles: {', '.join(known)})")
    with_technique = {p: ts[name] for p, ts in with_role.items() if name in ts}
    if not with_technique:
        if down := sorted({failed[p] for p, ts in with_role.items() if p in failed and not ts}):
            raise refuse("technique_name", f"no running device can do technique {name!r} as "
                                           f"{role!r}: {'; '.join(down)}")
        known = sorted({t for ts in with_role.values() for t in ts})
        raise refuse("technique_name", f"no device can do technique {name!r} as {role!r} "
                                       f"(known: {', '.join(known)})")
    able, refusals = set(), []
    for p, technique in with_technique.items():
        try:
            check_task(technique, task_of(step))
            able.add(p)
        except ParameterError as exc:
            refusals.append(exc)
    if not able:
        first = refusals[0]
        key = first.details.get("field", "")
        path = (("method", i, key) if key in step or version.startswith("0.")
                else ("method", i, "task_params", key))
        where = field_name(version, path)
        raise PayloadError(f"{filename}: {where}: {first.message}",
                           {"file": filename, "field": where})
    return able


def _check_triggers(version: str, method: list[dict[str, Any]], filename: str) -> None:
    """Task names are unique; a trigger names a step, and no step waits (through triggers
    and the order of its component's steps) for itself."""
    named: dict[str, int] = {}
    for i, step in enumerate(method):
        if (name := step.get("task_name")) is not None:
            if name in named:
                where = field_name(version, ("method", i, "task_name"))
                raise PayloadError(f"{filename}: {where}: {name!r} is also the name of step "
                                   f"{named[name]}", {"file": filename, "field": where})
            named[name] = i
    waits: dict[int, set[int]] = {i: set() for i in range(len(method))}
    last: dict[str, int] = {}
    for i, step in enumerate(method):
        if (before := last.get(step["component_role"])) is not None:
            waits[i].add(before)
        last[step["component_role"]] = i
        for key in ("start_with_task_name", "stop_with_task_name"):
            if (name := step.get(key)) is None:
                continue
            where = field_name(version, ("method", i, key))
            if name not in named:
                raise PayloadError(f"{filename}: {where}: no step has the task_name {name!r}",
                                   {"file": filename, "field": where})
            if key == "start_with_task_name":
                waits[i].add(named[name])
    for i, step in enumerate(method):
        if step.get("start_with_task_name") is not None and _reaches(waits, i):
            where = field_name(version, ("method", i, "start_with_task_name"))
            raise PayloadError(f"{filename}: {where}: the step would wait for itself (its "
                               "trigger starts only after it)", {"file": filename,
                                                                 "field": where})


def _reaches(waits: dict[int, set[int]], start: int) -> bool:
    """Whether step `start` waits, through any chain, for itself."""
    seen, todo = set(), list(waits[start])
    while todo:
        i = todo.pop()
        if i == start:
            return True
        if i not in seen:
            seen.add(i)
            todo.extend(waits[i])
    return False


def check_submission(version: str, payload: dict[str, Any], msg: SubmitJob, uid: int,
                     roles: dict[str, dict[str, dict[str, Technique]]],
                     failures: dict[str, str]) -> PayloadChecked:
    """Everything a submit checks against the lab (names, method, where results go), with
    what each pipeline's roles can do and why some cannot (a failed device); raises
    PayloadError. What it found: the version, the pipelines that could run it."""
    check_names(version, payload, msg.filename, msg.jobname)
    check_method(version, payload, msg.filename, roles, failures)
    spec = job_spec(payload, 0, None, msg.cwd)
    check_places(version, spec, msg.filename, uid)
    needs = {(s.role, s.task.technique) for s in spec.steps}
    able = tuple(name for name, can in roles.items()
                 if all(technique in can.get(role, {}) for role, technique in needs))
    return PayloadChecked(msg.filename, version, able)
