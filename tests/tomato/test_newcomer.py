"""Rough edges a newcomer met: the ready line said twice, a snapshot without its job's
status, ketchup's help naming half its commands."""

from __future__ import annotations

import json
import subprocess

from conftest import BIN, NO_WEB, open_datagram, payload, until


def test_the_ready_line_is_said_once_at_every_verbosity(tmp_path, env):
    for flags in ((), ("-v",)):
        folder = tmp_path / f"lab{len(flags)}"
        folder.mkdir()
        (folder / "settings.toml").write_text("[jobs]\nstandby = 0\noutput_servers = 0\n" + NO_WEB)
        out = folder / "out"
        with out.open("w") as sink:
            service = subprocess.Popen([str(BIN / "tomato"), "-t", *flags], cwd=folder,
                                       env=env, stdout=sink, stderr=subprocess.STDOUT)
        try:
            until(lambda out=out: "tomato ready" in out.read_text(), 30, "the ready line")
        finally:
            service.terminate()
            service.wait(30)
        assert out.read_text().count("tomato ready") == 1, out.read_text()


def test_a_snapshot_says_its_job_s_status(lab, tmp_path):
    lab.prepare("dummy-5", "s1")
    jobid = lab.submit(payload(time=60, delay=0.1))
    lab.wait_points(jobid, 3)
    lab.ketchup("snapshot", str(jobid), cwd=tmp_path)
    assert open_datagram(tmp_path / f"snapshot.{jobid}.nc").attrs["status"] == "r"
    lab.ketchup("cancel", str(jobid))


def test_ketchup_s_help_names_what_it_does(tmp_path):
    out = subprocess.run([str(BIN / "ketchup"), "--help"], capture_output=True, text=True,
                         cwd=tmp_path, timeout=30, check=True).stdout
    about = " ".join(out.split("Options:")[0].split())
    for what in ("watch", "snapshots", "search", "cancel", "components"):
        assert what in about, about


def test_submit_check_validates_against_the_lab_and_queues_nothing(lab):
    (lab.root / "ok.json").write_text(json.dumps(payload()))
    out = lab.ketchup("submit", "--check", "ok.json").stdout
    assert out.strip() == ("ok.json: a valid 0.2 payload; pipelines that can run it: "
                           "dummy-5, dummy-10")
    assert lab.json("submit", "--check", "ok.json")["pipelines"] == ["dummy-5", "dummy-10"]
    (lab.root / "bad.json").write_text(json.dumps(payload(technique="teleport")))
    refused = lab.ketchup("submit", "--check", "bad.json", check=False)
    assert refused.returncode == 3 and "no device can do technique 'teleport'" in \
        refused.stderr
    assert lab.json("status", "queue") == []  # nothing queued, either time
