"""The service itself: devices supervised, settings written, stop guarded, status shown."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest
from conftest import BIN, NO_WEB, WARM, payload, pids_of, read_csv, spend_restart_budget, until

from tomato.messages import GetPipelines, GetServiceStatus, SetReady


def service_status(tomato):
    return json.loads(tomato.run("tomato", "status", "--json").stdout)


def test_first_run_writes_default_settings_in_test_mode(tomato_factory):
    tomato = tomato_factory(settings=None)
    text = (tomato.root / "settings.toml").read_text()
    assert 'state = "tomato.db"' in text and 'jobs = "jobs"' in text
    assert (tomato.root / "tomato.db").exists()
    status = service_status(tomato)
    assert status["pid"] == tomato.process.pid
    assert status["devices_file"] == "built-in default"
    [device] = status["devices"]
    assert device["name"] == "dummy_device" and device["state"] == "running"
    assert device["channels"] == {"5": "idle", "10": "idle"}


def test_a_killed_device_process_is_restarted(tomato):
    [device] = service_status(tomato)["devices"]
    os.kill(device["pid"], signal.SIGKILL)
    restarted = until(lambda: (d := tomato.ask(GetServiceStatus()).devices[0]).restarts == 1
                      and d.state == "running" and d, 20, "the device to restart")
    assert restarted.pid != device["pid"]
    tomato.prepare("dummy-5", "s1")
    jobid = tomato.submit(payload(time=0.3))
    assert tomato.wait_status(jobid, "c", "ce")["status"] == "c"


def test_a_job_goes_on_when_its_device_process_is_restarted(tomato):
    tomato.prepare("dummy-5", "s1")
    jobid = tomato.submit(payload("sequential", 3, 0.1))
    tomato.wait_points(jobid, 5)
    [device] = service_status(tomato)["devices"]
    os.kill(device["pid"], signal.SIGKILL)
    job = tomato.wait_status(jobid, "c", "ce", "cd")
    assert job["status"] == "c", job
    assert "its device restarted" in job["reason"]  # said, not hidden
    [data] = tomato.data_files(jobid)
    rows = read_csv(data)
    assert [value for _, value in rows[:5]] == [1, 2, 3, 4, 5]
    assert 5 < len(rows) < 30  # before the crash, and after it, for the step's last seconds
    times = [uts for uts, _ in rows]
    assert times == sorted(times) and times[-1] - times[0] < 3.2
    log = (tomato.jobdir(jobid) / "jobdata.log").read_text()
    assert "lost its device on worker" in log


def test_stop_is_refused_while_a_job_runs_unless_forced(tomato):
    tomato.prepare("dummy-5", "s1")
    jobid = tomato.submit(payload(time=30))
    tomato.wait_status(jobid, "r")
    refused = tomato.run("tomato", "stop", check=False)
    assert refused.returncode == 5
    assert f"job(s) {jobid} are running" in refused.stderr
    assert tomato.process.poll() is None
    tomato.run("tomato", "stop", "--force")
    assert tomato.process.wait(20) == 0
    # The job was cancelled (its data kept), and the state survives a restart.
    tomato.start()
    assert tomato.status(jobid) == "cd"
    assert tomato.data_files(jobid)
    assert tomato.pipelines()["dummy-5"]["sample"] == "s1"


def test_tomato_says_in_one_line_when_it_is_ready(tomato_factory):
    lab = tomato_factory(start=False)
    with subprocess.Popen([str(BIN / "tomato"), "--config", str(lab.root)], env=lab.env,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()  # the service writes it once it answers
            assert line.startswith("tomato ready (pipelines: 2, devices: 1); socket "), line
            assert lab.ask(GetPipelines())  # it does answer
            lab.submit({**payload(), "version": "0.1"})  # upgrading 0.1 prints: not here
        finally:
            proc.terminate()
            proc.wait(20)
        assert proc.stdout.read() == ""


def test_sigterm_stops_the_service_and_its_device_processes(tomato):
    [device] = service_status(tomato)["devices"]
    tomato.process.send_signal(signal.SIGTERM)
    assert tomato.process.wait(20) == 0
    until(lambda: not os.path.exists(f"/proc/{device['pid']}"), 10, "the device to exit")
    assert not tomato.socket.parent.exists()  # no runtime folder left behind


def test_queued_jobs_survive_a_restart_of_the_service(tomato):
    jobid = tomato.submit(payload(time=0.3))
    tomato.stop()
    tomato.start()
    assert tomato.status(jobid) == "qw"
    tomato.prepare("dummy-10", "s1")
    assert tomato.wait_status(jobid, "c")["pipeline"] == "dummy-10"


@pytest.mark.parametrize("how", ["crash", "sigterm"])
def test_a_service_restarted_after_a_crash_or_a_signal_takes_over_the_running_job(tomato,
                                                                                    how):
    tomato.prepare("dummy-5", "s1")
    jobid = tomato.submit(payload("sequential", 3, 0.1))
    tomato.wait_status(jobid, "r")
    tomato.wait_points(jobid, 3)
    if how == "crash":
        tomato.process.kill()  # the supervisor dies; its job and device processes run on
        tomato.process.wait()
    else:  # systemctl restart, an upgrade: the experiment goes on meanwhile
        tomato.process.send_signal(signal.SIGTERM)
        assert tomato.process.wait(20) == 0
        assert f"job(s) {jobid} keep running" in tomato.log.read_text()
    tomato.start()
    job = tomato.wait_status(jobid, "c", "ce", "cd")
    assert job["status"] == "c", job
    [data] = tomato.data_files(jobid)
    assert [value for _, value in read_csv(data)] == list(range(1, 31))  # none lost
    assert (tomato.root / f"results.{jobid}.nc").exists()
    assert f"job {jobid}: taken over" in tomato.log.read_text()  # not ended, nor run again


def test_a_job_handed_over_just_before_a_crash_is_taken_over_all_the_same(tomato):
    """The crash came after its process took it, before its pid was recorded."""
    tomato.prepare("dummy-5", "s1")
    jobid = tomato.submit(payload("sequential", 2, 0.1))
    tomato.wait_points(jobid, 3)
    tomato.process.kill()
    tomato.process.wait()
    with sqlite3.connect(tomato.root / "tomato.db") as db:  # as if it had not been recorded
        db.execute("UPDATE jobs SET pid = NULL WHERE jobid = ?", (jobid,))
    tomato.start()
    job = tomato.wait_status(jobid, "c", "ce", "cd")
    assert job["status"] == "c", job
    assert [value for _, value in read_csv(tomato.data_files(jobid)[0])] == list(range(1, 21))


def test_a_service_restarted_after_a_crash_makes_the_outputs_it_owed(tomato_factory):
    """Data collected, outputs not yet made (the output servers are held), then a crash."""
    tomato = tomato_factory(settings="[jobs]\nstandby = 0\noutput_servers = 2\n" + NO_WEB)
    rundir = str(tomato.socket.parent).encode()
    servers = until(lambda: len(found := pids_of(b"tomato.outputs", rundir)) == 2 and found, 20,
                    "the output servers")
    for pid in servers:
        os.kill(pid, signal.SIGSTOP)
    tomato.prepare("dummy-5", "s1")
    jobid = tomato.submit(payload("sequential", 0.3, 0.1))
    until(lambda: tomato.pipelines()["dummy-5"]["jobid"] is None, 20, "the data collected")
    assert tomato.status(jobid) == "r"  # its outputs wait for the held servers
    tomato.process.kill()
    tomato.process.wait()
    for pid in servers:
        os.kill(pid, signal.SIGCONT)
    tomato.start()
    job = tomato.wait_status(jobid, "c", "ce", "cd")
    assert job["status"] == "c", job
    assert (tomato.root / f"results.{jobid}.nc").exists()
    assert "data collected before a restart" in tomato.log.read_text()
    until(lambda: not any(os.path.exists(f"/proc/{pid}") for pid in servers), 20,
          "the old output servers to be stopped")


def test_jobs_run_together_in_the_job_host_that_waited_for_them(tomato_factory):
    tomato = tomato_factory(settings=None)  # the defaults: a job host waits, output servers
    rundir = str(tomato.socket.parent).encode()
    [host] = until(lambda: pids_of(b"tomato.job", rundir), 20, "the waiting job host")
    tomato.prepare("dummy-5", "s1")
    tomato.prepare("dummy-10", "s1")
    first = tomato.submit(payload("sequential", 1.5, 0.1), "first")
    second = tomato.submit(payload("sequential", 1.5, 0.1), "second")
    until(lambda: tomato.status(first) == tomato.status(second) == "r", 20, "both running")
    # `r` is said as the service hands a job over; the host may still be starting.
    until(lambda: [(h.name, h.pid, h.jobs) for h in tomato.ask(GetServiceStatus()).job_hosts]
          == [("jobhost-1", host, 2)], 20, "both jobs in the host that waited")
    for jobid in (first, second):
        assert tomato.wait_status(jobid, "c", "ce")["status"] == "c"
        values = [v for _, v in read_csv(tomato.data_files(jobid)[0])]
        assert values == list(range(1, 16))
        # Each job's log holds its own lines only.
        log = (tomato.jobdir(jobid) / "jobdata.log").read_text()
        assert f"job {jobid} started" in log and f"job {first + second - jobid} " not in log
    log = tomato.log.read_text()
    assert f"job {first}: handed to jobhost-1" in log and "no job host had room" not in log
    # The host waits on, for the next jobs; no other was started.
    assert pids_of(b"tomato.job", rundir) == {host}
    assert tomato.ask(GetServiceStatus()).job_hosts[0].jobs == 0


def test_outputs_wait_for_an_output_server_rather_than_start_a_process_of_their_own(
        tomato_factory):
    tomato = tomato_factory(settings="[jobs]\nstandby = 0\noutput_servers = 1\n" + NO_WEB)
    tomato.prepare("dummy-5", "s1")  # at once, while the output server is still starting
    jobid = tomato.submit(payload(time=0.05, delay=0.05))
    job = tomato.wait_status(jobid, "c", "ce")
    assert job["status"] == "c" and job["outputs"], job
    assert "one-off output process" not in tomato.log.read_text()


def test_an_output_server_killed_while_it_makes_a_job_s_outputs_is_restarted_and_makes_them(
        tomato_factory):
    tomato = tomato_factory(settings=WARM)
    rundir = str(tomato.socket.parent).encode()
    until(lambda: b"outputs-0 started" in tomato.log.read_bytes(), 30, "the output server")
    [server] = pids_of(b"tomato.outputs", rundir)
    os.kill(server, signal.SIGSTOP)  # it takes the job's request, and answers nothing
    tomato.prepare("dummy-5", "s1")
    jobid = tomato.submit(payload("sequential", 0.5, 0.1))
    until(lambda: f"job {jobid}: outputs asked of outputs-0".encode() in
          tomato.log.read_bytes(), 20, "the request sent")
    os.kill(server, signal.SIGKILL)
    job = tomato.wait_status(jobid, "c", "ce", "cd")
    assert job["status"] == "c" and job["outputs"], job
    assert_outputs_hold_the_raw_data(tomato, jobid)
    assert pids_of(b"tomato.outputs", rundir) - {server}  # made by the restarted server
    assert "one-off output process" not in tomato.log.read_text()


def running_job(tomato, seconds=20):
    """A sequential job on dummy-5 with a few points written; (jobid, its process's pid)."""
    tomato.prepare("dummy-5", "s1")
    jobid = tomato.submit(payload("sequential", seconds, 0.1))
    tomato.wait_points(jobid, 5)
    [pid] = pids_of(b"tomato.job", str(tomato.socket.parent).encode())  # its host
    return jobid, pid


def assert_outputs_hold_the_raw_data(tomato, jobid):
    import xarray as xr

    [raw] = tomato.data_files(jobid)
    values = [v for _, v in read_csv(raw)]  # a sequential job's: none lost, none twice
    assert values == list(range(1, len(values) + 1))
    with xr.open_datatree(tomato.root / f"results.{jobid}.nc") as tree:
        assert tree["worker"].sizes["uts"] == len(values) >= 5


def assert_pipeline_runs_a_job_again(tomato):
    """Its device channel was freed: the next job on it completes."""
    assert tomato.ask(GetServiceStatus()).devices[0].channels["5"] != "running"
    tomato.ask(SetReady("dummy-5", True))
    assert tomato.wait_status(tomato.submit(payload(time=0.3)), "c", "ce")["status"] == "c"


def test_a_killed_job_process_ends_its_job_ce_with_its_outputs_and_stops_its_task(
        tomato_factory):
    tomato = tomato_factory(settings=WARM)  # two jobs' outputs: one server makes both
    jobid, pid = running_job(tomato)
    os.kill(pid, signal.SIGKILL)
    job = tomato.wait_status(jobid, "c", "ce", "cd")
    assert job["status"] == "ce" and "job host exited" in job["reason"], job
    assert_outputs_hold_the_raw_data(tomato, jobid)
    assert_pipeline_runs_a_job_again(tomato)


def test_a_hung_job_process_is_killed_and_its_job_ends_ce_with_every_point(tomato):
    jobid, pid = running_job(tomato)
    os.kill(pid, signal.SIGSTOP)  # hangs: it answers nothing, and writes nothing
    written = len(read_csv(tomato.data_files(jobid)[0]))
    job = tomato.wait_status(jobid, "c", "ce", "cd", timeout=30)
    assert job["status"] == "ce", job
    assert "job host did not answer a ping within 5 s, 2 times in a row: killed" in \
        job["reason"], job
    assert not os.path.exists(f"/proc/{pid}")
    # What the device measured meanwhile (5 s or more at 0.1 s) is saved, in order.
    values = [v for _, v in read_csv(tomato.data_files(jobid)[0])]
    assert values == list(range(1, len(values) + 1)) and len(values) > written + 40
    assert_outputs_hold_the_raw_data(tomato, jobid)
    assert_pipeline_runs_a_job_again(tomato)


def test_a_service_restarted_after_its_job_process_died_too_ends_the_job_ce_with_outputs(
        tomato):
    jobid, pid = running_job(tomato)
    tomato.process.kill()
    tomato.process.wait()
    os.kill(pid, signal.SIGKILL)
    until(lambda: not os.path.exists(f"/proc/{pid}"), 10, "the job process to be gone")
    tomato.start()  # starts (the job cannot be taken over)
    job = tomato.wait_status(jobid, "c", "ce", "cd")
    assert job["status"] == "ce" and "tomato stopped while this job was running" in job["reason"]
    assert_outputs_hold_the_raw_data(tomato, jobid)
    assert_pipeline_runs_a_job_again(tomato)


def test_when_the_service_dies_for_good_its_processes_finish_their_work_then_stop(
        tomato_factory):
    tomato = tomato_factory(settings="[jobs]\nstandby = 2\noutput_servers = 1\n"
                                     "orphan_grace = 1\n[web]\nlisten = \"127.0.0.1:0\"\n")
    rundir = str(tomato.socket.parent).encode()
    until(lambda: pids_of(b"tomato.outputs", rundir) and len(pids_of(b"tomato.job", rundir)) == 2
          and pids_of(b"tomato.web", rundir), 20,
          "an output server, two standby job processes and the web process")
    for pid in pids_of(b"tomato.outputs", rundir) | pids_of(b"tomato.job", rundir):
        # one BLAS thread each: they do no linear algebra
        assert b"OPENBLAS_NUM_THREADS=1\0" in Path(f"/proc/{pid}/environ").read_bytes()
    tomato.prepare("dummy-5", "s1")
    jobid = tomato.submit(payload("sequential", 1.5, 0.1))
    tomato.wait_points(jobid, 5)
    tomato.process.kill()
    tomato.process.wait()
    # What it left (a waiting job process may have been started to refill the pool).
    jobs, outputs = pids_of(b"tomato.job", rundir), pids_of(b"tomato.outputs", rundir)
    devices = pids_of(b"tomato.drivers.device", rundir)
    web = pids_of(b"tomato.web", rundir)
    assert len(jobs) >= 2 and len(outputs) == 1 and len(devices) == 1 and len(web) == 1
    children = jobs | outputs | devices | web
    until(lambda: not any(os.path.exists(f"/proc/{pid}") for pid in children), 30,
          lambda: "every process of the dead service to stop; left: " + ", ".join(
              Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[2].decode()
              for pid in children if os.path.exists(f"/proc/{pid}")))
    # The device kept serving its job to the end: every point is in the raw data.
    assert [v for _, v in read_csv(tomato.data_files(jobid)[0])] == list(range(1, 16))


def test_a_device_that_spent_its_restart_budget_stays_failed_until_tomato_restart(tomato):
    spend_restart_budget(tomato)
    assert "device dummy_device failed" in tomato.pipelines()["dummy-5"]["failed"]
    assert tomato.run("tomato", "restart", "nope", check=False).returncode == 4
    out = tomato.run("tomato", "restart", "dummy_device").stdout
    assert out.startswith("device dummy_device is running")
    assert tomato.pipelines()["dummy-5"]["failed"] is None
    # A running device no job uses is restarted too: a new process.
    again = tomato.run("tomato", "restart", "dummy_device").stdout
    assert again.startswith("device dummy_device is running") and again != out
    tomato.prepare("dummy-5", "s1")
    assert tomato.wait_status(tomato.submit(payload(time=0.3)), "c", "ce")["status"] == "c"
