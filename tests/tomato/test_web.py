"""The web process and its API: the real service starts it (on a free port), tokens come
from the real `tomato token` and `ketchup web`, requests go over real HTTP."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from conftest import NO_WEB, Tomato, payload, pids_of, until

WEB = "[jobs]\nstandby = 0\noutput_servers = 1\n[web]\nlisten = \"127.0.0.1:0\"\n"


class Api:
    """HTTP to the web page's address, as a script would."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def call(self, method: str, path: str, token: str | None = None, body: bytes | None = None,
             kind: str | None = None) -> tuple[int, Any]:
        request = urllib.request.Request(self.url + path, data=body, method=method)
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        if kind is not None:
            request.add_header("Content-Type", kind)
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                data = reply.read()
                status = reply.status
                kind_got = reply.headers.get("content-type", "")
        except urllib.error.HTTPError as exc:
            data, status, kind_got = exc.read(), exc.code, exc.headers.get("content-type", "")
        return status, json.loads(data) if kind_got.startswith("application/json") else data

    def get(self, path: str, token: str | None = None) -> tuple[int, Any]:
        return self.call("GET", path, token)

    def submit(self, token: str, body: dict[str, Any] | bytes, kind: str = "application/yaml",
               query: str = "") -> tuple[int, Any]:
        data = yaml.safe_dump(body).encode() if isinstance(body, dict) else body
        return self.call("POST", f"/api/v1/jobs{query}", token, data, kind)


@pytest.fixture
def web(tomato_factory: Any) -> Iterator[tuple[Tomato, Api, str]]:
    """A service with its web page; the API, and the owner's login token `ketchup web`
    prints."""
    tomato = tomato_factory(settings=WEB)
    found = until(lambda: tomato.ketchup("web", "--json", check=False).returncode == 0
                  and tomato.json("web"), 30, "the web page to be served")
    assert found["login"].startswith(found["url"] + "?token=")
    yield tomato, Api(found["url"]), found["login"].split("?token=")[1]


def token(tomato: Tomato, name: str, role: str) -> str:
    return tomato.json_of("tomato", "token", "add", name, "--role", role)["token"]


def test_no_token_no_entry_and_each_role_does_what_it_may(web):
    tomato, api, owner = web
    status, said = api.get("/api/v1/pipelines")
    assert status == 401 and "token" in said["error"]
    assert api.get("/api/v1/pipelines", "not-a-token")[0] == 401
    status, pipelines = api.get("/api/v1/pipelines", owner)
    assert status == 200 and "dummy-5" in {p["name"] for p in pipelines}
    # The same records as ketchup's.
    assert pipelines == tomato.json("status")
    status, components = api.get("/api/v1/components", owner)
    assert status == 200 and "dummy_device:5" in {c["name"] for c in components}
    status, component = api.get("/api/v1/components/dummy_device:5", owner)
    assert status == 200 and component["driver"] == "dummy" and component["running"] is False
    assert api.get("/api/v1/components/nope:1", owner)[0] == 404
    viewer = token(tomato, "vic", "viewer")
    assert api.get("/api/v1/jobs", viewer)[0] == 200
    status, said = api.submit(viewer, payload("random", 1, 0.1))
    assert status == 403 and "vic (viewer)" in said["error"]
    assert tomato.run("tomato", "token", "add", "owner", check=False).returncode == 6
    listed = tomato.json_of("tomato", "token", "list")
    assert [(t["name"], t["role"]) for t in listed] == [("vic", "viewer")]
    assert "sha256" not in json.dumps(listed)
    tokens = tomato.folder / "web-tokens.json"
    assert tokens.stat().st_mode & 0o777 == 0o600 and viewer not in tokens.read_text()
    tomato.run("tomato", "token", "revoke", "vic")
    assert api.get("/api/v1/jobs", viewer)[0] == 401  # at once
    # The login address: the token becomes a cookie, and leaves the address.
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    with opener.open(f"{api.url}/?token={owner}", timeout=30) as page:
        assert page.status == 200 and "token=" not in page.url
    with opener.open(f"{api.url}/api/v1/jobs", timeout=30) as reply:
        assert reply.status == 200


