"""Job outputs: the archive (zip) and the datagram (yadg → NetCDF), final or snapshot."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

MANIFEST = "datafiles.json"


def write_manifest(jobdir: Path, entries: list[dict[str, Any]]) -> None:
    """Record which raw data files exist and their columns (atomically replaced)."""
    tmp = jobdir / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(entries, indent=1))
    tmp.replace(jobdir / MANIFEST)


def build_outputs(jobdir: Path, outdir: Path, prefix: str, *, status: str | None = None
                  ) -> tuple[Path, Path]:
    """Write `<outdir>/<prefix>.zip`, then `<prefix>.nc`; returns (datagram, archive).

    The archive is written first, so it exists even when yadg fails on the data.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    jobdata = json.loads((jobdir / "jobdata.json").read_text())
    entries = json.loads((jobdir / MANIFEST).read_text()) if (jobdir / MANIFEST).exists() else []
    with tempfile.TemporaryDirectory(prefix=".tomato-out-", dir=outdir) as tmp:
        frozen = _freeze(jobdir, Path(tmp), entries)
        archive = outdir / f"{prefix}.zip"
        sha1 = _write_archive(jobdir, frozen, archive, Path(tmp))
        datagram = outdir / f"{prefix}.nc"
        _write_datagram(jobdata, entries, frozen, datagram, sha1, status, Path(tmp))
    return datagram, archive


def _freeze(jobdir: Path, tmp: Path, entries: list[dict[str, Any]]) -> dict[str, Path]:
    """Copy each raw file up to its last complete line: a stable view of a growing file."""
    frozen = {}
    for entry in entries:
        data = (jobdir / entry["file"]).read_bytes()
        copy = tmp / entry["file"]
        copy.write_bytes(data[: data.rfind(b"\n") + 1])
        frozen[entry["file"]] = copy
    return frozen


def _write_archive(jobdir: Path, frozen: dict[str, Path], archive: Path, tmp: Path) -> str:
    partial = tmp / archive.name
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, path in frozen.items():
            zf.write(path, name)
        for name in ("jobdata.json", "jobdata.log"):
            if (jobdir / name).exists():
                zf.write(jobdir / name, name)
    digest = hashlib.sha1(partial.read_bytes()).hexdigest()
    os.replace(partial, archive)
    return digest


def _write_datagram(jobdata: dict[str, Any], entries: list[dict[str, Any]],
                    frozen: dict[str, Path], datagram: Path, sha1: str, status: str | None,
                    tmp: Path) -> None:
    import yadg
    from dgbowl_schemas.yadg import DataSchema_7_0
    from yadg.core import process_schema

    from .. import __version__

    schema = DataSchema_7_0(
        version="7.0", metadata={"provenance": {"type": "tomato", "version": __version__}},
        step_defaults={"timezone": "UTC", "locale": "en_US", "encoding": "utf-8"},
        steps=[{"tag": e["tag"], "extractor": {"filetype": "basic.csv"},
                "input": {"files": [str(frozen[e["file"]])]}} for e in entries])
    tree = process_schema(schema, strict_merge=True)
    for entry in entries:
        ds = tree[entry["tag"]].to_dataset()
        for col in entry["columns"]:
            if col["name"] in ds and col.get("uncertainty") is not None:
                ds[f"{col['name']}_uncertainty"] = ((), float(col["uncertainty"]),
                                                    {"units": col["unit"],
                                                     "long_name": "instrumental uncertainty"})
                ds[col["name"]].attrs.update(units=col["unit"],
                                             ancillary_variables=f"{col['name']}_uncertainty")
        ds.attrs.update(step=entry["step"], role=entry["role"], technique=entry["technique"])
        tree[entry["tag"]].dataset = ds
    tree.attrs.update({
        "jobid": jobdata["jobid"], "jobname": jobdata.get("jobname") or "",
        "sample": jobdata["sample"], "pipeline": jobdata["pipeline"]["name"],
        "payload": json.dumps(jobdata["payload"]), "status": status or "",
        "tomato_version": __version__, "yadg_version": yadg.__version__
        if hasattr(yadg, "__version__") else tree.attrs.get("yadg_version", ""),
        "archive": datagram.with_suffix(".zip").name, "archive_sha1": sha1,
    })
    partial = tmp / datagram.name
    tree.to_netcdf(partial, engine="netcdf4")
    shutil.move(partial, datagram)


def warm_up() -> None:
    """Make the outputs of a two-point job once, in a temporary folder, so that the first
    real job does not pay for what loads on first use (yadg's extractor, babel's locale
    data, the NetCDF library): about 50 ms."""
    with tempfile.TemporaryDirectory(prefix="tomato-warm-up-") as tmp:
        jobdir = Path(tmp)
        (jobdir / "jobdata.json").write_text(json.dumps(
            {"jobid": 0, "sample": "", "pipeline": {"name": ""}, "payload": {}}))
        (jobdir / "00-w.csv").write_text("uts,value\ns,V\n1.0,0.5\n2.0,0.25\n")
        write_manifest(jobdir, [{"file": "00-w.csv", "tag": "00-w", "step": 0, "role": "w",
                                 "technique": "w", "columns": [
                                     {"name": "value", "unit": "V", "uncertainty": 0.1}]}])
        build_outputs(jobdir, jobdir / "out", "warm-up")


def one_line(exc: BaseException) -> str:
    """An error as one line, for the job log and `ketchup status`."""
    return f"{type(exc).__name__}: {exc}".splitlines()[0]
