"""`[notify]`: a command and a webhook told when a job ends or a device fails, with the
job's record as JSON; one that fails is retried, then given up, logged; the service and
its jobs never wait for them."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from conftest import (
    BIN,
    LEAN,
    new_service,
    payload,
    spend_restart_budget,
    stop_all,
    until,
    with_path,
)

TELL = "import sys, pathlib; pathlib.Path(sys.argv[1]).open('a').write(sys.stdin.read() + '\\n')"


class Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_command_and_a_webhook_are_told_of_each_end(tomato_factory, tmp_path):
    told = tmp_path / "told.jsonl"
    (tmp_path / "tell.py").write_text(TELL)
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (Hook,), {"received": []}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        lab = tomato_factory(settings=(
            f'{LEAN}[notify]\ncommand = "{sys.executable} {tmp_path / "tell.py"} {told}"\n'
            f'url = "http://127.0.0.1:{server.server_port}/hook"\n'))
        lab.prepare("dummy-5", "s1")
        done = lab.submit(payload(time=0.2), jobname="told")
        assert lab.wait_status(done, "c")["status"] == "c"
        queued = lab.submit(payload(sample="nowhere"))
        lab.ketchup("cancel", str(queued))
        lines = until(lambda: told.exists() and len(told.read_text().splitlines()) == 2
                      and told.read_text().splitlines(), 20, "two notifications")
        records = [json.loads(line) for line in lines]
        assert [(r["event"], r["jobid"], r["status"]) for r in records] == [
            ("job_ended", done, "c"), ("job_ended", queued, "cd")]
        assert records[0]["jobname"] == "told" and records[1]["reason"] == "cancelled while queued"
        hook = server.RequestHandlerClass.received  # type: ignore[attr-defined]
        until(lambda: len(hook) == 2, 20, "the webhook's two")
        assert hook == records
    finally:
        server.shutdown()
        server.server_close()
    assert "notify:" not in lab.log.read_text()


def test_a_failing_command_is_retried_then_given_up_and_the_job_ends_all_the_same(
        tomato_factory):
    lab = tomato_factory(settings=f'{LEAN}[notify]\ncommand = "false"\non = ["c"]\n')
    lab.prepare("dummy-5", "s1")
    jobid = lab.submit(payload(time=0.1))
    assert lab.wait_status(jobid, "c")["status"] == "c"
    until(lambda: b"notify: command false: gave up after 3 attempts" in lab.log.read_bytes(),
          20, "the notification given up")
    assert lab.log.read_text().count("notify: command false failed (attempt") == 3
    second = lab.submit(payload(time=0.1))  # the service goes on as before
    lab.prepare("dummy-5", "s1")
    assert lab.wait_status(second, "c")["status"] == "c"


def test_notify_without_a_command_or_a_url_stops_the_start(tomato_factory):
    lab = tomato_factory(start=False)
    (lab.root / "settings.toml").write_text(f'{LEAN}[notify]\non = ["ce"]\n')
    result = subprocess.run([str(BIN / "tomato"), "-t"], cwd=lab.root, env=lab.env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 6 and "Traceback" not in result.stderr
    assert "[notify]: give a command, a url, or both" in result.stderr


def test_a_failed_device_is_told_once_however_many_pipelines_it_serves(tomato_factory,
                                                                       tmp_path):
    told = tmp_path / "told.jsonl"
    (tmp_path / "tell.py").write_text(TELL)
    lab = tomato_factory(settings=(
        f'{LEAN}[notify]\ncommand = "{sys.executable} {tmp_path / "tell.py"} {told}"\n'
        'on = ["device_failed"]\n'))

    spend_restart_budget(lab)
    [line] = until(lambda: told.exists() and told.read_text().splitlines(), 20, "the news")
    record = json.loads(line)
    assert record["event"] == "device_failed" and record["pipeline"] in ("dummy-5", "dummy-10")
    assert "device dummy_device failed" in record["reason"]
    lab.run("tomato", "restart", "dummy_device")
    lab.prepare("dummy-5", "s1")
    assert lab.wait_status(lab.submit(payload(time=0.1)), "c")["status"] == "c"
    assert len(told.read_text().splitlines()) == 1  # a job's end is not asked for


def test_a_device_failed_as_the_service_starts_is_told(tmp_path, env):
    told = tmp_path / "told.jsonl"
    (tmp_path / "tell.py").write_text(TELL)
    lab = new_service(tmp_path / "lab", with_path(env, FAKES), BROKEN, (
        f'{LEAN}[notify]\ncommand = "{sys.executable} {tmp_path / "tell.py"} {told}"\n')).start()
    try:
        [line] = until(lambda: told.exists() and told.read_text().splitlines(), 20,
                       "the news")
        record = json.loads(line)
        assert (record["event"], record["pipeline"]) == ("device_failed", "pip-broken")
        assert "driver 'broken30' cannot be imported" in record["reason"]
    finally:
        stop_all([lab])


FAKES = Path(__file__).parent.parent / "drivers30"
BROKEN = """
devices:
  - {name: dev-broken, driver: broken30, address: x, channels: ["1"]}
  - {name: dev-dummy, driver: dummy, address: null, channels: ["5"]}
pipelines:
  - name: pip-broken
    components: [{role: probe, device: dev-broken, channel: "1"}]
  - name: pip-dummy
    components: [{role: worker, device: dev-dummy, channel: "5"}]
"""