def test_submit_follow_download_and_cancel_through_the_api(web):
    tomato, api, owner = web
    user = token(tomato, "ula", "user")
    status, made = api.submit(user, payload("sequential", 2, 0.1), query="?jobname=from-web")
    assert status == 201
    jobid = made["jobid"]
    status, job = api.get(f"/api/v1/jobs/{jobid}", user)
    assert status == 200 and job["jobname"] == "from-web" and job["owner_name"] == "ula (web)"
    assert list(job)[:7] == ["jobid", "jobname", "status", "submitted", "executed",
                             "completed", "pipeline"]
    assert [j["jobid"] for j in api.get("/api/v1/jobs?name=web", user)[1]] == [jobid]
    assert api.get("/api/v1/jobs?name=nothing-like-it", user)[1] == []
    assert api.get("/api/v1/jobs?limit=0", user)[1] == []
    assert api.get("/api/v1/jobs?status=x", user)[0] == 400
    tomato.prepare("dummy-5", "s1")
    running = until(lambda: api.get("/api/v1/progress", user)[1].get(str(jobid)), 20,
                    "the job's progress")
    assert running["steps"] == [{"role": "worker", "technique": "sequential",
                                 "max_duration": 2.0}]
    # Follow the points from a cursor until the job ends: each point once, with units.
    cursor, values = "", []
    deadline = time.monotonic() + 60
    while True:
        status, data = api.get(f"/api/v1/jobs/{jobid}/data?after={cursor}", user)
        assert status == 200
        for step in data["steps"]:
            assert step["columns"] == ["uts", "value"] and step["units"]["uts"] == "s"
            values += [v for _, v in step["points"]]
        cursor = data["cursor"]
        if data["status"] in ("c", "ce", "cd"):
            status, data = api.get(f"/api/v1/jobs/{jobid}/data?after={cursor}", user)
            values += [v for s in data["steps"] for _, v in s["points"]]
            break
        assert time.monotonic() < deadline, "the job did not end within 60 s"
        time.sleep(0.3)
    assert data["status"] == "c"
    assert values == [float(k) for k in range(1, 21)]
    assert api.get(f"/api/v1/jobs/{jobid}/data?after=nonsense", user)[0] == 400
    # Its outputs: downloaded.
    job = until(lambda: (j := api.get(f"/api/v1/jobs/{jobid}", user)[1])["outputs"] and j, 30,
                "the job's outputs")
    nc = next(os.path.basename(p) for p in job["outputs"] if p.endswith(".nc"))
    status, body = api.get(f"/api/v1/jobs/{jobid}/files/{nc}", user)
    assert status == 200 and body[:4] in (b"\x89HDF", b"CDF\x01", b"CDF\x02")
    assert api.get(f"/api/v1/jobs/{jobid}/files/../../settings.toml", user)[0] == 404
    # A snapshot of its own job: the .nc file, at once.
    status, body = api.call("POST", f"/api/v1/jobs/{jobid}/snapshot", user)
    assert status == 200 and body[:4] in (b"\x89HDF", b"CDF\x01", b"CDF\x02")
    # Pipelines are an admin's to command.
    status, said = api.call("POST", "/api/v1/pipelines/dummy-10/load?sample=s9", user)
    assert status == 403 and "admin" in said["error"]
    status, pipeline = api.call("POST", "/api/v1/pipelines/dummy-10/load?sample=s9", owner)
    assert status == 200 and pipeline["sample"] == "s9"
    assert tomato.pipelines()["dummy-10"]["sample"] == "s9"
    # Cancel: its own job, not someone else's (unless an admin).
    status, waiting = api.submit(user, payload("random", 60, 1))
    mine = waiting["jobid"]
    theirs = tomato.submit(payload("random", 60, 1))
    status, said = api.call("POST", f"/api/v1/jobs/{theirs}/cancel", user)
    assert status == 403 and "is not yours" in said["error"]
    status, job = api.call("POST", f"/api/v1/jobs/{mine}/cancel", user)
    assert status == 200 and job["status"] == "cd"
    assert api.call("POST", f"/api/v1/jobs/{theirs}/cancel", owner)[1]["status"] == "cd"


def test_a_bad_payload_gets_the_reason_ketchup_gives_and_queues_nothing(web):
    tomato, api, owner = web
    before = api.get("/api/v1/jobs", owner)[1]
    status, said = api.submit(owner, b"method: [unclosed", "application/yaml")
    assert status == 400 and said["error"].startswith("(API payload):1: YAML syntax error")
    bad = {**payload("random", 1, 0.1), "colour": "red"}
    status, said = api.submit(owner, bad)
    (tomato.root / "bad.yml").write_text(yaml.safe_dump(bad))
    refused = tomato.ketchup("submit", "bad.yml", check=False)
    assert status == 422 and refused.returncode == 3
    assert said["error"].replace("(API payload)", "bad.yml") == refused.stderr.strip().removeprefix(
        "error: ")
    assert api.submit(owner, b"{}", "text/plain")[0] == 415
    user = token(tomato, "ula", "user")
    aimed = payload("random", 1, 0.1)
    aimed["tomato"] = {"output": {"path": "/etc"}}
    status, said = api.submit(user, aimed)
    assert status == 403 and "tomato.output.path" in said["error"]
    assert api.get("/api/v1/jobs", owner)[1] == before
    assert api.get("/api/v1/openapi.json")[1]["paths"]["/api/v1/jobs"]["post"]


