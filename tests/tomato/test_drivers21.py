"""tomato 2.x driver packages (DriverInterface 2.1) run unchanged: tomato 2.2's own driver
cases, black-box through the service and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import WARM, Terminal, new_service, open_datagram, private_env, stop_all, until


def counter_payload(*steps: tuple[float, float], **settings) -> dict:
    return {"version": "2.2", "sample": {"identifier": "s1"}, "user": {"identifier": "lab"},
            "settings": {"unlock_when_done": True, **settings},
            "method": [{"component_role": "counter", "technique_name": "count",
                        "max_duration": duration, "sampling_interval": interval}
                       for duration, interval in steps]}


def records(path: Path) -> list[dict]:
    return [r for r in map(json.loads, path.read_text().splitlines()) if "uts" in r]



@pytest.mark.parametrize(("steps", "points"), [
    ([(1, 0.1)], 10), ([(2, 0.2)], 10), ([(1, 0.1), (1, 0.2)], 15)])
def test_counter_counts_as_in_tomato_2_2(multi, steps, points):
    lab = multi
    lab.prepare("pip-multi", "s1")
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


TWO_DEVICES = """
devices:
  - {name: dev-counter, driver: example_counter, address: example-addr, channels: ["1"]}
  - {name: dev-psutil, driver: psutil, address: null, channels: ["0"]}
  - {name: dev-trig, driver: example_trig, address: trig-addr, channels: ["1"]}
pipelines:
  - name: pip-multi
    components:
      - {role: counter, device: dev-counter, channel: "1"}
      - {role: psutil, device: dev-psutil, channel: "0"}
  - name: pip-trig
    components:
      - {role: trig, device: dev-trig, channel: "1"}
