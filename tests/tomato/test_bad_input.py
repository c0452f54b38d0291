"""Bad input is refused with one line naming file, field and reason; nothing changes."""

from __future__ import annotations

import json
import socket
import struct
import subprocess

import anyio
import pytest
from conftest import BIN, EXAMPLES, new_service, payload, private_env, read_csv, stop_all
from tomato.actors import ActorError, connect
from tomato.drivers import DEVICE_CODEC, StartTask, Task

from tomato.cli.client import CLIENT_CODEC
from tomato.codec import CODEC
from tomato.messages import GetJobs, SnapshotTaken
from tomato.paths import device_socket
from tomato.processmessages import JobCollected, JobFinished


def refused(tomato, *args, code=None):
    result = tomato.ketchup(*args, check=False)
    assert result.returncode != 0
    if code is not None:
        assert result.returncode == code, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    return lines[0]


def nothing_queued(tomato):
    assert tomato.ask(GetJobs((), finished=True)) == []


@pytest.fixture(scope="module")
def quiet(tmp_path_factory, runtime_base):
    """One service for the refused payloads of this module (a refusal changes nothing,
    which each test checks)."""
    root = tmp_path_factory.mktemp("refusals")
    service = new_service(root / "lab", private_env(root, runtime_base)).start()
    yield service
    stop_all([service])


def steps22(*extras: dict) -> dict:
    """A 2.2 payload of one step per extra (merged into the step)."""
    return {"version": "2.2", "user": {"identifier": "u"}, "sample": {"identifier": "s"},
            "method": [{"component_role": "worker", "technique_name": "random",
                        "max_duration": 1, "sampling_interval": 0.1, **extra}
                       for extra in extras]}


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("p.yml", "version: '0.2'\nsample: {name: a\n", "p.yml:3: YAML syntax error"),
    ("p.json", '{"version": "0.2",}', "p.json:1: JSON syntax error"),
    ("p.txt", "version: '0.2'", "p.txt: a payload file must end in .yml, .yaml or .json"),
    ("p.yml", "version: '9.9'\n", "p.yml: version: unknown payload version '9.9'"),
    ("p.yml", "sample: {name: a}\n", "p.yml: version: missing"),
    ("p.yml", "- a\n- b\n", "p.yml: expected a mapping at the top level"),
    ("p.yml", json.dumps(payload(delay=-1)), "p.yml: method[0].delay: must be a number > 0"),
    ("p.yml", json.dumps(payload(time=0)), "p.yml: method[0].time: must be a number > 0"),
    ("p.yml", json.dumps(payload(technique="teleport")),
     "p.yml: method[0].technique: no device can do technique 'teleport' as 'worker'"),
    ("p.yml", json.dumps({**payload(), "method": [{"device": "worker", "technique": "random"}]}),
     "p.yml: method[0].time: missing; method[0].delay: missing"),  # both errors at once
    ("p.yml", json.dumps({"version": "2.2", "user": {"identifier": "u"},
                          "sample": {"identifier": "s"},
                          "method": [{"component_role": "worker", "technique_name": "random",
                                      "max_duration": 1, "sampling_interval": 0.1,
                                      "polling_interval": 5}]}),
     "p.yml: method[0].polling_interval: not honoured by this tomato (data is read as the "
     "device produces it; remove it)"),
    ("p.yml", json.dumps({**payload(), "method": [{"device": "worker", "technique": "random",
                                                   "time": 1, "dealy": 0.1}]}),
     "p.yml: method[0].dealy: unknown key; did you mean 'delay'?"),
    ("p.yml", json.dumps({"version": "2.2", "sample": {"identifier": "s"},
                          "method": [{"component_role": "worker", "technique_name": "random",
                                      "max_duration": 1, "sampling_interval": 0.1,
                                      "task_nam": "t"}]}),
     "p.yml: user: missing (a 2.2 payload names who submits it: `user: {identifier: NAME}`); "
     "method[0].task_nam: unknown key; did you mean 'task_name'?"),
    ("p.yml", json.dumps({**payload(), "method": []}), "p.yml: method: needs at least one step"),
    ("p.yml", json.dumps({"version": "2.2", "user": {"identifier": "u"},
                          "sample": {"identifier": "s"},
                          "method": [{"component_role": "worker", "technique_name": "random",
                                      "max_duration": 1, "sampling_interval": 0.1,
                                      "task_params": {"colour": "red"}}]}),
     "p.yml: method[0].task_params.colour: technique 'random' has no parameter 'colour'"),
    # A job no pipeline could ever run is refused, not left queued for good.
    ("p.yml", json.dumps(payload(tag="nowhere")),
     "p.yml: method[0].device: no pipeline has a component with role 'nowhere' (roles: "
     "worker)"),
    ("p.yml", json.dumps(payload(time="5 kg")),
     "p.yml: method[0].time: '5 kg' is not a time: Cannot convert from 'kilogram'"),
    ("p.yml", json.dumps(payload(delay="2 parsecs per fortnight")),
     "p.yml: method[0].delay: '2 parsecs per fortnight' is not a time"),
    ("p.yml", json.dumps(steps22({"task_name": "a"}, {"task_name": "a"})),
     "p.yml: method[1].task_name: 'a' is also the name of step 0"),
    ("p.yml", json.dumps(steps22({"start_with_task_name": "b"}, {"task_name": "a"})),
     "p.yml: method: Not all required task_names were provided: required = {'b'}"),
    ("p.yml", json.dumps(steps22({"stop_with_task_name": "b"})),
     "p.yml: method: Not all required task_names were provided: required = {'b'}"),
    # Both on one component: the first would wait for the second, which waits for it.
    ("p.yml", json.dumps(steps22({"start_with_task_name": "b"}, {"task_name": "b"})),
     "p.yml: method[0].start_with_task_name: the step would wait for itself"),
])
def test_bad_payloads_are_refused_at_submit(quiet, name, content, expected):
    path = quiet.root / name
    path.write_text(content)
    line = refused(quiet, "submit", name, code=3)
    assert expected in line, line
    nothing_queued(quiet)


LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n" for a, b in zip("abcdef", "bcdefg", strict=True))


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("p.yml", b"version: '0.2'\nsample: {name: \xff}\n", "p.yml: not UTF-8 text (byte 0xff"),
    ("p.yml", "version: '0.2'\n".encode("utf-16"), "p.yml: not UTF-8 text"),
    ("p.json", bytes(range(256)), "p.json: not UTF-8 text"),
    ("p.yml", b"[" * 5000 + b"]" * 5000, "p.yml: nested too deeply"),
    ("p.json", b"[" * 100_000 + b"]" * 100_000, "p.json: nested too deeply"),
    ("p.json", b'{"version": "0.2", "x": ' + b"9" * 400 + b"}", "p.json: the number 9999"),
    ("p.yml", LAUGHS.encode(), "p.yml: more than 100000 values"),
    ("p.yml", b"version: '0.2'\n#" + b"x" * (5 << 20), "p.yml: larger than 4 MiB"),
    ("p.yml", b"version: '0.2'\nsample: {name: a}\nmethodfile: nope.yml\n",
     "nope.yml: cannot read the payload: no such file"),
    ("p.yml", b"version: '0.2'\nsamplefile: .\n", ": cannot read the payload: not a regular"),
    ("p.yml", json.dumps(payload(time=True)).encode(), "p.yml: method[0].time: must be a number"),
    ("p.yml", json.dumps(payload(time=1e308)).encode(), "p.yml: method[0].time: 1e+308 s at"),
    ("p.yml", json.dumps(payload(sample="s" * 300)).encode(),
     "p.yml: sample.name: longer than 256 characters"),
    ("p.yml", json.dumps(payload(sample="a\x00\x1b[2J")).encode(),
     "p.yml: sample.name: has characters that are not printable"),
    ("p.yml", json.dumps(payload(output={"prefix": "../../../etc/x"})).encode(),
     "p.yml: tomato.output.prefix: a file name, not a path"),
    ("p.yml", json.dumps(payload(output={"prefix": "run\x1b[2J"})).encode(),
     "p.yml: tomato.output.prefix: has characters that are not printable"),
])
def test_hostile_payload_files_are_refused_in_one_line(quiet, name, content, expected):
    (quiet.root / name).write_bytes(content)
    line = refused(quiet, "submit", name, code=3)
    assert expected in line, line
    nothing_queued(quiet)


def test_a_payload_that_is_a_link_to_a_device_is_refused(quiet):
    (quiet.root / "zero.yml").unlink(missing_ok=True)
    (quiet.root / "zero.yml").symlink_to("/dev/zero")
    assert "zero.yml: cannot read the payload: not a regular file" in refused(
        quiet, "submit", "zero.yml", code=3)
    nothing_queued(quiet)


