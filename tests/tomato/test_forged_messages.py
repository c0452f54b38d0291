"""A message whose field has the wrong type is refused where it is decoded, naming the
field, at each border: client → service, service → device, service → job host, the
cluster's commands and entries, and the configuration each child process starts with. What
it asked for does not happen; the process answers on."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import msgpack
import pytest
from conftest import LEAN, payload, until
from tomato.actors._codec import PROTOCOL_VERSION
from tomato.actors._frame import HEADER, frame
from tomato.drivers import Describe

from tomato.codec import CODEC
from tomato.messages import GetServiceStatus

TWO_HOSTS = "[jobs]\nstandby = 1\noutput_servers = 0\n[web]\nlisten = \"\"\n"


def forged(name: str, body: dict[str, Any]) -> bytes:
    """A message `name` with these fields, as a client would send it."""
    return msgpack.packb(msgpack.ExtType(1, msgpack.packb([name, body])))


def call(sock: Path, message: bytes) -> Any:
    """One call over a raw connection; its decoded reply frame [v, kind, id, op, body]."""
    with socket.socket(socket.AF_UNIX) as raw:
        raw.settimeout(10)
        raw.connect(str(sock))
        envelope = msgpack.packb([PROTOCOL_VERSION, "call", 7, "x", msgpack.ExtType(
            1, msgpack.unpackb(message).data)])
        raw.sendall(frame(envelope))
        data = b""
        while len(data) < 4 or len(data) < 4 + HEADER.unpack(data[:4])[0]:
            chunk = raw.recv(65536)
            assert chunk, "the connection was closed without an answer"
            data += chunk
        return CODEC.decode(data[4:4 + HEADER.unpack(data[:4])[0]])


def test_client_to_service(tomato):
    reply = call(tomato.socket, forged("LoadSample", {"pipeline": "dummy-5", "sample": 42}))
    assert reply[1] == "error" and reply[2] == 7
    assert reply[4]["type"] == "ProtocolError"
    assert "field 'sample' must be str, not int" in reply[4]["message"]
    assert tomato.pipelines()["dummy-5"]["sample"] is None  # nothing loaded
    jobs = call(tomato.socket, forged("GetJobs", {"jobids": [], "finished": True}))
    assert jobs[1] == "reply"  # the same connection's next call is answered


def test_service_to_device(tomato):
    [sock] = tomato.socket.parent.glob("dev-*.sock")
    reply = call(sock, forged("StartTask", {"channel": "5", "task": "random", "task_id": "x"}))
    assert reply[1] == "error" and "field 'task' must be Task" in reply[4]["message"]
    [device] = tomato.ask(GetServiceStatus()).devices
    assert device.state == "running" and "running" not in device.channels.values()


def test_service_to_job_host(tomato_factory):
    tomato = tomato_factory(settings=TWO_HOSTS)
    sock = until(lambda: next(tomato.socket.parent.glob("jobhost-*.sock"), None), 20,
                 "the waiting job host")
    reply = call(sock, forged("CancelRun", {"jobid": "1"}))
    assert reply[1] == "error" and "field 'jobid' must be int, not str" in reply[4]["message"]
    assert call(sock, forged("GetHostedJobs", {}))[1] in ("reply", "error")  # answers on
    tomato.prepare("dummy-5", "s1")
    jobid = tomato.submit(payload("random", 0.3, 0.1))
    assert tomato.wait_status(jobid, "c", "ce", "cd")["status"] == "c"


@pytest.mark.timeout(60)
def test_the_cluster_s_commands(cluster, nats):
    from tomato.service.cluster.rpc import subject

    cluster("pc-a", settings=LEAN)

    async def ask() -> Any:
        import nats as nats_client

        nc = await nats_client.connect(nats.url)
        try:
            msg = await nc.request(subject("pc-a"), forged(
                "LoadSample", {"pipeline": ["dummy-5"], "sample": "s1"}), timeout=10)
        finally:
            await nc.close()
        return CODEC.decode(msg.data)

    reply = anyio.run(ask)
    assert "field 'pipeline' must be str" in reply["error"]["message"]


def test_the_cluster_s_entries(cluster, nats):
    """An entry of the cluster's buckets with a field of the wrong type is not a job (nor a
    host, nor a pipeline): said in the log, left alone; the tomato goes on with the rest."""
    a = cluster("pc-a", settings=LEAN)
    forgeries = {
        ("tomato_jobs", "job.901"): ({"jobid": "901", "status": "q"},
                                     "field 'jobid' must be int"),
        ("tomato_jobs", "job.902"): ({"jobid": 902, "status": "done"},
                                     "field 'status' must be a job status"),
        ("tomato_hosts", "pc-x"): ({"host": "pc-x", "stopped": "yes"},
                                   "field 'stopped' must be bool"),
    }

    async def put() -> None:
        import nats as nats_client

        nc = await nats_client.connect(nats.url)
        try:
            for (bucket, key), (body, _) in forgeries.items():
                kv = await nc.jetstream().key_value(bucket)
                await kv.put(key, msgpack.packb(body))
        finally:
            await nc.close()

    until(lambda: b"cluster: jobids" in a.log.read_bytes(), 20, "pc-a in the cluster")
    anyio.run(put)
    for (bucket, key), (_, why) in forgeries.items():
        line = f"cluster: entry {key} of {bucket} is not a".encode()
        until(lambda line=line, why=why: line in a.log.read_bytes()
              and why.encode() in a.log.read_bytes(), 20, f"{key} refused")
    assert a.json("status", "queue", "-a") == []  # neither 901 nor 902
    jobid = a.submit(payload("sequential", 0.1, 0.1))
    assert [job["jobid"] for job in a.json("status", "queue", "-a")] == [jobid]


@pytest.mark.parametrize("module, config", [
    ("tomato.drivers.device", "DeviceConfig"), ("tomato.job", "JobHostConfig"),
    ("tomato.web", "WebConfig"), ("tomato.outputs --serve", "OutputServerConfig")])
def test_a_child_process_s_configuration(tmp_path, module, config):
    """Service → a child it starts: the configuration comes typed on standard input; garbage,
    another message or a field of the wrong type is refused in one line, and nothing is
    served."""
    sock = tmp_path / "child.sock"
    wrong = {"DeviceConfig": {"name": "d", "driver": "dummy", "channels": "1,2",
                              "settings": {}, "address": None, "log_level": "WARNING",
                              "supervisor": None, "orphan_grace": 1.0, "owner_pidfile": None},
             "JobHostConfig": {"supervisor": str(tmp_path), "orphan_grace": "soon",
                               "poll_interval": 1.0, "log_level": "WARNING"},
             "WebConfig": {"listen": 8742, "service": "", "tokens": "", "results": "",
                           "address_file": "", "orphan_grace": 1.0, "log_level": "WARNING"},
             "OutputServerConfig": {"supervisor": None, "orphan_grace": [1]}}[config]
    field = {"DeviceConfig": "channels", "JobHostConfig": "orphan_grace",
             "WebConfig": "listen", "OutputServerConfig": "orphan_grace"}[config]
    other = Describe() if config == "DeviceConfig" else GetServiceStatus()  # known there
    for given, expected in ((b"garbage", f"a {config} expected"),
                            (CODEC.encode(other), f"a {config} expected, not a "
                                                  f"{type(other).__name__}"),
                            (forged(config, wrong), f"field '{field}' must be")):
        done = subprocess.run([sys.executable, "-m", *module.split(), str(sock)], input=given,
                              capture_output=True, timeout=30)
        assert done.returncode != 0
        assert done.stderr.decode().startswith("error: standard input: "), done.stderr
        assert expected in done.stderr.decode() and b"Traceback" not in done.stderr
        assert not sock.exists()
