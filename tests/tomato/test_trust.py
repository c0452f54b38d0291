"""What tomato keeps from other users and from what people type: no secret on a command line,
private files from the first run on, no escape sequence reaching a terminal, no lock file
followed through a symlink."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

from conftest import BIN, LEAN, new_service, stop_all, until, with_path

DRIVERS21 = Path(__file__).parent.parent / "drivers21"

LAB = """
devices:
  - {name: dev-faulty, driver: faulty, address: bench-3, channels: ["1"]}
pipelines:
  - name: pip-faulty
    components: [{role: probe, device: dev-faulty, channel: "1"}]
"""


def test_driver_settings_reach_the_driver_but_no_command_line(tmp_path, env):
    plug = tmp_path / "plugged"
    plug.touch()
    secret = "hunter2-correct-horse"
    lab = new_service(tmp_path / "lab", with_path(env, DRIVERS21), LAB,
                      f'{LEAN}[drivers.faulty]\nplugged = "{plug}"\npassword = "{secret}"\n')
    try:
        lab.start()
        [device] = lab.json_of("tomato", "status", "devices")
        assert device["state"] == "running"  # it registered: it read `plugged`
        seen = [p for p in Path("/proc").glob("[0-9]*/cmdline")
                if _readable(p) and secret.encode() in _readable(p)]
        assert seen == [], seen
        environs = [p for p in Path("/proc").glob("[0-9]*/environ")
                    if secret.encode() in (_readable(p) or b"")]
        assert environs == []
        # A setting that changes reaches the driver again, by the same way (reload).
        plug.unlink()
        (lab.folder / "settings.toml").write_text(
            f'{LEAN}[drivers.faulty]\nplugged = "{tmp_path / "other"}"\n')
        out = lab.run("tomato", "reload").stdout
        assert "devices failed: dev-faulty" in out  # it read the new `plugged`: not there
    finally:
        stop_all([lab])


def _readable(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:  # gone, or another user's
        return None


def test_the_first_run_writes_settings_only_its_user_reads(tmp_path, env):
    config = tmp_path / "conf" / "tomato"
    started = subprocess.Popen([str(BIN / "tomato"), "--config", str(config)], cwd=tmp_path,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        settings = config / "settings.toml"
        until(lambda: settings.exists() and settings.read_text(), 30, "settings.toml")
        assert stat.S_IMODE(settings.stat().st_mode) == 0o600
        assert stat.S_IMODE(config.stat().st_mode) == 0o700
    finally:
        started.terminate()  # as systemd stops it (it may still be starting)
        started.wait(30)


def test_a_sample_name_with_an_escape_sequence_is_refused_and_never_printed(lab):
    loaded = lab.ketchup("load", "\x1b[2Jcell\x07", "dummy-5", check=False)
    assert loaded.returncode == 3, loaded.stderr
    assert loaded.stderr.strip() == "error: sample name has characters that are not printable " \
                                    "('\\x1b[2Jcell\\x07')"
    assert "\x1b" not in loaded.stderr
    assert lab.pipelines()["dummy-5"]["sample"] is None  # nothing changed
    assert "\x1b" not in lab.ketchup("status").stdout


def test_a_lock_file_that_is_a_symlink_is_not_followed(tmp_path, env):
    lab = new_service(tmp_path / "lab", env)
    lab.start()
    lock = next(lab.socket.parent.glob("tomato.lock"))
    stop_all([lab])
    victim = tmp_path / "victim"
    victim.write_text("precious")
    lab.socket.parent.mkdir(mode=0o700, exist_ok=True)
    lock.symlink_to(victim)
    started = subprocess.run([str(BIN / "tomato"), "-t"], cwd=lab.folder, env=env,
                             capture_output=True, text=True, timeout=60)
    assert started.returncode == 6, started.stderr
    assert started.stderr.strip().splitlines()[-1].startswith(f"error: {lock}: cannot be opened")
    assert victim.read_text() == "precious"
    lock.unlink()


def test_a_name_that_is_not_utf_8_is_refused_in_one_line(lab):
    (lab.root / "p.json").write_text('{"version": "0.2", "sample": {"name": "s1"}, "method": '
                                     '[{"device": "worker", "technique": "random", "time": 1, '
                                     '"delay": 0.1}]}')
    done = subprocess.run([str(BIN / "ketchup"), "--config", str(lab.folder), "submit",
                           "p.json", "-j", b"run\xff".decode(errors="surrogateescape")],
                          cwd=lab.root, env=lab.env, capture_output=True, timeout=60)
    assert done.returncode == 3 and b"Traceback" not in done.stderr
    assert done.stderr.decode() == "error: jobname: not valid UTF-8: 'run\\\\xff'\n"
    assert lab.json("status", "queue") == []  # nothing queued
