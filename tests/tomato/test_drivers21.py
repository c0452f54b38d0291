"""tomato 2.x driver packages (DriverInterface 2.1) run unchanged: tomato 2.2's own driver
cases, black-box through the service and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import xarray as xr

pytest.importorskip("tomato_example_counter")

COUNTER = """
devices:
  - name: dev-counter
    driver: example_counter
    address: example-addr
    channels: ["1"]
    pollrate: 1
pipelines:
  - name: pip-counter
    components:
      - role: counter
        device: dev-counter
        channel: "1"
"""


def counter_payload(*steps: tuple[float, float], **settings) -> dict:
    return {"version": "2.2", "sample": {"identifier": "s1"}, "user": {"identifier": "lab"},
            "settings": {"unlock_when_done": True, **settings},
            "method": [{"component_role": "counter", "technique_name": "count",
                        "max_duration": duration, "sampling_interval": interval}
                       for duration, interval in steps]}


def records(path: Path) -> list[dict]:
    return [r for r in map(json.loads, path.read_text().splitlines()) if "uts" in r]


def open_datagram(path: Path) -> xr.DataTree:
    with xr.open_datatree(path) as tree:
        return tree.load()


@pytest.mark.parametrize(("steps", "points"), [
    ([(1, 0.1)], 10), ([(5, 0.2)], 25), ([(1, 0.1), (1, 0.2)], 15)])
def test_counter_counts_as_in_tomato_2_2(tomato_factory, steps, points):
    lab = tomato_factory(COUNTER)
    lab.prepare("pip-counter", "s1")
    jobid = lab.submit(counter_payload(*steps))
    job = lab.wait_status(jobid, "c", "ce")
    assert job["status"] == "c", job
    files = lab.data_files(jobid)
    assert [f.suffix for f in files] == [".jsonl"] * len(steps)
    assert sum(len(records(f)) for f in files) == points
    tree = open_datagram(lab.root / f"results.{jobid}.nc")
    counter = tree["counter"]
    assert counter.sizes["uts"] == points
    assert sorted(set(counter["step"].values.tolist())) == list(range(len(steps)))
    # Every attr of the component is recorded per point, with its units.
    assert counter["param"].attrs["units"] == "second"
    assert set(counter["choice"].values.tolist()) == {"green"}
    component = json.loads(counter.attrs["tomato_Component"])
    assert component["driver"] == "example_counter"
    assert component["address"] == "example-addr" and component["channel"] == "1"
    assert set(component["capabilities"]) == {"count", "random"}
    assert json.loads(tree.attrs["tomato_Job"])["jobid"] == jobid
