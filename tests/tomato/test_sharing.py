"""A lab's tomato shared with a group (`[sharing]`): a second socket, 0660 for the group;
its members submit and cancel their own jobs, not others'. Run as a second user (nobody)."""

from __future__ import annotations

import grp
import json
import os
import pwd
import resource
import shutil
import socket
import subprocess
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import anyio
import pytest
from clusterlab import wait_known
from conftest import BIN, LEAN, payload, read_csv, until
from tomato.actors import connect

from tomato.cli.client import CLIENT_CODEC
from tomato.messages import CancelJobs, StopService, SubmitJob, TakeSnapshot
from tomato.payloadfile import read_payload

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")


@pytest.fixture
def shared_folder():
    """A folder nobody's group can reach and write (outside the test's private tmp_path):
    the lab's shared folder, where members' results go."""
    folder = Path(tempfile.mkdtemp(prefix="tomato-shared-", dir="/tmp"))
    os.chown(folder, 0, grp.getgrnam("nogroup").gr_gid)
    folder.chmod(0o770)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def as_nobody(sock: Path, msg: Any) -> dict[str, Any]:
    """`msg` asked over `sock` by a process of the user nobody (forked from this one, which
    has Python loaded: nobody cannot reach this interpreter's files); its reply's fields, or
    {"error": message}."""
    user = pwd.getpwnam("nobody")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: become nobody, ask, say what came back, leave at once
        os.close(read)
        try:
            os.setgid(user.pw_gid)
            os.setgroups([])
            os.setuid(user.pw_uid)

            async def ask() -> Any:
                async with connect(sock, CLIENT_CODEC) as conn:
                    return await conn.ask(msg, timeout=30)

            reply = anyio.run(ask)
            out: dict[str, Any] = {"ok": [asdict(r) for r in reply]
                                   if isinstance(reply, list) else asdict(reply)}
        except BaseException as exc:
            out = {"error": f"{type(exc).__name__}: {exc}"}
        os.write(write, json.dumps(out).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as answer:
        text = answer.read()
    os.waitpid(pid, 0)
    return json.loads(text)


def test_members_of_the_group_use_the_shared_socket_and_cancel_only_their_jobs(
        tomato_factory, shared_folder):
    lab = tomato_factory(settings=f'{LEAN}[sharing]\nsocket = "{shared_folder}/lab.sock"\n'
                                  'group = "nogroup"\n')
    sock = shared_folder / "lab.sock"
    assert (sock.stat().st_mode & 0o777, sock.stat().st_gid) == \
        (0o660, grp.getgrnam("nogroup").gr_gid)
    path = lab.root / "theirs.yml"
    path.write_text(json.dumps(payload(sample="theirs")))
    submitted = as_nobody(sock, SubmitJob(read_payload(path), "theirs.yml", str(shared_folder)))
    theirs = submitted["ok"]["jobid"]
    assert lab.job(theirs)["owner_name"] == "nobody"
    mine = lab.submit(payload(sample="mine"))
    refused = as_nobody(sock, CancelJobs((mine,)))
    assert f"job {mine} is not yours" in refused["error"], refused
    assert lab.status(mine) in ("q", "qw")  # still queued
    assert as_nobody(sock, CancelJobs((theirs,)))["ok"][0]["status"] == "cd"
    assert "StopService: only" in as_nobody(sock, StopService())["error"]
    # tomato's user reaches the shared socket with TOMATO_SOCKET (ketchup, as a lab would).
    listed = subprocess.run([str(BIN / "ketchup"), "status", "queue", "--json"],
                            env={**lab.env, "TOMATO_SOCKET": str(sock)}, cwd=lab.root,
                            capture_output=True, text=True, timeout=60, check=True)
    assert [j["jobid"] for j in json.loads(listed.stdout)] == [mine]
    # The service's own socket stays its user's alone.
    assert lab.socket.stat().st_mode & 0o777 == 0o600


def test_through_another_tomato_of_the_cluster_members_cancel_only_their_own_jobs(
        cluster, shared_folder):
    """Across PCs, the owner is known by user name: a uid of one PC need not be the same
    person on another."""
    sharing = f'[sharing]\nsocket = "{shared_folder}/%s.sock"\ngroup = "nogroup"\n'
    a = cluster("pc-a", settings=LEAN + sharing % "a")
    b = cluster("pc-b", settings=LEAN + sharing % "b")
    path = a.root / "theirs.yml"
    path.write_text(json.dumps(payload(sample="theirs")))
    theirs = as_nobody(shared_folder / "a.sock", SubmitJob(read_payload(path), "theirs.yml",
                                                           str(shared_folder)))["ok"]["jobid"]
    mine = a.submit(payload(sample="mine"))
    wait_known(b, theirs)
    wait_known(b, mine)
    refused = as_nobody(shared_folder / "b.sock", CancelJobs((mine,)))
    assert f"job {mine} is not yours" in refused["error"], refused
    assert "error" not in as_nobody(shared_folder / "b.sock", CancelJobs((theirs,)))
    assert a.wait_status(theirs, "cd")["owner_name"] == "nobody"
    assert a.status(mine) == "qw"


def _flood(sock: Path, count: int) -> list[socket.socket]:
    """`count` idle connections to `sock` (those the service closes at once stay open
    here: they hold the client's descriptors as a careless or hostile client would)."""
    held = []
    for _ in range(count):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(str(sock))
        held.append(s)
    return held


def test_a_flood_of_idle_connections_leaves_the_service_and_its_job_running(
        tomato_factory, shared_folder):
    """1,100 idle connections, from a member through the shared socket and from tomato's
    own user, on a service under `ulimit -n 1024`: the member is capped, the service goes
    on, its job runs to `c` with every point, and tomato's user is still answered."""
    lab = tomato_factory(settings=f'{LEAN}[sharing]\nsocket = "{shared_folder}/lab.sock"\n'
                                  'group = "nogroup"\n', start=False).start(open_files=1024)
    lab.prepare("dummy-5", "s1")
    jobid = lab.submit(payload(technique="sequential", time=6, delay=0.1))
    lab.wait_status(jobid, "r")
    user = pwd.getpwnam("nobody")
    ready, done = os.pipe(), os.pipe()
    pid = os.fork()
    if pid == 0:  # nobody, holding 1,100 connections until told to let go
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
            os.setgid(user.pw_gid)
            os.setgroups([])
            os.setuid(user.pw_uid)
            held = _flood(shared_folder / "lab.sock", 1100)
            os.write(ready[1], str(len(held)).encode())
            os.read(done[0], 1)
        finally:
            os._exit(0)
    held: list[socket.socket] = []
    try:
        assert os.read(ready[0], 16) == b"1100"
        # tomato's own user floods its own socket too, beyond the service's descriptors.
        resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
        held = _flood(lab.socket, 1100)
        refused = lab.ketchup("status", "queue", check=False)
        assert refused.returncode == 1 and "holds as many connections as it may" in \
            refused.stderr, refused.stderr  # not "tomato is not running"
        for s in held[:400]:  # some let go: tomato's user is answered again
            s.close()
        until(lambda: lab.ketchup("status", "queue", check=False).returncode == 0, 10,
              "an answer once connections were let go")
    finally:
        os.write(done[1], b"x")
        os.waitpid(pid, 0)
        for s in held:
            s.close()
    job = lab.wait_status(jobid, "c", "ce", timeout=30)
    assert job["status"] == "c", job
    assert [v for _, v in read_csv(lab.data_files(jobid)[0])] == list(range(1, 61))
    log = lab.log.read_text()
    assert "per other user" in log and "refused" in log


def test_a_members_results_are_written_as_the_member_could(tomato_factory, shared_folder,
                                                           tmp_path):
    """Through the shared socket, a member cannot make a root-run tomato write where the
    member may not: a root-only folder, through a symlink or `..`, over another's file;
    what is theirs arrives as their own files."""
    lab = tomato_factory(settings=f'{LEAN}[sharing]\nsocket = "{shared_folder}/lab.sock"\n'
                                  'group = "nogroup"\n')
    sock = shared_folder / "lab.sock"
    private = Path(tempfile.mkdtemp(prefix="tomato-private-", dir="/tmp"))  # root's, 0700
    try:
        (shared_folder / "link").symlink_to(private)

        def submit(**output: str) -> dict[str, Any]:
            body = payload(time=0.3, sample="theirs", output=output)
            path = lab.root / "theirs.yml"
            path.write_text(json.dumps(body))
            return as_nobody(sock, SubmitJob(read_payload(path), "theirs.yml",
                                             str(shared_folder)))

        for folder in (str(private), str(private / "a" / "b"), "link", "link/deeper",
                       f"../{private.name}"):
            refused = submit(path=folder)
            assert "tomato.output.path: results are written as you could; nobody may not " \
                   f"write in {private}" in refused.get("error", ""), (folder, refused)
        assert list(private.iterdir()) == []  # nothing made there
        victim = shared_folder / "victim.zip"
        victim.write_text("root's")
        lab.prepare("dummy-5", "theirs")
        jobid = submit(prefix="victim")["ok"]["jobid"]
        job = lab.wait_status(jobid, "c", "ce")
        assert job["status"] == "c", job
        assert victim.read_text() == "root's"  # not overwritten
        assert f"victim.zip exists and is not this job's: written as victim.job{jobid}.zip" \
            in job["reason"]
        for name in ("victim.nc", f"victim.job{jobid}.zip"):  # theirs, as their own files
            assert (shared_folder / name).stat().st_uid == pwd.getpwnam("nobody").pw_uid
        # A snapshot asked for with a folder that is not theirs: refused, nothing written.
        snap = as_nobody(sock, TakeSnapshot(jobid, str(private)))
        assert "nobody may not write in" in snap["error"] and list(private.iterdir()) == []
    finally:
        shutil.rmtree(private, ignore_errors=True)
