"""A device that cannot start says why, in every view: a DiverInterface 3.0 driver whose
import fails (a library it needs is missing), one whose registration fails (no instrument
answers), one whose settings are refused. `tomato restart` answers in one line; a running
device is restarted (its driver as installed now), under a job only by force."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import BIN, LEAN, Terminal, new_service, stop_all, until, watch_json, with_path

FAKES = Path(__file__).parent.parent / "drivers30"
IMPORT_FAILS = ("driver 'broken30' cannot be imported: ModuleNotFoundError: No module named "
                "'vendor_sdk_that_is_not_installed'")
NO_PORT = ("faulty30: cmp_register failed: OSError: could not open port /dev/ttyUSB-unplugged: "
           "[Errno 2] No such file or directory")
NOT_ANSWERING = ("failed to register 'faulty30:bench-3:1': no instrument answers at bench-3 "
                 "(3 attempts)")

LAB = """
devices:
  - {name: dev-broken, driver: broken30, address: x, channels: ["1"]}
  - {name: dev-faulty, driver: faulty30, address: bench-3, channels: ["1"]}
  - {name: dev-dummy, driver: dummy, address: null, channels: ["5"]}
  - {name: dev-serial, driver: faulty30, address: /dev/ttyUSB-unplugged, channels: ["1"]}
pipelines:
  - name: pip-broken
    components: [{role: probe, device: dev-broken, channel: "1"}]
  - name: pip-faulty
    components: [{role: meter, device: dev-faulty, channel: "1"}]
  - name: pip-dummy
    components: [{role: worker, device: dev-dummy, channel: "5"}]