"""


def step(role: str, technique: str, duration: float, interval: float, **extra) -> dict:
    return {"component_role": role, "technique_name": technique,
            "max_duration": duration, "sampling_interval": interval, **extra}


def payload22(*steps: dict, sample: str = "s1") -> dict:
    return {"version": "2.2", "sample": {"identifier": sample}, "user": {"identifier": "lab"},
            "settings": {"unlock_when_done": True}, "method": list(steps)}


@pytest.fixture(scope="module")
def multi(tmp_path_factory, runtime_base):
    """One service with a counter + psutil pipeline and a trig pipeline."""

    root = tmp_path_factory.mktemp("multi")
    service = new_service(root / "lab", private_env(root, runtime_base), TWO_DEVICES,
                          f"{WARM}[drivers.psutil]\nidle_measurement_interval = 0.3\n").start()
    yield service
    stop_all([service])


def run(lab, body: dict, pipeline: str = "pip-multi") -> dict:
    lab.prepare(pipeline, "s1")
    jobid = lab.submit(body)
    job = lab.wait_status(jobid, "c", "ce", "cd")
    assert job["status"] == "c", job
    return job


def test_a_step_starts_with_the_step_it_names(multi):
    job = run(multi, payload22(step("psutil", "mem_info", 1, 0.5),
                               step("psutil", "mem_info", 1, 0.5, task_name="trigger"),
                               step("counter", "count", 1, 0.1,
                                    start_with_task_name="trigger")))
    psutil_steps = [records(f) for f in multi.data_files(job["jobid"]) if "psutil" in f.name]
    [counter] = [records(f) for f in multi.data_files(job["jobid"]) if "counter" in f.name]
    assert len(counter) == 10
    trigger_start = psutil_steps[1][0]["uts"]
    assert abs(counter[0]["uts"] - trigger_start) < 0.5  # not at the job's start, 1 s before
    assert counter[0]["uts"] - psutil_steps[0][0]["uts"] > 0.8


def test_a_step_stops_when_the_step_it_names_starts(multi):
    job = run(multi, payload22(step("psutil", "mem_info", 1, 0.5),
                               step("psutil", "mem_info", 1, 0.5, task_name="trigger"),
                               step("counter", "count", 5, 0.2, stop_with_task_name="trigger")))
    [counter] = [records(f) for f in multi.data_files(job["jobid"]) if "counter" in f.name]
    assert 3 <= len(counter) <= 8  # about 1 s of its 5 s


def test_two_dimensional_data_reach_the_datagram_with_their_abscissa(multi):
    job = run(multi, payload22(step("trig", "trig_function", 1, 0.25,
                                    task_params={"function": "cos", "points": 50})),
              "pip-trig")
    tree = open_datagram(Path(job["jobpath"]).parent.parent / f"results.{job['jobid']}.nc")
    trig = tree["trig"]
    assert trig["ordinate"].dims == ("uts", "abscissa")
    assert trig.sizes["abscissa"] == 50 and trig.sizes["uts"] == 4
    assert set(trig["function"].values.tolist()) == {"cos"}
    assert trig["abscissa"].values[-1] == pytest.approx(6.283185, abs=1e-5)


@pytest.mark.parametrize(("params", "expected"), [
    ({"param": "0.05 s"}, "method[0].task_params.param: must be >= 0.1 second"),
    ({"param": "5 kg"}, "method[0].task_params.param: cannot take '5 kg' as seconds"),
    ({"choice": "pink"}, "method[0].task_params.choice: must be one of blue, green, red"),
    ({"max": "lots"}, "method[0].task_params.max: must be of type float, got 'lots'"),
    ({"colour": 1}, "method[0].task_params.colour: technique 'count' has no parameter"),
])
def test_task_params_the_driver_refuses_are_refused_at_submit(multi, params, expected):
    body = payload22(step("counter", "count", 1, 0.1, task_params=params))
    (multi.root / "p.json").write_text(json.dumps(body))
    result = multi.ketchup("submit", "p.json", check=False)
    assert result.returncode == 3 and expected in result.stderr, result.stderr


def test_task_params_set_the_component_attrs_before_the_task(multi):
    job = run(multi, payload22(step("counter", "random", 1, 0.2,
                                    task_params={"min": 5, "max": "6", "param": "2 min"})))
    [counter] = [records(f) for f in multi.data_files(job["jobid"])]
    assert all(5 <= r["val"] <= 6 and r["param"] == 120 for r in counter)


def test_five_queued_jobs_with_unlock_when_done_run_in_order(multi):
    multi.prepare("pip-multi", "s1")
    jobids = [multi.submit(payload22(step("counter", "count", 0.2, 0.1))) for _ in range(5)]
    jobs = [multi.wait_status(j, "c", "ce", "cd") for j in jobids]
    assert [j["status"] for j in jobs] == ["c"] * 5
    executed = [j["executed"] for j in jobs]
    assert executed == sorted(executed)
    assert all(len(records(f)) == 2 for j in jobids for f in multi.data_files(j))


def test_a_cancelled_counter_job_stops_within_seconds_and_keeps_its_data(multi):
    multi.prepare("pip-multi", "s1")
    jobid = multi.submit(payload22(step("counter", "count", 60, 0.1)))
    multi.wait_status(jobid, "r")
    multi.wait_points(jobid, 3)
    multi.ketchup("cancel", str(jobid))
    job = multi.wait_status(jobid, "cd", timeout=5)
    [data] = multi.data_files(jobid)
    tree = open_datagram(Path(job["outputs"][0]))
    assert tree["counter"].sizes["uts"] == len(records(data)) >= 3
    # The component is free again: the next job runs on it.
    run(multi, payload22(step("counter", "count", 0.2, 0.1)))


def test_snapshots_of_a_running_counter_job_have_its_attrs(multi, tmp_path):
    multi.prepare("pip-multi", "s1")
    body = payload22(step("counter", "count", 3, 0.1))
    body["settings"]["snapshot"] = {"interval": 1, "path": str(tmp_path), "prefix": "every"}
    jobid = multi.submit(body)
    multi.wait_points(jobid, 3)
    multi.ketchup("snapshot", str(jobid), cwd=tmp_path)  # on demand
    snap = open_datagram(tmp_path / f"snapshot.{jobid}.nc")["counter"]
    until((tmp_path / "every.nc").exists, 10, "a periodic snapshot")
    periodic = open_datagram(tmp_path / "every.nc")["counter"]
    job = multi.wait_status(jobid, "c")
    final = open_datagram(Path(job["outputs"][0]))["counter"]
    attrs = {"val", "min", "max", "param", "choice", "step"}
    assert set(snap.data_vars) == set(periodic.data_vars) == set(final.data_vars) >= attrs
    assert 3 <= snap.sizes["uts"] < final.sizes["uts"] == 30
    assert 0 < periodic.sizes["uts"] <= 30


def component(lab, *args: str, code: int = 0) -> dict:
    result = lab.ketchup("component", *args, "--json", check=False)
    assert result.returncode == code, result.stderr
    if code:
        return result.stderr
    found = json.loads(result.stdout)
    assert found is not None, (args, result.stdout, result.stderr)
    return found


def test_components_are_listed_with_their_pipelines(multi):
    rows = {r["name"]: r for r in component(multi, "list")}
    assert set(rows) == {"dev-counter:1", "dev-psutil:0", "dev-trig:1"}
    assert rows["dev-counter:1"]["pipelines"] == ["pip-multi"]
    assert rows["dev-counter:1"]["driver"] == "example_counter"
    assert "no component named" in component(multi, "show", "dev-counter:9", code=4)


def test_a_component_shows_its_attrs_capabilities_and_constants(multi):
    info = component(multi, "show", "dev-counter:1")
    assert info["running"] is False and info["driver"] == "example_counter"
    assert info["capabilities"] == ["count", "random"]
    assert info["constants"] == {"example_meta": "example string"}
    attrs = {a["name"]: a for a in info["attrs"]}
    assert attrs["param"]["unit"] == "seconds" and attrs["param"]["minimum"] == 0.1
    assert attrs["choice"]["options"] == ["blue", "green", "red"] and attrs["choice"]["rw"]
    # tomato 2.x's name for it works too (passata's scripts use it).
    assert component(multi, "show", "example_counter:(example-addr,1)") == info
    trig = component(multi, "show", "dev-trig:1")
    assert set(trig["status"]) == {"points", "function"}  # its status attrs


def test_attrs_are_set_checked_by_the_driver_and_read_back(multi):
    assert component(multi, "set", "dev-trig:1", "points", "20")["values"] == {"points": 20}
    assert component(multi, "get", "dev-trig:1", "points")["values"] == {"points": 20}
    assert "must be one of cos, sin, tan" in component(multi, "set", "dev-trig:1",
                                                       "function", "exp", code=3)
    assert "unknown attr" in component(multi, "set", "dev-trig:1", "colour", "red", code=3)
    got = component(multi, "set", "dev-counter:1", "param", "2 min")
    assert got["values"] == {"param": 120.0} and got["units"] == {"param": "second"}
    # The driver lives on: a one-shot measurement works, with the new attrs.
    point = component(multi, "measure", "dev-trig:1")["point"]
    assert len(point[1]["ordinate"]) == 20 and point[1]["points"] == 20
    assert component(multi, "data", "dev-trig:1")["point"] == point
    component(multi, "set", "dev-trig:1", "points", "100")


def test_a_component_in_a_running_job_is_changed_only_by_force(multi):
    multi.prepare("pip-multi", "s1")
    jobid = multi.submit(payload22(step("counter", "count", 30, 0.2)))
    multi.wait_status(jobid, "r")
    assert "used by running job" in component(multi, "set", "dev-counter:1", "max", "7",
                                              code=5)
    assert "is running task" in component(multi, "measure", "dev-counter:1", code=5)
    assert "used by running job" in component(multi, "reset", "dev-counter:1", code=5)
    assert "used by running job" in component(multi, "register", "dev-counter:1", code=5)
    assert component(multi, "set", "dev-counter:1", "max", "7", "--force")["values"] == {
        "max": 7.0}
    multi.ketchup("cancel", str(jobid))
    multi.wait_status(jobid, "cd")


def test_idle_components_are_measured_at_the_interval_their_driver_settings_give(multi):
    first = until(lambda: component(multi, "data", "dev-psutil:0")["point"], 10,
                  "an idle measurement")
    assert 0 < first[1]["mem_usage"] <= 100
    later = until(lambda: (p := component(multi, "data", "dev-psutil:0")["point"]) and
                  p[0] > first[0] and p, 10, "the next idle measurement")
    assert later[0] - first[0] < 5  # 0.3 s from settings.toml, not the driver's 10 s


def test_watch_shows_the_idle_measurements_of_a_pipeline_with_no_job(multi):

    term = Terminal(multi, "watch", cols=200)
    row = term.wait_for(lambda t: any(line.startswith(" pip-multi") and "mem_usage=" in line
                                      and "percent" in line for line in t.splitlines()),
                        what="pip-multi's idle psutil values")
    assert "-" in row
    term.child.sendintr()
    assert term.exit_code() == 0
    assert "Traceback" not in term.history


def test_a_counter_job_writes_its_outputs_where_its_payload_says(multi, tmp_path):
    body = payload22(step("counter", "count", 0.5, 0.1))
    body["settings"]["output"] = {"path": "results", "prefix": "counted"}
    (tmp_path / "p.json").write_text(json.dumps(body))
    multi.prepare("pip-multi", "s1")
    jobid = int(multi.ketchup("submit", "p.json", cwd=tmp_path).stdout.split()[-1])
    assert multi.wait_status(jobid, "c", "ce")["status"] == "c"
    tree = open_datagram(tmp_path / "results" / "counted.nc")
    assert tree["counter"].sizes["uts"] == 5
    assert (tmp_path / "results" / "counted.zip").exists()
