"""Job outputs: the archive (zip) and the datagram (yadg → NetCDF), final or snapshot."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

from ..jobfolder import JOB_LOG, JOB_RECORD
from ..jobspec import JobSpec, Place, StepSpec
from ..processmessages import MakeOutputs
from .deliver import deliver
from .records import along_uts, read_records


def build_outputs(request: MakeOutputs) -> tuple[list[Path], list[str]]:
    """Write `<place>.zip`, then `<place>.nc`; returns the files written and notes (a name
    changed because the file was there already and not the job's).

    They are made in a private temporary folder, then delivered as the place's owner could
    write them (`deliver`): nothing half-made is ever left where the user looks. That folder
    is in the job's folder (as large as the data, on its disk), or in the system's
    temporary folder when the job folder's disk lacks the room. The steps are those of the
    spec whose raw data file exists (a step that has not started has none). The archive is
    delivered first, so it arrives even when yadg fails on the data.
    """
    jobdir = Path(request.jobdir)
    steps = [s for s in request.spec.steps if (jobdir / s.datafile).exists()]
    need = sum((jobdir / s.datafile).stat().st_size for s in steps) * 4 + ROOM
    if shutil.disk_usage(jobdir).free >= need:
        try:
            return _build(request, steps, jobdir)
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
    return _build(request, steps, None)


ROOM = 16 * 1024 * 1024
"""Bytes kept free beyond four times the raw data when outputs are made in a job folder."""


def _build(request: MakeOutputs, steps: list[StepSpec], where: Path | None
           ) -> tuple[list[Path], list[str]]:
    """`build_outputs`, made in a private folder in `where` (None: the system's)."""
    jobdir, outdir = Path(request.jobdir), Path(request.place.folder)
    files: list[Path] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix=".tomato-out-", dir=where) as tmp:
        staged = Path(tmp) / "staged"
        staged.mkdir()
        frozen = _freeze(jobdir, Path(tmp), steps)
        archive = staged / f"{request.place.prefix}.zip"
        sha1 = _write_archive(jobdir, frozen, archive, Path(tmp))
        for paths in ([archive], [staged / f"{request.place.prefix}.nc"]):
            if paths[0].suffix == ".nc":
                _write_datagram(request, steps, frozen, paths[0], sha1, Path(tmp))
            written, said = deliver(paths, outdir, request.place.owner, jobdir,
                                    request.spec.jobid)
            files = written + files  # the datagram first, then the archive
            notes += said
    return files, notes


def _freeze(jobdir: Path, tmp: Path, steps: list[StepSpec]) -> dict[str, Path]:
    """Copy each raw file up to its last complete line: a stable view of a growing file."""
    frozen = {}
    for step in steps:
        data = (jobdir / step.datafile).read_bytes()
        copy = tmp / step.datafile
        copy.write_bytes(data[: data.rfind(b"\n") + 1])
        frozen[step.datafile] = copy
    return frozen


def _write_archive(jobdir: Path, frozen: dict[str, Path], archive: Path, tmp: Path) -> str:
    partial = tmp / archive.name
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, path in frozen.items():
            zf.write(path, name)
        for name in (JOB_RECORD, JOB_LOG):
            if (jobdir / name).exists():
                zf.write(jobdir / name, name)
    digest = hashlib.sha1(partial.read_bytes()).hexdigest()
    os.replace(partial, archive)
    return digest


def _write_datagram(request: MakeOutputs, steps: list[StepSpec], frozen: dict[str, Path],
                    datagram: Path, sha1: str, tmp: Path) -> None:
    """One group per component role, its steps one after the other along `uts` (told apart
    by the `step` variable): the layout tomato 2.x's analysis scripts read."""
    import xarray as xr

    from .. import __version__

    data = {**_tables([s for s in steps if not s.free_form], frozen),
            **{s.index: read_records(frozen[s.datafile]) for s in steps if s.free_form}}
    groups: dict[str, list[Any]] = {}
    for step in steps:
        if (ds := data.get(step.index)) is not None and ds.sizes.get("uts"):
            groups.setdefault(step.role, []).append(
                ds.assign(step=("uts", [step.index] * ds.sizes["uts"])))
    tree = xr.DataTree()
    spec = request.spec
    for role, parts in groups.items():
        ds = along_uts(parts)
        ds["uts"].attrs["units"] = "s"  # Unix time, whatever the driver
        ds.attrs = {"role": role, "tomato_Component": _component(spec, role),
                    "tomato_Steps": json.dumps([_step(s) for s in spec.steps if s.role == role])}
        tree[role] = xr.DataTree(ds)
    record = Path(request.jobdir) / JOB_RECORD
    tree.attrs.update({
        "jobid": spec.jobid, "jobname": spec.jobname or "", "sample": spec.sample,
        "pipeline": spec.pipeline or "", "status": request.status or "",
        # The job record as the user's archive holds it (payload, ids, times).
        "tomato_Job": record.read_text() if record.exists() else "{}",
        "tomato_version": __version__, "yadg_version": version("yadg"),
        "archive": datagram.with_suffix(".zip").name, "archive_sha1": sha1,
    })
    partial = tmp / datagram.name
    tree.to_netcdf(partial, engine="netcdf4")
    os.replace(partial, datagram)  # never into a folder of that name, as shutil.move would


def _tables(steps: list[StepSpec], frozen: dict[str, Path]) -> dict[int, Any]:
    """The CSV steps read by yadg, each column with its units and uncertainty."""
    if not steps:
        return {}
    import numpy as np
    from dgbowl_schemas.yadg import DataSchema_7_0
    from yadg.core import process_schema

    from .. import __version__

    schema = DataSchema_7_0(
        version="7.0", metadata={"provenance": {"type": "tomato", "version": __version__}},
        step_defaults={"timezone": "UTC", "locale": "en_US", "encoding": "utf-8"},
        steps=[{"tag": _tag(s), "extractor": {"filetype": "basic.csv"},
                "input": {"files": [str(frozen[s.datafile])]}} for s in steps])
    tree = process_schema(schema, strict_merge=True)
    found = {}
    for step in steps:
        ds = tree[_tag(step)].to_dataset()
        for col in step.columns:
            if col.name in ds and col.uncertainty is not None:
                ds[f"{col.name}_uncertainty"] = (
                    "uts", np.full(ds.sizes["uts"], float(col.uncertainty)),
                    {"units": col.unit, "long_name": "instrumental uncertainty"})
                ds[col.name].attrs.update(units=col.unit,
                                          ancillary_variables=f"{col.name}_uncertainty")
        ds.attrs = {}
        found[step.index] = ds
    return found


def _component(spec: JobSpec, role: str) -> str:
    """The component of `role` as tomato 2.x describes it, and its name as 3.0 gives it
    (`driver:address:channel`), in JSON."""
    c = next((c for c in spec.components if c.role == role), None)
    if c is None:
        return "{}"
    return json.dumps({"role": role, "device": c.device, "driver": c.driver,
                       "address": c.address, "channel": c.channel,
                       "name": f"{c.driver}:{c.address or ''}:{c.channel}",
                       "capabilities": list(c.capabilities)})


def _step(step: StepSpec) -> dict[str, Any]:
    task = step.task
    return {"step": step.index, "technique_name": task.technique,
            "max_duration": task.max_duration, "sampling_interval": task.sampling_interval,
            "task_params": task.params, "task_name": step.name,
            "start_with_task_name": step.start_with, "stop_with_task_name": step.stop_with}


def _tag(step: StepSpec) -> str:
    """The step's group in the datagram: its raw data file's name, without the suffix."""
    return Path(step.datafile).stem


def warm_up() -> None:
    """Make the outputs of a two-point job once, in a temporary folder, so that the first
    real job does not pay for what loads on first use (yadg's extractor, babel's locale
    data, the NetCDF library)."""
    from tomato.drivers import Column, Task

    with tempfile.TemporaryDirectory(prefix="tomato-warm-up-") as tmp:
        step = StepSpec(0, "w", Task("w", 2.0, 1.0), (Column("value", "V", 0.1),))
        (Path(tmp) / step.datafile).write_text("uts,value\ns,V\n1.0,0.5\n2.0,0.25\n")
        spec = JobSpec(0, None, "", (step,), Place(tmp, "warm-up"))
        build_outputs(MakeOutputs(tmp, spec, Place(f"{tmp}/out", "warm-up")))


def one_line(exc: BaseException) -> str:
    """An error as one line, for the job log and `ketchup status`."""
    return f"{type(exc).__name__}: {exc}".splitlines()[0]