def test_the_queue_s_habits_through_the_api(web):
    tomato, api, _ = web
    user = token(tomato, "ula", "user")
    status, made = api.submit(user, payload(sample="nowhere"), query="?hold&priority=3")
    assert status == 201
    first = made["jobid"]
    status, made = api.submit(user, payload(), query=f"?after={first}&pipeline=dummy-10")
    assert status == 201
    job = api.get(f"/api/v1/jobs/{made['jobid']}", user)[1]
    assert (job["after"], job["pinned"], job["reason"]) == (
        [first], "dummy-10", f"waits for job {first} to complete")
    job = api.get(f"/api/v1/jobs/{first}", user)[1]
    assert (job["held"], job["priority"]) == (True, 3)
    for query, code, said in (("?after=99999", 404, "--after 99999: no job"),
                              ("?after=1&after_any=1", 400, "give one of them"),
                              ("?priority=high", 400, "priority: a whole number"),
                              ("?pipeline=nowhere", 422, "that pipeline cannot run")):
        status, reply = api.submit(user, payload(), query=query)
        assert (status, said in reply["error"]) == (code, True), (query, reply)
    params = api.get("/api/v1/openapi.json")[1]["paths"]["/api/v1/jobs"]["post"]["parameters"]
    assert [p["name"] for p in params] == ["jobname", "after", "after_any", "hold", "priority",
                                           "pipeline"]


def test_events_stream_to_a_browser_and_a_killed_web_process_comes_back(web):
    tomato, api, owner = web
    jobid = tomato.submit(payload("sequential", 3, 0.1))
    parts = urlsplit(api.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
    conn.request("GET", f"/api/v1/events?job={jobid}", headers={
        "Authorization": f"Bearer {owner}"})
    stream = conn.getresponse()
    assert stream.status == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    tomato.prepare("dummy-5", "s1")
    points = []
    deadline = time.monotonic() + 30
    while len(points) < 5:
        assert time.monotonic() < deadline, "no points streamed within 30 s"
        line = stream.readline().decode().strip()
        if line.startswith("data: "):
            record = json.loads(line[6:])
            if record["event"] in ("connected", "disconnected", "EventsMissed"):
                continue  # news of the stream itself, for every follower
            assert record.get("jobid") == jobid
            if record["event"] == "point":
                points.append(record)
    assert points[0]["units"] == {"value": ""} and points[0]["values"]["value"] == 1.0
    conn.close()
    # The web process dies: the service starts it again; the job runs on.
    rundir = str(tomato.socket.parent).encode()
    [pid] = until(lambda: pids_of(b"tomato.web", rundir), 10, "the web process")
    os.kill(pid, signal.SIGKILL)
    again = until(lambda: tomato.ketchup("web", "--json", check=False).returncode == 0
                  and (found := tomato.json("web"))["login"] != f"{api.url}/?token={owner}"
                  and found, 30, "the web page served again")
    assert Api(again["url"]).get("/api/v1/jobs", again["login"].split("=")[1])[0] == 200
    assert tomato.wait_status(jobid, "c", "ce", "cd")["status"] == "c"


def test_ketchup_web_says_why_there_is_no_page(tomato_factory):
    tomato = tomato_factory(settings=NO_WEB)
    said = tomato.ketchup("web", check=False)
    assert said.returncode == 7 and "[web] listen" in said.stderr


def test_a_browser_that_does_not_read_is_dropped_and_slows_nobody(web):
    """A flood of points: the browser that reads nothing is cut off; the one that reads
    gets every point, and the job ends as ever."""
    tomato, api, owner = web
    jobid = tomato.submit(payload("sequential", 2, 0.0001))  # 20,000 points
    parts = urlsplit(api.url)
    request = (f"GET /api/v1/events?job={jobid} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
               f"Authorization: Bearer {owner}\r\n\r\n").encode()
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    slow.connect((parts.hostname, parts.port))
    slow.sendall(request)
    fast = socket.create_connection((parts.hostname, parts.port), timeout=30)
    fast.sendall(request)
    tomato.prepare("dummy-5", "s1")
    values: list[float] = []
    pending = b""
    while len(values) < 20_000:  # read as a browser does: whatever came, in big gulps
        chunk = fast.recv(1 << 20)
        assert chunk, f"the reading browser was cut off after {len(values)} points"
        *lines, pending = (pending + chunk).split(b"\n")
        values += [r["values"]["value"] for line in lines if line.startswith(b"data: ")
                   and (r := json.loads(line[6:]))["event"] == "point"]
    assert values == [float(k) for k in range(1, 20_001)]
    assert tomato.wait_status(jobid, "c", "ce", "cd")["status"] == "c"
    fast.close()
    # The one that read nothing: what was in flight, then the end of its stream (the last
    # chunk: the connection itself may stay open for another request).
    slow.settimeout(30)
    received = b""
    while not received.endswith(b"\r\n0\r\n\r\n"):
        chunk = slow.recv(65536)
        assert chunk, "closed without ending the stream"
        received += chunk
    slow.close()
    assert received.count(b'"event": "point"') < 20_000


def test_a_port_in_use_is_said_and_the_service_runs_on(tomato_factory):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        tomato = tomato_factory(settings="[jobs]\nstandby = 0\noutput_servers = 0\n"
                                         f'[web]\nlisten = "127.0.0.1:{port}"\n')
        until(lambda: b"the web page did not start" in tomato.log.read_bytes(), 30,
              "the service to say the page did not start")
        assert f"127.0.0.1:{port}: the address is in use".encode() in tomato.log.read_bytes()
        said = tomato.ketchup("web", check=False)
        assert said.returncode == 7 and "tomato's log says why" in said.stderr
        assert "dummy-5" in tomato.pipelines()  # the service runs on
