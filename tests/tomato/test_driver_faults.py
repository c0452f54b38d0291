"""Driver faults under the DriverInterface 2.1 contract, with a driver package that
misbehaves on purpose (tests/drivers21/tomato_faulty): an instrument that does not
register, a call that fails, a driver that dies, a task that fails in its thread."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import LEAN, new_service, stop_all, until

from tomato.messages import GetServiceStatus

DRIVERS = Path(__file__).parent.parent / "drivers21"

LAB = """
devices:
  - {name: dev-faulty, driver: faulty, address: bench-3, channels: ["1"]}
  - {name: dev-dummy, driver: dummy, address: null, channels: ["5"]}
pipelines:
  - name: pip-faulty
    components: [{role: probe, device: dev-faulty, channel: "1"}]
  - name: pip-dummy
    components: [{role: worker, device: dev-dummy, channel: "5"}]
"""


@pytest.fixture
def lab(tmp_path, env):
    env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(DRIVERS),
                                                              env.get("PYTHONPATH")]))}
    plug = tmp_path / "plugged"
    service = new_service(tmp_path / "lab", env, LAB,
                          f'{LEAN}[drivers.faulty]\nplugged = "{plug}"\n')
    service.plug = plug
    yield service
    stop_all([service])


def job(technique: str, role: str = "probe") -> dict:
    return {"version": "2.2", "sample": {"identifier": "s1"}, "user": {"identifier": "lab"},
            "method": [{"component_role": role, "technique_name": technique,
                        "max_duration": 0.5, "sampling_interval": 0.1}]}


def device(lab, name: str = "dev-faulty"):
    return next(d for d in lab.ask(GetServiceStatus()).devices if d.name == name)


def test_an_instrument_that_does_not_register_fails_its_pipeline_not_the_service(lab):
    lab.start()
    failed = lab.pipelines()["pip-faulty"]["failed"]
    assert "no instrument answers at bench-3" in failed and "3 attempts" in failed
    assert lab.pipelines()["pip-dummy"]["failed"] is None
    lab.prepare("pip-dummy", "s1")
    assert lab.wait_status(lab.submit(job("random", "worker")), "c", "ce")["status"] == "c"
    lab.plug.touch()  # the instrument is switched on
    lab.run("tomato", "restart", "dev-faulty")
    assert lab.pipelines()["pip-faulty"]["failed"] is None
    lab.prepare("pip-faulty", "s1")
    assert lab.wait_status(lab.submit(job("steady")), "c", "ce")["status"] == "c"


def test_a_call_that_fails_leaves_the_driver_running_and_one_that_kills_it_restarts_it(lab):
    lab.plug.touch()
    lab.start()
    pid = device(lab).pid
    refused = lab.ketchup("component", "set", "dev-faulty:1", "level", "-1", check=False)
    assert refused.returncode == 3 and "level must not be negative" in refused.stderr
    assert device(lab).pid == pid and device(lab).state == "running"
    died = lab.ketchup("component", "get", "dev-faulty:1", "explode", check=False)
    assert died.returncode != 0
    restarted = until(lambda: (d := device(lab)).pid not in (pid, None) and
                      d.state == "running" and d, 20, "the device restarted")
    assert restarted.restarts == 1
    # Its component is registered again (tomato 2.2 loses it: "not registered").
    shown = json.loads(lab.ketchup("component", "show", "dev-faulty:1", "--json").stdout)
    assert shown["status"] == {"level": 1.0}


def test_a_task_failing_in_the_driver_thread_ends_the_job_ce_and_the_driver_lives(lab):
    lab.plug.touch()
    lab.start()
    pid = device(lab).pid
    lab.prepare("pip-faulty", "s1")
    failed = lab.wait_status(lab.submit(job("crash")), "c", "ce")
    assert failed["status"] == "ce"
    assert "OSError: the instrument stopped answering" in failed["reason"]
    assert device(lab).pid == pid
    lab.ketchup("ready", "pip-faulty")
    assert lab.wait_status(lab.submit(job("steady")), "c", "ce")["status"] == "c"


def test_a_2_1_driver_registered_as_a_tomato_drivers_entry_point_runs(tmp_path, env):
    """tests/drivers21 holds the package's metadata: `registered = tomato_faulty:...`."""
    env = {**env, "PYTHONPATH": str(DRIVERS)}
    lab = new_service(tmp_path / "ep", env, LAB.replace("driver: faulty", "driver: registered"))
    try:
        lab.start()
        lab.prepare("pip-faulty", "s1")
        assert lab.wait_status(lab.submit(job("steady")), "c", "ce")["status"] == "c"
    finally:
        stop_all([lab])
