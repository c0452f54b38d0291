"""The registry's DriverInterface 3.0 releases (tomato-example-counter 3.0.0rc5,
tomato-psutil 3.0.0rc2) run unchanged, beside a 2.1 driver in one pipeline: tomato 2.2's
driver cases, black-box through the service and the CLI; and a 3.0 driver whose component
stops (tests/drivers30/tomato_faulty30) is reset and its step goes on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import WARM, new_service, open_datagram, private_env, stop_all, until, with_path
from test_drivers21 import payload22, records, step

FAKES = Path(__file__).parent.parent / "drivers30"

LAB = """
devices:
  - {name: dev-counter, driver: example_counter, address: example-addr, channels: ["1"]}
  - {name: dev-psutil, driver: psutil, address: null, channels: ["0"]}
  - {name: dev-trig, driver: example_trig, address: trig-addr, channels: ["1"]}
  - {name: dev-faulty, driver: faulty30, address: bench-3, channels: ["1", "2"]}
pipelines:
  - name: pip-multi
    components:
      - {role: counter, device: dev-counter, channel: "1"}
      - {role: psutil, device: dev-psutil, channel: "0"}
      - {role: trig, device: dev-trig, channel: "1"}
  - name: pip-faulty
    components: [{role: probe, device: dev-faulty, channel: "1"}]
