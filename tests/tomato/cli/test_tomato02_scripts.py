"""Scripts written for tomato 0.2 (an AiiDA scheduler plugin, a battery-fleet manager) run
unchanged: each command string they send, through the real CLI, parsed as they parse it."""

from __future__ import annotations

import base64
import json
import subprocess

from conftest import BIN, payload


def sh(lab, command: str, cwd=None) -> subprocess.CompletedProcess[str]:
    """`command` as the scripts send it over SSH: a shell line (ketchup as on their PATH)."""
    return subprocess.run(command, shell=True, cwd=cwd or lab.root, capture_output=True,
                          text=True, timeout=60,
                          env={**lab.env, "PATH": f"{BIN}:{lab.env['PATH']}",
                               "TOMATO_SOCKET": str(lab.socket)})


def test_each_command_of_the_tomato_0_2_scripts(lab, tmp_path):
    assert json.loads(sh(lab, "ketchup status -J").stdout) == {
        "pipeline": ["dummy-5", "dummy-10"], "sampleid": [None, None], "ready": [0, 0],
        "jobid": [None, None], "pid": [None, None]}
    assert json.loads(sh(lab, "ketchup status queue -J").stdout) == {}
    encoded = base64.b64encode(json.dumps(payload(time=30, sample="s1")).encode()).decode()
    out = sh(lab, f"ketchup submit -J {encoded}").stdout
    jobid = int(out.splitlines()[0].split("jobid: ")[1])  # as the plugin reads it
    assert out.splitlines()[1] == "jobname: null"
    lab.prepare("dummy-5", "s1")
    lab.wait_status(jobid, "r")
    pipelines = json.loads(sh(lab, "ketchup status -J").stdout)
    assert pipelines["jobid"][0] == jobid and isinstance(pipelines["pid"][0], int)
    assert pipelines["ready"][0] in (0, 1)  # an integer, as 0.2 printed it
    queue = json.loads(sh(lab, "ketchup status queue -J").stdout)
    assert queue == {"jobid": [jobid], "jobname": [None], "status": ["r"],
                     "pipeline": ["dummy-5"], "pid": [pipelines["pid"][0]]}
    one = json.loads(sh(lab, f"ketchup status -J {jobid}").stdout)
    assert one["status"][0] == "r" and set(one) == {
        "jobid", "jobname", "status", "submitted_at", "executed_at", "completed_at",
        "pipeline", "pid"}
    snap = sh(lab, f"cd {tmp_path} && ketchup snapshot {jobid}")
    assert snap.returncode == 0 and (tmp_path / f"snapshot.{jobid}.nc").exists()
    assert sh(lab, f"ketchup cancel {jobid}").returncode == 0
    lab.wait_status(jobid, "cd")
    # Finished jobs: `status queue -v` (and `ketchup -v status queue`) show them too.
    assert jobid in json.loads(sh(lab, "ketchup status queue -v -J").stdout)["jobid"]
    assert str(jobid) in sh(lab, "ketchup status queue -v").stdout
    assert str(jobid) in sh(lab, "ketchup -v status queue").stdout
    assert json.loads(sh(lab, "ketchup status queue -J").stdout) == {}  # without -v: none
    # cancel_all: every queued and running job, a line each.
    first, second = (lab.submit(payload(sample="nowhere")) for _ in range(2))
    lines = sh(lab, "ketchup cancel_all").stdout.splitlines()
    assert lines == [f"job {first}: cd", f"job {second}: cd"]


def test_a_base64_payload_is_checked_as_a_file_is(lab):
    refused = sh(lab, "ketchup submit -J 'not base64!'")
    assert refused.returncode == 3 and "(base64 payload): not base64" in refused.stderr
    bad = base64.b64encode(json.dumps(payload(technique="teleport")).encode()).decode()
    refused = sh(lab, f"ketchup submit -J {bad}")
    assert refused.returncode == 3 and "(base64 payload): method[0].technique: no device " \
        "can do technique 'teleport'" in refused.stderr
    assert "kept for tomato 0.2 scripts" in sh(lab, "ketchup status --help").stdout
