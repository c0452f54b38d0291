"""`tomato reload`: the devices file and the drivers' settings applied while running."""

from __future__ import annotations

import json
import os

from conftest import LEAN, payload, until

from tomato.messages import GetServiceStatus

ONE = """
devices:
  - {name: dev-a, driver: dummy, address: null, channels: ["1"]}
  - {name: dev-b, driver: dummy, address: null, channels: ["1"]}
pipelines:
  - name: pip-a
    components: [{role: worker, device: dev-a, channel: "1"}]
  - name: pip-b
    components: [{role: worker, device: dev-b, channel: "1"}]
"""

TWO = """
devices:
  - {name: dev-a, driver: dummy, address: null, channels: ["1"]}
  - {name: dev-c, driver: psutil, address: null, channels: ["0"]}
pipelines:
  - name: pip-a
    components: [{role: worker, device: dev-a, channel: "1"}]
  - name: pip-c
    components: [{role: meter, device: dev-c, channel: "0"}]
"""


def pids(lab) -> dict[str, int | None]:
    return {d.name: d.pid for d in lab.ask(GetServiceStatus()).devices}


def reload(lab, code: int = 0):
    result = lab.run("tomato", "reload", "--json", check=False)
    assert result.returncode == code, result.stderr
    return json.loads(result.stdout) if code == 0 else result.stderr


def test_devices_and_pipelines_are_added_and_removed_while_running(tomato_factory):
    lab = tomato_factory(ONE)
    lab.prepare("pip-a", "s1")
    before = pids(lab)
    (lab.root / "devices.yml").write_text(TWO)
    done = reload(lab)
    assert done["added"] == ["dev-c"] and done["removed"] == ["dev-b"] and not done["changed"]
    assert set(lab.pipelines()) == {"pip-a", "pip-c"}
    assert lab.pipelines()["pip-a"]["sample"] == "s1"  # untouched: its state kept
    after = pids(lab)
    assert after["dev-a"] == before["dev-a"] and "dev-b" not in after
    until(lambda: not os.path.exists(f"/proc/{before['dev-b']}"), 10, "dev-b stopped")
    # The new pipeline runs jobs; the removed one is no more.
    lab.prepare("pip-c", "s2")
    body = {"version": "2.2", "sample": {"identifier": "s2"}, "user": {"identifier": "u"},
            "method": [{"component_role": "meter", "technique_name": "mem_info",
                        "max_duration": 0.5, "sampling_interval": 0.1}]}
    assert lab.wait_status(lab.submit(body), "c", "ce")["status"] == "c"
    assert "no pipeline named 'pip-b'" in lab.ketchup("ready", "pip-b", check=False).stderr


def test_new_driver_settings_reach_the_driver(tomato_factory):
    lab = tomato_factory(TWO, settings=f"{LEAN}[drivers.psutil]\nidle_measurement_interval"
                                      " = 3600\n")
    pid = pids(lab)["dev-c"]

    def last() -> list | None:
        out = lab.ketchup("component", "data", "dev-c:0", "--json").stdout
        return json.loads(out)["point"]

    assert last() is None  # no idle measurement within the hour
    (lab.root / "settings.toml").write_text(
        f"{LEAN}[drivers.psutil]\nidle_measurement_interval = 0.2\n")
    assert reload(lab)["changed"] == ["dev-c"]  # restarted with them
    assert pids(lab)["dev-c"] != pid
    until(last, 10, "an idle measurement at the new interval")


def test_a_reload_that_would_touch_a_running_job_is_refused_and_changes_nothing(
        tomato_factory):
    lab = tomato_factory(ONE)
    lab.prepare("pip-b", "s1")
    jobid = lab.submit(payload(time=30))
    lab.wait_status(jobid, "r")
    before = pids(lab)
    (lab.root / "devices.yml").write_text(TWO)
    refused = reload(lab, code=5)
    assert f"job {jobid} runs on it: pipeline pip-b would be removed, device dev-b would be " \
           "removed" in refused
    assert set(lab.pipelines()) == {"pip-a", "pip-b"} and pids(lab) == before
    lab.ketchup("cancel", str(jobid))
    lab.wait_status(jobid, "cd")


def test_a_broken_devices_file_is_refused_at_reload_and_changes_nothing(tomato_factory):
    lab = tomato_factory(ONE)
    before = pids(lab)
    (lab.root / "devices.yml").write_text(ONE.replace("driver: dummy", "driver: nope", 1))
    assert "no driver named 'nope'" in reload(lab, code=6)
    (lab.root / "devices.yml").write_text("devices: [\n")
    assert "YAML" in reload(lab, code=6)
    assert pids(lab) == before and set(lab.pipelines()) == {"pip-a", "pip-b"}
