"""Many jobs in one job host: a host that dies or hangs ends its own jobs with every point
their devices measured, and never touches the jobs of another host or their devices."""

from __future__ import annotations

import os
import signal

from conftest import NO_WEB, payload, read_csv, until

from tomato.messages import GetServiceStatus

FOUR = ("devices:\n  - {name: d, driver: dummy, channels: [1, 2, 3, 4]}\n"
        "pipelines:\n  - name: p-*\n    devices: [{tag: worker, name: d, channel: each}]\n")
TWO_PER_HOST = "[jobs]\nstandby = 0\nper_host = 2\noutput_servers = 1\n" + NO_WEB


def four_jobs(tomato, seconds):
    """Four sequential jobs, two per host; {host pid: its jobids}."""
    for i in range(1, 5):
        tomato.prepare(f"p-{i}", "s1")
    jobids = [tomato.submit(payload("sequential", seconds, 0.1)) for _ in range(4)]
    for jobid in jobids:
        tomato.wait_points(jobid, 5)
    hosts = tomato.ask(GetServiceStatus()).job_hosts
    assert sorted(h.jobs for h in hosts) == [2, 2], hosts
    by_pid: dict[int, list[int]] = {}
    for jobid in jobids:
        by_pid.setdefault(tomato.job(jobid)["pid"], []).append(jobid)
    assert sorted(len(j) for j in by_pid.values()) == [2, 2], by_pid
    return by_pid


def values(tomato, jobid):
    return [v for _, v in read_csv(tomato.data_files(jobid)[0])]


def assert_ended_with_every_point(tomato, jobid, status, reason):
    job = tomato.wait_status(jobid, "c", "ce", "cd", timeout=40)
    assert job["status"] == status and reason in (job["reason"] or ""), job
    got = values(tomato, jobid)
    assert got == list(range(1, len(got) + 1)), got  # none lost, none twice


def test_a_killed_job_host_ends_its_jobs_with_their_points_and_spares_the_other_host(
        tomato_factory):
    tomato = tomato_factory(devices=FOUR, settings=TWO_PER_HOST)
    by_pid = four_jobs(tomato, 6)
    (killed, victims), (_, spared) = sorted(by_pid.items())
    os.kill(killed, signal.SIGKILL)
    for jobid in victims:
        assert_ended_with_every_point(tomato, jobid, "ce", "its job host exited")
    for jobid in spared:  # ran on, to the end
        assert_ended_with_every_point(tomato, jobid, "c", "")
        assert values(tomato, jobid) == list(range(1, 61))
    # The pipelines of the killed host's jobs run jobs again (their channels were freed).
    tomato.prepare(f"p-{1}", "s1")
    assert tomato.wait_status(tomato.submit(payload(time=0.3)), "c", "ce")["status"] == "c"


def test_a_hung_job_host_is_killed_and_only_its_jobs_end(tomato_factory):
    tomato = tomato_factory(devices=FOUR, settings=TWO_PER_HOST)
    by_pid = four_jobs(tomato, 60)  # the spared jobs outlast the test (stopped with it)
    (hung, victims), (_, spared) = sorted(by_pid.items())
    os.kill(hung, signal.SIGSTOP)  # answers nothing, writes nothing
    for jobid in victims:
        assert_ended_with_every_point(tomato, jobid, "ce", "did not answer a ping")
        assert len(values(tomato, jobid)) > 60  # what the device kept meanwhile
    until(lambda: not os.path.exists(f"/proc/{hung}"), 10, "the hung host to be gone")
    for jobid in spared:  # still running, still writing
        assert tomato.job(jobid)["status"] == "r"
        count = len(values(tomato, jobid))
        until(lambda j=jobid, c=count: len(values(tomato, j)) > c + 5, 10, "more points")