def test_a_job_name_with_control_characters_is_refused(quiet):
    (quiet.root / "ok.yml").write_text(json.dumps(payload()))
    assert "jobname: has characters that are not printable" in refused(
        quiet, "submit", "ok.yml", "-j", "run\x1b]0;pwned\x07", code=3)
    nothing_queued(quiet)


def test_the_example_with_an_unknown_key_is_refused_naming_it(quiet):
    line = refused(quiet, "submit", str(EXAMPLES / "bad_unknown_key.yml"), code=3)
    assert "bad_unknown_key.yml: tomato.bogus: unknown key (known: unlock_when_done, " \
        "verbosity, output, snapshot)" in line
    nothing_queued(quiet)


def test_a_missing_payload_file_is_refused(quiet):
    line = refused(quiet, "submit", "nowhere.yml", code=3)
    assert "nowhere.yml: cannot read the payload" in line
    nothing_queued(quiet)


def test_guards_fail_with_a_clear_message_and_change_nothing(lab):
    lab.prepare("dummy-5", "s1")
    assert "already holds sample 's1'; eject it first" in refused(lab, "load", "s2", "dummy-5")
    assert "no pipeline named 'nope'" in refused(lab, "load", "s2", "nope", code=4)
    assert "no pipeline named 'nope'" in refused(lab, "eject", "nope", code=4)
    assert "no pipeline named 'nope'" in refused(lab, "ready", "nope", code=4)
    assert "no job with jobid 99999" in refused(lab, "status", "99999", code=4)
    assert "no job with jobid 99999" in refused(lab, "cancel", "99999", code=4)
    jobid = lab.submit(payload(time=30))
    lab.wait_status(jobid, "r")
    assert f"is running job {jobid}" in refused(lab, "eject", "dummy-5", code=5)
    assert f"is running job {jobid}" in refused(lab, "unready", "dummy-5", code=5)
    assert lab.pipelines()["dummy-5"]["sample"] == "s1"
    lab.ketchup("cancel", str(jobid))
    lab.wait_status(jobid, "cd")
    assert "has already finished (cd)" in refused(lab, "cancel", str(jobid), code=5)
    lab.ketchup("eject", "dummy-5")
    assert lab.pipelines()["dummy-5"]["sample"] is None