"""


def job(role: str, technique: str, duration: float = 0.5) -> dict:
    return {"version": "2.2", "sample": {"identifier": "s1"}, "user": {"identifier": "lab"},
            "method": [{"component_role": role, "technique_name": technique,
                        "max_duration": duration, "sampling_interval": 0.1}]}


@pytest.fixture
def lab(tmp_path, env):
    plug = tmp_path / "plugged"
    service = new_service(tmp_path / "lab", with_path(env, FAKES), LAB,
                          f'{LEAN}[drivers.faulty30]\nplugged = "{plug}"\n')
    service.plug = plug
    yield service
    stop_all([service])


def test_a_failed_device_says_why_in_every_view(lab):
    lab.start()
    pipelines = {p["name"]: p for p in json.loads(lab.ketchup("status", "--json").stdout)}
    assert IMPORT_FAILS in pipelines["pip-broken"]["failed"]
    assert NOT_ANSWERING in pipelines["pip-faulty"]["failed"]
    assert pipelines["pip-dummy"]["failed"] is None
    table = lab.ketchup("status").stdout
    assert IMPORT_FAILS in table and "dev-dev-" not in table
    devices = {d["name"]: d for d in lab.json_of("tomato", "status", "devices")}
    assert devices["dev-broken"]["state"] == "failed"
    assert devices["dev-broken"]["reason"].startswith(IMPORT_FAILS)
    assert devices["dev-faulty"]["reason"] == NOT_ANSWERING
    assert devices["dev-serial"]["reason"] == NO_PORT  # a serial port that is not there
    watch = watch_json(lab)
    try:
        first = json.loads(watch.stdout.readline())
    finally:
        watch.terminate()
        watch.communicate(timeout=10)
    assert IMPORT_FAILS in {p["name"]: p for p in first["pipelines"]}["pip-broken"]["failed"]
    term = Terminal(lab, "watch", cols=300)  # and to a person watching
    row = term.wait_for(lambda t: any(line.startswith(" pip-broken") and "failed" in line and
                                      "No module named" in line for line in t.splitlines()),
                        what="pip-broken's reason")
    assert "vendor_sdk_that_is_not_installed" in row
    term.child.sendintr()
    assert term.exit_code() == 0

    # A command on a failed device: why, and what starts it again; never "not running".
    shown = lab.ketchup("component", "show", "dev-broken:1", check=False)
    assert shown.returncode == 12, shown.stderr
    assert shown.stderr.startswith(f"error: device dev-broken has failed: {IMPORT_FAILS}")
    assert "`tomato restart dev-broken`" in shown.stderr and "not running" not in shown.stderr
    # A submit only the failed device could run: which device, why, and the way out.
    (lab.root / "p.json").write_text(json.dumps(job("probe", "steady")))
    refused = lab.ketchup("submit", "p.json", check=False)
    assert refused.returncode == 3
    assert ("no running device can do technique 'steady' as 'probe': device dev-broken "
            f"failed: {IMPORT_FAILS}") in refused.stderr
    assert "(once mended: `tomato restart dev-broken`)" in refused.stderr
    assert "known: )" not in refused.stderr

    # Restarting it fails again: one line with the reason, no traceback.
    again = lab.run("tomato", "restart", "dev-broken", check=False)
    assert again.returncode == 12 and again.stderr.count("\n") == 1, again.stderr
    assert again.stderr.startswith(f"error: device dev-broken failed again: {IMPORT_FAILS}")
    # … and it can be tried again (it stays failed, not forgotten).
    assert lab.run("tomato", "restart", "dev-broken", check=False).returncode == 12

    # The instrument is switched on: the restart brings it and its pipeline back.
    lab.plug.touch()
    assert "device dev-faulty is running" in lab.run("tomato", "restart", "dev-faulty").stdout
    assert lab.pipelines()["pip-faulty"]["failed"] is None
    lab.prepare("pip-faulty", "s1")
    assert lab.wait_status(lab.submit(job("meter", "steady")), "c", "ce")["status"] == "c"


def test_a_running_device_is_restarted_under_a_job_only_by_force(lab):
    lab.plug.touch()
    lab.start()
    pid = lab.pipelines() and next(
        d for d in json.loads(lab.run("tomato", "status", "--json").stdout)["devices"]
        if d["name"] == "dev-faulty")["pid"]
    # Not in use: a new process (its driver as installed now).
    out = lab.run("tomato", "restart", "dev-faulty").stdout
    assert "device dev-faulty is running" in out and str(pid) not in out
    lab.prepare("pip-faulty", "s1")
    jobid = lab.submit(job("meter", "steady", 4))
    lab.wait_points(jobid, 3)
    refused = lab.run("tomato", "restart", "dev-faulty", check=False)
    assert refused.returncode == 5
    assert "is used by running job" in refused.stderr and "--force" in refused.stderr
    lab.run("tomato", "restart", "dev-faulty", "--force")
    done = lab.wait_status(jobid, "c", "ce")
    assert done["status"] == "c" and "its device restarted" in done["reason"]


def test_settings_a_driver_refuses_stop_the_start_and_a_reload_changes_nothing(tmp_path, env):
    lab = "\n".join(line for line in LAB.splitlines() if "broken" not in line)
    service = new_service(tmp_path / "lab", with_path(env, FAKES), lab,
                          f"{LEAN}[drivers.faulty30]\ncolour = 'red'\n")
    try:
        started = subprocess.run([str(BIN / "tomato"), "-t"], cwd=service.folder,
                                 env=service.env, capture_output=True, text=True, timeout=60)
        assert started.returncode == 6, started.stderr
        assert started.stderr.strip().splitlines()[-1] == (
            f"error: {service.folder / 'settings.toml'}: [drivers.faulty30]: unknown key "
            "'colour'")
        (service.folder / "settings.toml").write_text(LEAN)
        service.start()
        (service.folder / "settings.toml").write_text(f"{LEAN}[drivers.faulty30]\nplugd = 1\n")
        reload = service.run("tomato", "reload", check=False)
        assert reload.returncode == 6 and "unknown key 'plugd'" in reload.stderr
        until(lambda: service.pipelines(), 5, "the service")
        assert [d["state"] for d in json.loads(service.run("tomato", "status", "--json").stdout)[
            "devices"] if d["name"] == "dev-faulty"] == ["running"]  # nothing changed
    finally:
        stop_all([service])