"""


@pytest.fixture(scope="module")
def lab30(tmp_path_factory, runtime_base, drivers30):
    """One service: the 3.0 counter and psutil with the 2.1 trig in one pipeline, and a
    faulty 3.0 driver. psutil measures idle components every second (its rc2 dies of
    it)."""
    root = tmp_path_factory.mktemp("lab30")
    env = with_path(private_env(root, runtime_base), drivers30, FAKES)
    service = new_service(root / "lab", env, LAB,
                          f"{WARM}[drivers.psutil]\nidle_measurement_interval = 1\n").start()
    yield service
    stop_all([service])


def run(lab, body: dict, pipeline: str = "pip-multi", status: str = "c") -> dict:
    lab.prepare(pipeline, "s1")
    job = lab.wait_status(lab.submit(body), "c", "ce", "cd")
    assert job["status"] == status, job
    return job


def files_of(lab, job: dict, role: str) -> list[list[dict]]:
    return [records(f) for f in lab.data_files(job["jobid"]) if f"-{role}-" in f.name]


def test_the_drivers_are_hosted_by_their_interface(lab30):
    devices = {d["name"]: d for d in lab30.json_of("tomato", "status", "devices")}
    assert {d["state"] for d in devices.values()} == {"running"}, devices
    log = lab30.log.read_text()
    assert "Traceback" not in log


@pytest.mark.parametrize(("steps", "points"), [
    ([(1, 0.1)], 10), ([(2, 0.2)], 10), ([(1, 0.1), (1, 0.2)], 15)])
def test_counter_counts_as_in_tomato_2_2(lab30, steps, points):
    job = run(lab30, payload22(*(step("counter", "count", d, i) for d, i in steps)))
    assert sum(len(r) for r in files_of(lab30, job, "counter")) == points
    tree = open_datagram(Path(job["outputs"][0]))
    counter = tree["counter"]
    assert counter.sizes["uts"] == points
    assert counter["uts"].attrs["units"] == "s"
    assert counter["param"].attrs["units"] == "second"
    assert set(counter["choice"].values.tolist()) == {"green"}
    component = json.loads(counter.attrs["tomato_Component"])
    assert component["name"] == "example_counter:example-addr:1"  # as 3.0 names it
    assert component["driver"] == "example_counter" and component["channel"] == "1"
    assert set(component["capabilities"]) == {"count", "random"}


def test_a_2_1_and_a_3_0_driver_run_one_job_in_one_pipeline(lab30):
    job = run(lab30, payload22(step("counter", "count", 1, 0.2),
                               step("psutil", "mem_info", 1, 0.25),
                               step("trig", "trig_function", 1, 0.25)))
    tree = open_datagram(Path(job["outputs"][0]))
    assert tree["counter"].sizes["uts"] == 5 and tree["psutil"].sizes["uts"] == 4
    assert tree["trig"]["ordinate"].dims == ("uts", "abscissa")
    assert tree["psutil"]["mem_usage"].attrs["units"] == "percent"
    assert json.loads(tree["psutil"].attrs["tomato_Component"])["name"] == "psutil::0"
    for role in ("counter", "psutil", "trig"):
        assert tree[role]["uts"].attrs["units"] == "s"


def test_psutil_after_its_first_idle_measurement_killed_its_thread_runs_to_c(lab30):
    """tomato-psutil 3.0.0rc2's idle measurement reads `self.task`, which only a task
    sets: its thread dies, and a host trusting `can_submit` hangs the next job."""
    until(lambda: "its thread ends: AttributeError" in lab30.log.read_text(), 20,
          "psutil's first idle measurement to kill its thread")
    job = run(lab30, payload22(step("psutil", "all_info", 1, 0.2)))
    [points] = files_of(lab30, job, "psutil")
    assert len(points) == 5 and all(0 < p["mem_usage"] <= 100 for p in points)


def test_a_step_starts_and_stops_with_the_steps_it_names(lab30):
    job = run(lab30, payload22(step("psutil", "mem_info", 1, 0.5),
                               step("psutil", "mem_info", 1, 0.5, task_name="trigger"),
                               step("counter", "count", 1, 0.1,
                                    start_with_task_name="trigger"),
                               step("trig", "trig_function", 5, 0.2,
                                    stop_with_task_name="trigger")))
    first, trigger = files_of(lab30, job, "psutil")
    [counter] = files_of(lab30, job, "counter")
    [trig] = files_of(lab30, job, "trig")
    assert len(counter) == 10
    # A 3.0 task's first point is one sampling interval after its start: the counter's
    # at trigger + 0.1 s, the trigger's at + 0.5 s, the first psutil step's at job + 0.5 s.
    assert abs(counter[0]["uts"] - trigger[0]["uts"] + 0.4) < 0.3
    assert counter[0]["uts"] - first[0]["uts"] > 0.3  # not with the job: 1 s later
    assert 3 <= len(trig) <= 8  # about 1 s of its 5 s


@pytest.mark.parametrize(("params", "expected"), [
    ({"param": "0.05 s"}, "method[0].task_params.param: must be >= 0.1 second"),
    ({"param": "5 kg"}, "method[0].task_params.param: cannot take '5 kg' as seconds"),
    ({"choice": "pink"}, "method[0].task_params.choice: must be one of blue, green, red"),
    ({"max": "lots"}, "method[0].task_params.max: must be of type float, got 'lots'"),
    ({"seconds": 3}, "method[0].task_params.seconds: technique 'count' has no parameter"),
    ({"colour": 1}, "method[0].task_params.colour: technique 'count' has no parameter"),
])
def test_task_params_the_driver_refuses_are_refused_at_submit(lab30, params, expected):
    body = payload22(step("counter", "count", 1, 0.1, task_params=params))
    (lab30.root / "p.json").write_text(json.dumps(body))
    result = lab30.ketchup("submit", "p.json", check=False)
    assert result.returncode == 3 and expected in result.stderr, result.stderr


def test_five_queued_jobs_run_in_order_and_task_params_set_attrs(lab30):
    lab30.prepare("pip-multi", "s1")
    body = payload22(step("counter", "random", 0.4, 0.2,
                          task_params={"min": 5, "max": "6", "on": True}))
    jobids = [lab30.submit(body) for _ in range(5)]
    jobs = [lab30.wait_status(j, "c", "ce", "cd") for j in jobids]
    assert [j["status"] for j in jobs] == ["c"] * 5
    executed = [j["executed"] for j in jobs]
    assert executed == sorted(executed)
    for job in jobs:
        [points] = files_of(lab30, job, "counter")
        assert len(points) == 2 and all(5 <= p["val"] <= 6 and p["on"] for p in points)


def test_a_cancelled_counter_job_stops_within_seconds_and_keeps_its_data(lab30):
    lab30.prepare("pip-multi", "s1")
    jobid = lab30.submit(payload22(step("counter", "count", 60, 0.1)))
    lab30.wait_points(jobid, 3)
    lab30.ketchup("cancel", str(jobid))
    job = lab30.wait_status(jobid, "cd", timeout=5)
    [data] = lab30.data_files(jobid)
    assert open_datagram(Path(job["outputs"][0]))["counter"].sizes["uts"] == \
        len(records(data)) >= 3
    run(lab30, payload22(step("counter", "count", 0.2, 0.1)))  # the component is free


def test_snapshots_and_outputs_where_the_payload_says(lab30, tmp_path):
    lab30.prepare("pip-multi", "s1")
    body = payload22(step("counter", "count", 3, 0.1))
    body["settings"]["snapshot"] = {"interval": 1, "path": str(tmp_path), "prefix": "every"}
    body["settings"]["output"] = {"path": str(tmp_path / "results"), "prefix": "counted"}
    jobid = lab30.submit(body)
    lab30.wait_points(jobid, 3)
    lab30.ketchup("snapshot", str(jobid), cwd=tmp_path)  # on demand
    snap = open_datagram(tmp_path / f"snapshot.{jobid}.nc")["counter"]
    until((tmp_path / "every.nc").exists, 10, "a periodic snapshot")
    assert lab30.wait_status(jobid, "c")["status"] == "c"
    final = open_datagram(tmp_path / "results" / "counted.nc")["counter"]
    assert (tmp_path / "results" / "counted.zip").exists()
    assert set(snap.data_vars) == set(final.data_vars) >= {"val", "param", "choice", "on"}
    assert 3 <= snap.sizes["uts"] < final.sizes["uts"] == 30


def component(lab, *args: str, code: int = 0):
    result = lab.ketchup("component", *args, "--json", check=False)
    assert result.returncode == code, result.stderr
    return json.loads(result.stdout) if code == 0 else result.stderr


def test_components_are_listed_shown_read_and_set(lab30):
    rows = {r["name"]: r for r in component(lab30, "list")}
    assert rows["dev-counter:1"]["driver"] == "example_counter"
    info = component(lab30, "show", "dev-counter:1")
    assert info["capabilities"] == ["count", "random"]
    assert info["constants"] == {"example_meta": "example string"}
    assert info["status"]["state"] == "idle" and info["status"]["connected"] is True
    attrs = {a["name"]: a for a in info["attrs"]}
    assert attrs["param"]["unit"] == "seconds" and attrs["param"]["minimum"] == 0.1
    assert attrs["seconds"]["rw"] is False
    got = component(lab30, "set", "dev-counter:1", "param", "2 min")
    assert got["values"] == {"param": 120.0} and got["units"] == {"param": "second"}
    assert component(lab30, "get", "dev-counter:1", "param")["values"] == {"param": 120.0}
    assert "is read-only" in component(lab30, "set", "dev-counter:1", "seconds", "1", code=3)
    assert "must be one of" in component(lab30, "set", "dev-counter:1", "choice", "pink",
                                         code=3)
    # An attr of a pydantic model's type, set from its fields; a job records it.
    model = component(lab30, "set", "dev-counter:1", "model", "{'snum': 2, 'sstr': 'x'}")
    assert model["values"] == {"model": {"snum": 2.0, "sstr": "x"}}
    job = run(lab30, payload22(step("counter", "count", 0.3, 0.1)))
    counter = open_datagram(Path(job["outputs"][0]))["counter"]
    assert json.loads(counter["model"].values[0]) == {"snum": 2.0, "sstr": "x"}
    component(lab30, "set", "dev-counter:1", "param", "1 s")
    point = component(lab30, "measure", "dev-counter:1")["point"]
    assert 0 <= point[1]["val"] <= 10


def test_a_component_that_stops_during_a_task_is_reset_and_the_step_goes_on(lab30):
    job = run(lab30, payload22(step("probe", "crash", 1, 0.1)), "pip-faulty")
    assert "faulty30:bench-3:1 stopped during the task (OSError: the instrument stopped " \
        "answering" in job["reason"] and "it was reset" in job["reason"]
    [points] = files_of(lab30, job, "probe")
    assert 8 <= len(points) <= 10  # the step's second went on after the reset
    log = (lab30.jobdir(job["jobid"]) / "jobdata.log").read_text()
    assert "stopped during the task" in log


def test_a_component_that_keeps_stopping_fails_its_step(lab30):
    job = run(lab30, payload22(step("probe", "crash_always", 3, 0.1)), "pip-faulty",
              status="ce")
    assert "faulty30:bench-3:1 stopped 3 times in this step" in job["reason"]
    # It is usable again: the next job on it completes.
    run(lab30, payload22(step("probe", "steady", 0.3, 0.1)), "pip-faulty")
    shown = component(lab30, "show", "dev-faulty:2")  # the device's other channel
    assert shown["status"] == {"level": 1.0, "connected": True, "state": "idle"}


def test_a_driver_upgraded_from_2_1_to_3_0_while_tomato_runs_is_picked_up_by_reload(
        tmp_path, env, drivers30):
    import shutil

    site = tmp_path / "site"  # where `pip install -U --pre` puts the upgrade
    site.mkdir()
    lab = new_service(tmp_path / "lab", with_path(env, site), LAB.split("  - {name: dev-psutil")[0]
                      + "pipelines:\n  - name: pip-counter\n    components:\n"
                      '      - {role: counter, device: dev-counter, channel: "1"}\n')
    try:
        lab.start()
        assert "state" not in component(lab, "show", "dev-counter:1")["status"]  # 2.1
        lab.prepare("pip-counter", "s1")
        jobid = lab.submit(payload22(step("counter", "count", 60, 0.2)))
        lab.wait_status(jobid, "r")
        for found in drivers30.glob("tomato_example_counter*"):
            shutil.copytree(found, site / found.name)
        refused = lab.run("tomato", "reload", check=False)
        assert refused.returncode == 5, refused.stderr
        assert f"job {jobid} runs on it: device dev-counter would restart" in refused.stderr
        assert lab.status(jobid) == "r"  # nothing changed
        lab.ketchup("cancel", str(jobid))
        lab.wait_status(jobid, "cd")
        assert "devices restarted (changed): dev-counter" in lab.run("tomato", "reload").stdout
        shown = component(lab, "show", "dev-counter:1")
        assert shown["status"]["state"] == "idle"  # 3.0's Status
        assert "dev-counter" not in lab.run("tomato", "reload").stdout  # once, not again
        job = run(lab, payload22(step("counter", "count", 0.5, 0.1)), "pip-counter")
        assert len(files_of(lab, job, "counter")[0]) == 5
    finally:
        stop_all([lab])


def test_tomato_2_2_and_3_0_spellings_of_status_pipeline_and_passata(lab30):
    import yaml

    lab30.reset()
    service = yaml.safe_load(lab30.run("tomato", "status").stdout)  # YAML for a person
    assert service["pid"] > 0 and len(service["devices"]) == 4
    for view, key in (("pipelines", "name"), ("devices", "name"), ("drivers", "driver"),
                      ("components", "name")):
        as_json = lab30.json_of("tomato", "status", view)
        assert yaml.safe_load(lab30.run("tomato", "status", view, "-y").stdout) == as_json
        table = lab30.run("tomato", "status", view).stdout
        assert all(row[key] in table for row in as_json), (view, table)
    drivers = {d["driver"]: d["devices"] for d in lab30.json_of("tomato", "status", "drivers")}
    assert drivers["example_trig"] == {"dev-trig": "running"} and len(drivers) == 4
    # tomato pipeline load PIPELINE SAMPLE | eject | ready: ketchup's commands, 2.2's order.
    assert lab30.json_of("tomato", "pipeline", "load", "pip-multi", "cell-7")["sample"] == \
        "cell-7"
    assert lab30.json_of("tomato", "pipeline", "ready", "pip-multi")["ready"] is True
    assert lab30.json_of("tomato", "pipeline", "unready", "pip-multi")["ready"] is False
    assert lab30.json_of("tomato", "pipeline", "eject", "pip-multi")["sample"] is None
    # passata, with each generation's component names.
    status = lab30.json_of("passata", "status", "example_counter:example-addr:1")
    assert status["running"] is False and status["state"] == "idle"
    assert lab30.json_of("passata", "status", "example_trig:(trig-addr,1)")["running"] is False
    assert lab30.json_of("passata", "capabilities", "psutil::0") == [
        "all_info", "cpu_info", "mem_info"]
    assert lab30.json_of("passata", "constants", "dev-counter:1") == {
        "example_meta": "example string"}
    assert {a["name"] for a in lab30.json_of("passata", "attrs", "dev-counter:1")} >= {
        "max", "min", "param", "choice"}
    assert set(lab30.json_of("passata", "get", "dev-counter:1", "min", "max")["values"]) == {
        "min", "max"}
    got = lab30.json_of("passata", "get", "dev-faulty:2", "level")
    assert got["values"] == {"level": 1.0} and got["units"] == {}
    assert lab30.json_of("passata", "reset", "-f", "dev-faulty:2")["reset"] is True
    assert lab30.json_of("passata", "register", "faulty30:bench-3:2")["registered"] is True
    unknown = lab30.run("passata", "status", "nope:1", check=False)
    assert unknown.returncode == 4 and "no component named 'nope:1'" in unknown.stderr
    assert "ketchup component" in lab30.run("passata", "--help").stdout
    assert "ketchup load" in lab30.run("tomato", "pipeline", "--help").stdout
