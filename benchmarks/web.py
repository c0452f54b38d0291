"""The web page: time to first paint of the lab page with N pipelines (a real headless
Chromium), event → browser latency (a point's time stamp to its arrival in the page's
JavaScript), the CPU of the service and the web process while browsers follow running
jobs (each follower what an open page costs them: its event stream), and their memory
with 100 followers."""

from __future__ import annotations

import http.client
import json
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import anyio
from _common import Figure, Service, cpu_seconds, rss_mib, show, until
from density import lab, payload
from tomato.actors import connect

from tomato.cli.client import service_socket
from tomato.codec import CODEC
from tomato.messages import GetJobs, LoadSample, SetReady, SubmitJob
from tomato.paths import web_address_file

SETTINGS = "[jobs]\nstandby = 1\noutput_servers = 1\n[web]\nlisten = \"127.0.0.1:0\"\n"


def _browser():  # type: ignore[no-untyped-def]
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as Driver

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1280,900"):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    return webdriver.Chrome(options=options,
                            service=Driver(executable_path=shutil.which("chromedriver")))


async def _run_jobs(root: Path, pipelines: list[str], seconds: float) -> None:
    async with connect(service_socket(root), CODEC) as conn:
        for name in pipelines:
            await conn.ask(LoadSample(name, "s"))
            await conn.ask(SubmitJob(payload(seconds), "w.yml", str(root)))
            await conn.ask(SetReady(name, True))


def _follower(url: str, token: str, stop: threading.Event, counts: list[int]) -> None:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request("GET", "/api/v1/events", headers={"Authorization": f"Bearer {token}"})
    stream = conn.getresponse()
    while not stop.is_set():
        line = stream.readline()
        if not line:
            break
        if line.startswith(b"data: "):
            counts.append(1)
    conn.close()


def _follow(url: str, token: str, stop: threading.Event, counts: list[int], n: int) -> None:
    for _ in range(n):
        threading.Thread(target=_follower, args=(url, token, stop, counts), daemon=True
                         ).start()
    time.sleep(1)


def run(pipelines: int, jobs: int, followers: int, many: int, quick: bool) -> None:
    label = f"[web, {pipelines} pipelines, {jobs} running jobs]"
    with tempfile.TemporaryDirectory(prefix="tomato-web-") as tmp:
        root = Path(tmp)
        svc = Service(root, lab(1, pipelines), SETTINGS)
        browser = None
        try:
            address = web_address_file(service_socket(root).parent)
            until(address.exists, 60, "the web page")
            found = json.loads(address.read_text())
            url, token = found["url"], found["token"]
            if shutil.which("chromedriver"):
                browser = _browser()
                start = time.perf_counter()
                browser.get(f"{url}?token={token}")
                until(lambda: browser.execute_script(
                    "return document.querySelectorAll('#pipelines tbody tr').length") ==
                    pipelines, 60, "the lab page's pipelines")
                shown = time.perf_counter() - start
                paint = browser.execute_script(
                    "const p = performance.getEntriesByName('first-contentful-paint');"
                    "return p.length ? p[0].startTime : null;")
                show(Figure(f"{label} lab page: address → every pipeline shown", [shown * 1000],
                            "ms"))
                if paint is not None:
                    show(Figure(f"{label} lab page: first contentful paint", [paint], "ms"))
            names = [f"p1-{c}" for c in range(1, jobs + 1)]
            seconds = 30 if quick else 90
            anyio.run(_run_jobs, root, names, seconds)
            until(lambda: sum(j.status == "r" for j in svc.ask(GetJobs())) == jobs, 60,
                  "the jobs to run")
            if browser is not None:
                browser.execute_script(
                    "window.lat = []; const s = new EventSource('/api/v1/events');"
                    "s.onmessage = (m) => { const r = JSON.parse(m.data);"
                    " if (r.event === 'point') window.lat.push(Date.now() / 1000 - r.uts); };")
                time.sleep(3 if quick else 10)
                latencies = browser.execute_script("return window.lat;")
                if latencies:
                    show(Figure(f"{label} event → browser latency (n={len(latencies)})",
                                [statistics.median(latencies) * 1000], "ms"))
                browser.quit()
                browser = None
            stop = threading.Event()
            counts: list[int] = []
            web_pid = found["pid"]
            pids = {"service": svc.process.pid, "web process": web_pid}
            alone = {kind: rss_mib(pid) for kind, pid in pids.items()}
            _follow(url, token, stop, counts, followers)
            before = {k: cpu_seconds(p) for k, p in pids.items()}
            took = 5 if quick else 20
            time.sleep(took)
            for kind, pid in pids.items():
                show(Figure(f"{label} CPU {kind}, {followers} followers",
                            [(cpu_seconds(pid) - before[kind]) / took * 100], "% of a core"))
            show(Figure(f"{label} events delivered to the followers", [len(counts)], ""))
            _follow(url, token, stop, counts, many - followers)
            time.sleep(5)
            for kind, pid in pids.items():
                show(Figure(f"{label} RSS {kind}, no follower", [alone[kind]], "MiB"))
                show(Figure(f"{label} RSS {kind}, {many} followers", [rss_mib(pid)], "MiB"))
            stop.set()
        finally:
            if browser is not None:
                browser.quit()
            svc.stop()


def main(quick: bool) -> None:
    if quick:
        run(10, 2, 3, 10, True)
        return
    run(100, 10, 20, 100, False)
