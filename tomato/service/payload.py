"""Payloads: validated with the model their `version` names, upgraded to the newest (2.2),
and turned into the job's spec. The only module that reads a payload's keys."""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
from pathlib import Path
from typing import Any

from drivers import ParameterError, Task, Technique, check_task

from ..errors import PayloadError
from ..messages import JobSpec, Place, Snapshots, StepSpec

logger = logging.getLogger(__name__)

VERSIONS = ("0.1", "0.2", "1.0", "2.0", "2.1", "2.2")
LATEST = "2.2"

# 2.2 names of a step's fields as 0.x payloads spell them.
_OLD_NAMES = {"component_role": "device", "component_tag": "device", "technique_name": "technique",
              "max_duration": "time", "sampling_interval": "delay"}


def field_name(version: str, path: tuple[Any, ...]) -> str:
    """`("method", 0, "max_duration")` as the user wrote it: `method[0].time` in 0.x files."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = _OLD_NAMES.get(part, part) if version.startswith("0.") else part
            text += f".{name}" if text else str(name)
    return text or "(top level)"


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
    _refuse_bools(raw, version, filename)
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
        first = exc.errors()[0]
        where = field_name(version, tuple(first["loc"]))
        raise PayloadError(f"{filename}: {where}: {first['msg']}",
                           {"file": filename, "field": where}) from None
    except (ValueError, AssertionError, OSError) as exc:
        raise PayloadError(f"{filename}: {exc}", {"file": filename, "field": ""}) from None
    return version, payload.model_dump(mode="json")


def _refuse_bools(raw: dict[str, Any], version: str, filename: str) -> None:
    """A step's durations are numbers: `time: true` is not 1 s (the models would take it)."""
    method = raw.get("method")
    for i, step in enumerate(method if isinstance(method, list) else ()):
        for key, value in step.items() if isinstance(step, dict) else ():
            if key in ("time", "delay", "max_duration", "sampling_interval") and \
                    isinstance(value, bool):
                where = field_name(version, ("method", i, key))
                raise PayloadError(f"{filename}: {where}: must be a number > 0, got {value}",
                                   {"file": filename, "field": where})


def task_of(step: dict[str, Any]) -> Task:
    """The driver task of a (2.2) method step."""
    return Task(step["technique_name"], step["max_duration"], step["sampling_interval"],
                step.get("task_params") or {})


def job_spec(payload: dict[str, Any], jobid: int, jobname: str | None, cwd: str) -> JobSpec:
    """The spec of a queued job from its (2.2) payload; `cwd` is where ketchup ran."""
    settings = payload["settings"]
    snapshot = settings.get("snapshot")
    return JobSpec(
        jobid, jobname, payload["sample"]["identifier"],
        tuple(StepSpec(i, step["component_role"], task_of(step))
              for i, step in enumerate(payload["method"])),
        _place(settings.get("output"), cwd, f"results.{jobid}"),
        Snapshots(_place(snapshot, cwd, f"snapshot.{jobid}"), float(snapshot["interval"]))
        if snapshot else None,
        bool(settings.get("unlock_when_done", False)),
        settings.get("verbosity") or "WARNING")


def _place(options: dict[str, Any] | None, cwd: str, prefix: str) -> Place:
    """The payload's `output` or `snapshot` folder (relative to `cwd`) and prefix."""
    options = options or {}
    folder = (Path(cwd) / (options.get("path") or ".")).resolve()
    return Place(str(folder), options.get("prefix") or prefix)


MAX_NAME = 256


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


def check_method(version: str, payload: dict[str, Any], filename: str,
                 techniques: dict[str, Technique]) -> None:
    """Check every step against the techniques the devices offer. Raises PayloadError
    naming the field as the user's version spells it."""
    method = payload["method"]
    if not method:
        raise PayloadError(f"{filename}: method: needs at least one step",
                           {"file": filename, "field": "method"})
    for i, step in enumerate(method):
        technique = techniques.get(step["technique_name"])
        if technique is None:
            where = field_name(version, ("method", i, "technique_name"))
            raise PayloadError(
                f"{filename}: {where}: no device can do technique "
                f"{step['technique_name']!r} (known: {', '.join(sorted(techniques))})",
                {"file": filename, "field": where})
        try:
            check_task(technique, task_of(step))
        except ParameterError as exc:
            key = exc.details.get("field", "")
            path = (("method", i, key) if key in step or version.startswith("0.")
                    else ("method", i, "task_params", key))
            where = field_name(version, path)
            raise PayloadError(f"{filename}: {where}: {exc.message}",
                               {"file": filename, "field": where}) from None