def test_ketchup_without_a_service_says_so_and_how_to_start_it(tomato_factory):
    lab = tomato_factory(start=False)
    line = refused(lab, "status", code=7)
    assert "tomato is not running" in line and f"'tomato --config {lab.root}'" in line
    result = subprocess.run([str(BIN / "ketchup"), "-t", "status"], cwd=lab.root, env=lab.env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 7 and "start it with 'tomato -t'" in result.stderr


def test_json_and_yaml_at_once_is_a_usage_error(quiet):
    result = quiet.ketchup("status", "--json", "--yaml", check=False)
    assert result.returncode == 2 and "--json or --yaml: one of them" in result.stderr


@pytest.mark.parametrize("command", ["tomato", "ketchup"])
def test_both_commands_say_their_version(command):
    from tomato import __version__

    result = subprocess.run([str(BIN / command), "--version"], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0 and result.stdout.strip() == f"{command}, version {__version__}"


def test_garbage_on_the_socket_disconnects_only_that_client(quiet):
    path = quiet.socket
    for junk in (b"\x00\x00\x00\x05hello", struct.pack(">I", 1 << 30), b"\xff" * 64,
                 struct.pack(">I", 3) + b"\x93\x01\x02"):
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(str(path))
            s.sendall(junk)
            assert closed_by_peer(s)
    assert quiet.process.poll() is None
    assert len(quiet.json("status")) == 2


def test_a_message_the_supervisor_cannot_handle_is_logged_and_the_service_goes_on(quiet):
    async def send() -> None:
        async with connect(quiet.socket, CLIENT_CODEC) as conn:
            await conn.tell(SnapshotTaken(("x",)))  # a reply type, sent as a one-way message
            with pytest.raises(ActorError, match="does not understand"):
                await conn.ask(SnapshotTaken(("x",)))

    anyio.run(send)
    assert quiet.process.poll() is None
    assert len(quiet.json("status")) == 2
    assert "SnapshotTaken failed: the supervisor does not understand" in quiet.log.read_text()


def closed_by_peer(s: socket.socket) -> bool:
    try:
        return s.recv(100) == b""
    except ConnectionResetError:
        return True


def test_the_socket_is_private(quiet):
    path = quiet.socket
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_a_second_service_for_the_same_folder_is_refused(tomato):
    result = subprocess.run([str(BIN / "tomato"), "-t"], cwd=tomato.root, env=tomato.env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 8
    assert "tomato is already running" in result.stderr
    assert f"pid {tomato.process.pid}" in result.stderr
    assert len(tomato.json("status")) == 2


@pytest.mark.parametrize(("devices", "expected"), [
    ("devices: [\n", "devices.yml:2: YAML syntax error"),
    ("devices:\n  - {name: d, driver: dummy, channels: [1]}\npipelines:\n"
     "  - name: p\n    devices:\n      - {tag: w, name: ghost, channel: 1}\n",
     "devices.yml:6: pipeline 'p': device 'ghost' is not defined"),
    ("devices:\n  - {name: d, driver: nosuch, channels: [1]}\npipelines:\n"
     "  - name: p\n    devices: [{tag: w, name: d, channel: 1}]\n",
     "devices.yml:2: device 'd': no driver named 'nosuch' is installed"),
    ("devices:\n  - {name: d, driver: dummy, channels: [1], capabilities: [fly]}\npipelines:\n"
     "  - name: p\n    devices: [{tag: w, name: d, channel: 1}]\n",
     "devices.yml:2: device 'd': driver 'dummy' has no technique 'fly'"),
    ("devices:\n  - {name: d, driver: dummy, channels: [1]}\npipelines:\n"
     "  - name: p\n    devices: [{tag: w, name: d, channel: 7}]\n",
     "devices.yml:5: pipeline 'p': device 'd' has no channel '7'"),
])
def test_a_malformed_devices_file_stops_the_service_from_starting(tomato_factory, devices,
                                                                  expected):
    lab = tomato_factory(devices, start=False)
    result = subprocess.run([str(BIN / "tomato"), "-t"], cwd=lab.root, env=lab.env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 6
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_malformed_settings_stop_the_service_from_starting(tomato_factory):
    lab = tomato_factory(start=False)
    (lab.root / "settings.toml").write_text('[paths]\nstate = "x.db"\n\n[jobs]\npoll = 1\n')
    result = subprocess.run([str(BIN / "tomato"), "-t"], cwd=lab.root, env=lab.env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 6
    assert "settings.toml:5: unknown key 'poll' in [jobs]" in result.stderr
    assert not (lab.root / "x.db").exists()


def test_messages_of_the_service_s_own_processes_are_refused_from_a_client(lab):
    lab.prepare("dummy-5", "s1")
    jobid = lab.submit(payload("sequential", 1, 0.1))
    lab.wait_status(jobid, "r")

    async def forge() -> None:
        async with connect(lab.socket, CODEC) as conn:
            for forged in (JobFinished(jobid, "c", None, ("/etc/passwd",)),
                           JobCollected(jobid, "c", None)):
                with pytest.raises(ActorError, match="from tomato's own processes only"):
                    await conn.ask(forged)

    anyio.run(forge)
    job = lab.wait_status(jobid, "c", "ce", "cd")
    assert job["status"] == "c" and "/etc/passwd" not in job["outputs"]
    assert len(read_csv(lab.data_files(jobid)[0])) == 10  # it ran to its end


def test_a_device_takes_commands_from_tomato_s_processes_only(tomato):
    device = device_socket(tomato.socket.parent, "dummy_device")

    async def command_it() -> None:
        async with connect(device, DEVICE_CODEC) as conn:
            with pytest.raises(ActorError, match="from tomato's service and its processes only"):
                await conn.ask(StartTask("5", Task("sequential", 10, 0.1), "forged"))

    anyio.run(command_it)
    assert '"5": "idle"' in tomato.run("tomato", "status", "--json").stdout  # nothing started
    tomato.prepare("dummy-5", "s1")  # tomato's own jobs still run on it
    jobid = tomato.submit(payload("sequential", 0.3, 0.1))
    assert tomato.wait_status(jobid, "c", "ce", "cd")["status"] == "c"


def test_state_job_folders_logs_and_data_are_private(lab):
    lab.prepare("dummy-5", "s1")
    jobid = lab.wait_status(lab.submit(payload(time=0.2)), "c")["jobid"]
    jobdir = lab.jobdir(jobid)
    for path in (lab.folder / "tomato.db", jobdir, jobdir / "jobdata.json",
                 jobdir / "jobdata.log", *lab.data_files(jobid)):
        assert path.stat().st_mode & 0o077 == 0, (path, oct(path.stat().st_mode))
