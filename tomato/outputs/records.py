"""Reading a free-form step's raw data (JSON Lines, see tomato.rawdata) into a Dataset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_records(path: Path) -> Any:
    """The points of a JSON Lines raw file as an xarray Dataset along `uts` (None if it has
    none); points whose layout differs (e.g. a spectrum of another length) are joined with
    their values outer-aligned."""
    chunks: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    layout: dict[str, Any] = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                break  # torn by a crash mid-write
            record = json.loads(line)
            if "uts" not in record:
                layout = record
                chunks.append((layout, []))
            elif chunks:
                chunks[-1][1].append(record)
    datasets = [_dataset(layout, points) for layout, points in chunks if points]
    return along_uts(datasets) if datasets else None


def along_uts(datasets: list[Any]) -> Any:
    """Datasets one after the other along `uts`, variables and coordinates outer-aligned
    (a variable one of them lacks is NaN there)."""
    import xarray as xr

    if len(datasets) == 1:
        return datasets[0]
    return xr.concat(datasets, dim="uts", join="outer", data_vars="minimal",
                     coords="minimal", compat="override")


def _dataset(layout: dict[str, Any], points: list[dict[str, Any]]) -> Any:
    import xarray as xr

    units, dims = layout.get("units", {}), layout.get("dims", {})
    names = list(dict.fromkeys(k for p in points for k in p if k != "uts"))
    data_vars = {
        name: (["uts", *dims.get(name, ())], _storable([p.get(name) for p in points]),
               {"units": units[name]} if name in units else {})
        for name in names}
    coords: dict[str, Any] = {"uts": ("uts", [p["uts"] for p in points], {"units": "s"})}
    for name, values in layout.get("coords", {}).items():
        coords[name] = (name, values, {"units": units[name]} if name in units else {})
    return xr.Dataset(data_vars, coords)


def _storable(values: list[Any]) -> list[Any]:
    """Values NetCDF can hold: a variable of records (a driver's pydantic model, e.g. a
    sweep's settings) as their JSON text, "" where there is none."""
    if any(isinstance(v, dict) for v in values):
        return ["" if v is None else json.dumps(v) for v in values]
    return values
