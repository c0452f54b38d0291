"""Real services for tests: `tomato -t` in a fresh folder, driven by the real `ketchup`."""

from __future__ import annotations

import compileall
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml
from tomato.actors import ActorError, EventsMissed, connect

from tomato.cli.client import CLIENT_CODEC
from tomato.jobstatus import FINISHED
from tomato.messages import (
    CancelJobs,
    EjectSample,
    GetJobs,
    GetPipelines,
    JobStatusChanged,
    LoadSample,
    SetReady,
    StopService,
    SubmitJob,
)
from tomato.paths import runtime_dir, socket_path
from tomato.payloadfile import read_payload

pytest_plugins = ["clusterlab"]  # a NATS server and tomatos joined to it (tests/clusterlab.py)

BIN = Path(sys.executable).parent
EXAMPLES = Path(__file__).parent / "data"

NO_WEB = '[web]\nlisten = ""\n'
"""No web page: tests/tomato/test_web.py starts its own (on a free port)."""
LEAN = "[jobs]\nstandby = 0\noutput_servers = 0\n" + NO_WEB
"""A service without processes kept waiting: what most tests need, at the least CPU (a job
starts a process of its own; its outputs are made by a one-off output process)."""
WARM = "[jobs]\nstandby = 0\noutput_servers = 1\n" + NO_WEB
"""A service many tests share: one output server kept warm for all their jobs."""


def pytest_sessionstart(session: pytest.Session) -> None:
    """Byte-compile our packages once, as an installed tomato is: with
    PYTHONDONTWRITEBYTECODE set, each of the suite's hundreds of processes would compile
    them again."""
    root = Path(__file__).parent.parent
    for package in ("actors", "drivers", "tomato"):
        compileall.compile_dir(root / package, quiet=1)


def until(condition: Callable[[], Any], timeout: float = 10.0,
          what: str | Callable[[], str] = "condition") -> Any:
    """Wait for `condition()` to be truthy (checked every 20 ms); fail after `timeout` s,
    saying `what` it waited for (a callable: asked then, to say what is left)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for "
                                 f"{what() if callable(what) else what}")
        time.sleep(0.02)


class Tomato:
    """A `tomato -t` service in its own folder, and the `ketchup` that talks to it.

    `folder` is the service's (settings, devices file, job folders, log); `root` is where the
    test works: ketchup's working directory, where payloads are written and outputs land.
    They are one folder unless the service is shared (`seen_from`)."""

    def __init__(self, root: Path, env: dict[str, str], folder: Path | None = None) -> None:
        self.root = root
        self.folder = folder or root
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.log = self.folder / "tomato.log"

    def seen_from(self, root: Path) -> Tomato:
        """This running service, worked with from `root`."""
        view = Tomato(root, self.env, self.folder)
        view.process = self.process
        return view

    def reset(self) -> None:
        """Back to as the service started: no unfinished job (cancelled, waited for), every
        pipeline without a sample and not ready."""
        assert self.process is not None and self.process.poll() is None, "tomato is not running"
        from tomato.errors import ConflictError

        unfinished = tuple(j.jobid for j in self.ask(GetJobs()))
        for jobid in unfinished:
            with contextlib.suppress(ConflictError):  # it ended meanwhile
                self.ask(CancelJobs((jobid,)))
        for jobid in unfinished:
            self.wait_status(jobid, *FINISHED)
        for p in self.ask(GetPipelines()):
            if p.sample is not None:
                self.ask(EjectSample(p.name))
            if p.ready:
                self.ask(SetReady(p.name, False))

    def start(self, *, wait: bool = True, open_files: int | None = None) -> Tomato:
        """Start the service (`open_files`: under `ulimit -n` that many)."""
        def limit() -> None:
            import resource

            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

        with self.log.open("ab") as log:
            self.process = subprocess.Popen([str(BIN / "tomato"), "-t", "-vv"], cwd=self.folder,
                                            env=self.env, stdout=log, stderr=log,
                                            preexec_fn=limit if open_files else None)
        if wait:  # the service logs this line once it listens (-vv); reading a file is cheap
            start = self.log.stat().st_size
            until(lambda: b"tomato ready" in self.log.read_bytes()[start:]
                  or self.process.poll() is not None, 30, "tomato to answer")
            assert self.process.poll() is None, self.log.read_text()
        return self

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ActorError):  # in-process: `tomato stop` is tested on its own
            self.ask(StopService(force=True))
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError("tomato did not stop within 20 s") from None

    def run(self, exe: str, *args: str, check: bool = True, cwd: Path | None = None
            ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(BIN / exe), "--config", str(self.folder), *args],
                                cwd=cwd or self.root,
                                env=self.env, capture_output=True, text=True, timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(f"{exe} {' '.join(args)} exited {result.returncode}: "
                                 f"{result.stderr}")
        return result

    def ketchup(self, *args: str, check: bool = True, cwd: Path | None = None
                ) -> subprocess.CompletedProcess[str]:
        return self.run("ketchup", *args, check=check, cwd=cwd)

    def json(self, *args: str, cwd: Path | None = None) -> Any:
        return json.loads(self.ketchup(*args, "--json", cwd=cwd).stdout)

    def json_of(self, exe: str, *args: str) -> Any:
        """What `exe ARGS --json` prints, parsed."""
        return json.loads(self.run(exe, *args, "--json").stdout)

    # What the tests do most.
    def submit(self, payload: dict[str, Any] | Path | str, jobname: str | None = None) -> int:
        """Submit as `ketchup submit` does (its payload reader, its message), in-process;
        tests about the command run it."""
        if isinstance(payload, dict):
            path = self.root / f"payload-{time.monotonic_ns()}.yml"
            path.write_text(yaml.safe_dump(payload))
            payload = path
        path = self.root / payload
        return self.ask(SubmitJob(read_payload(path), str(payload), str(self.root),
                                  jobname)).jobid

    # What the tests do most, in-process over the service's real socket (a `ketchup` costs
    # ~90 ms of CPU; the CLI itself is tested where a test is about it).
    @property
    def socket(self) -> Path:
        rundir = runtime_dir(self.folder, Path(self.env["XDG_RUNTIME_DIR"]) / "tomato")
        return socket_path(rundir, "tomato")

    def ask(self, msg: Any) -> Any:
        """The service's reply to `msg` (or its error, raised)."""
        async def ask() -> Any:
            async with connect(self.socket, CLIENT_CODEC) as conn:
                return await conn.ask(msg, timeout=30)

        return anyio.run(ask)

    def job(self, jobid: int) -> dict[str, Any]:
        return asdict(self.ask(GetJobs((jobid,)))[0])

    def status(self, jobid: int) -> str:
        return self.job(jobid)["status"]

    def wait_status(self, jobid: int, *statuses: str, timeout: float = 30) -> dict[str, Any]:
        """Wait (woken by the service's events) until the job's status is one of
        `statuses`; returns its record."""
        async def wait() -> None:
            async with connect(self.socket, CLIENT_CODEC) as conn, conn.subscribe() as events:
                [job] = await conn.ask(GetJobs((jobid,)))
                status = job.status
                while status not in statuses:
                    if status in FINISHED:
                        raise AssertionError(f"job {jobid} ended {status}, not {statuses}")
                    event = await events.__anext__()
                    if isinstance(event, JobStatusChanged) and event.jobid == jobid:
                        status = event.status
                    elif isinstance(event, EventsMissed):
                        [job] = await conn.ask(GetJobs((jobid,)))
                        status = job.status

        async def bounded() -> None:
            with anyio.fail_after(timeout):
                await wait()

        try:
            anyio.run(bounded)
        except TimeoutError:
            raise AssertionError(f"timed out after {timeout} s waiting for job {jobid} to "
                                 f"reach {statuses} (it is {self.status(jobid)})") from None
        return self.job(jobid)

    def prepare(self, pipeline: str, sample: str) -> None:
        """Load `sample` (unless it is loaded already) and mark the pipeline ready."""
        if self.pipelines()[pipeline]["sample"] != sample:
            self.ask(LoadSample(pipeline, sample))
        self.ask(SetReady(pipeline, True))

    def pipelines(self) -> dict[str, dict[str, Any]]:
        return {p.name: asdict(p) for p in self.ask(GetPipelines())}

    def wait_points(self, jobid: int, at_least: int, timeout: float = 10) -> None:
        """Wait until the job's first raw data file holds `at_least` points (CSV or JSON
        Lines)."""
        def count(path: Path) -> int:
            lines = path.read_text().splitlines()
            return len(lines) - 2 if path.suffix == ".csv" else sum('"uts"' in x for x in lines)

        until(lambda: (files := self.data_files(jobid)) and count(files[0]) >= at_least,
              timeout, "the first points")

    def jobdir(self, jobid: int) -> Path:
        return self.folder / "jobs" / str(jobid)

    def data_files(self, jobid: int) -> list[Path]:
        return sorted(p for p in self.jobdir(jobid).glob("[0-9]*-*")
                      if p.suffix in (".csv", ".jsonl"))


class Terminal:
    """A real pseudo-terminal running a command, rendered by a terminal emulator."""

    def __init__(self, tomato: Tomato, *args: str, rows: int = 30, cols: int = 120) -> None:
        import pexpect
        import pyte

        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.child = pexpect.spawn(str(BIN / "ketchup"), ["--config", str(tomato.folder), *args],
                                   cwd=str(tomato.root), dimensions=(rows, cols),
                                   # as a shell in that terminal says (rich reads them first)
                                   env={**tomato.env, "COLUMNS": str(cols), "LINES": str(rows)})
        self.history = ""

    def pump(self) -> str:
        import pexpect

        try:
            while True:
                self.stream.feed(self.child.read_nonblocking(65536, timeout=0.05))
        except (pexpect.TIMEOUT, pexpect.EOF):
            pass
        text = "\n".join(self.screen.display)
        self.history += text
        return text

    def wait_for(self, predicate: Callable[[str], Any], timeout: float = 20,
                 what: str = "the screen") -> str:
        def check() -> str | None:
            text = self.pump()
            return text if predicate(text) else None

        return until(check, timeout, what)

    def exit_code(self, timeout: float = 20) -> int:
        # Read while it runs (a full terminal would block it), and once more after its exit:
        # what it printed just before it ended is read too.
        until(lambda: self.pump() is not None and not self.child.isalive(), timeout,
              "the command to exit")
        self.pump()
        self.child.close()
        return self.child.exitstatus


def watch_json(tomato: Tomato, *args: str) -> subprocess.Popen[str]:
    """`ketchup watch ARGS --json`, started (read it with `records`)."""
    return subprocess.Popen([str(BIN / "ketchup"), "--config", str(tomato.folder), "watch",
                             *args, "--json"], cwd=tomato.root, env=tomato.env,
                            stdout=subprocess.PIPE, text=True)


def records(proc: subprocess.Popen[str], timeout: float = 30) -> tuple[list[Any], int]:
    """The JSON lines a `watch_json` printed until it exited, and its exit code."""
    out, _ = proc.communicate(timeout=timeout)
    return [json.loads(line) for line in out.splitlines()], proc.returncode


def open_datagram(path: Path) -> Any:
    """A datagram (NetCDF), read whole (its file closed)."""
    import xarray as xr

    with xr.open_datatree(path) as tree:
        return tree.load()


def pids_of(module: bytes, rundir: bytes) -> set[int]:
    """Processes running `python -m module` for the service of `rundir`."""
    pids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if module in argv and rundir in b" ".join(argv):
                pids.add(int(entry))
    return pids


def read_csv(path: Path) -> list[list[float]]:
    """Rows of a raw data file, without its header and units rows."""
    lines = path.read_text().splitlines()
    return [[float(x) for x in line.split(",")] for line in lines[2:]]


def payload(technique: str = "random", time: float = 1, delay: float = 0.1,
            sample: str = "s1", tag: str = "worker", **tomato: Any) -> dict[str, Any]:
    """A 0.2 payload of one step."""
    body: dict[str, Any] = {"version": "0.2", "sample": {"name": sample},
                            "method": [{"device": tag, "technique": technique, "time": time,
                                        "delay": delay}]}
    if tomato:
        body["tomato"] = tomato
    return body


def spend_restart_budget(lab: Tomato) -> None:
    """Kill the service's (first) device process until its restart budget is spent (3 in
    60 s: the fourth exit fails it); returns once the device is failed."""
    from tomato.messages import GetServiceStatus

    def device() -> Any:
        return lab.ask(GetServiceStatus()).devices[0]

    killed: set[int] = set()
    for _ in range(4):
        alive = until(lambda: (d := device()).state == "running" and d.pid not in killed and d,
                      20, "the device (re)started")
        os.kill(alive.pid, signal.SIGKILL)
        killed.add(alive.pid)
    until(lambda: device().state == "failed", 20, "the device to be failed")


@pytest.fixture(scope="session")
def runtime_base() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="tt-"))
    path.chmod(0o700)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def drivers30(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the registry's DriverInterface 3.0 releases the tests run
    (tests/drivers30/requirements.txt; the 2.1 releases of the same modules are installed
    by the test extra, so they live in a folder of their own), installed from the
    registry once per checkout; put it first on a service's PYTHONPATH to run them.
    With TOMATO_TEST_DRIVERS30=installed, an empty folder: the releases installed in the
    environment run (CI, after upgrading the drivers as a lab would)."""
    if os.environ.get("TOMATO_TEST_DRIVERS30") == "installed":
        return tmp_path_factory.mktemp("no-drivers30")
    from drivers30.install import install

    return install()


def with_path(env: dict[str, str], *folders: Path) -> dict[str, str]:
    """`env` with `folders` first on its PYTHONPATH."""
    return {**env, "PYTHONPATH": os.pathsep.join(
        [*map(str, folders), *filter(None, [env.get("PYTHONPATH")])])}


def private_env(root: Path, runtime_base: Path) -> dict[str, str]:
    """The environment of a service and its clients: a home of their own under `root`."""
    home = root / "home"
    home.mkdir()
    return {**os.environ, "XDG_RUNTIME_DIR": str(runtime_base), "HOME": str(home),
            "COLUMNS": "200"}


@pytest.fixture
def env(tmp_path: Path, runtime_base: Path) -> dict[str, str]:
    return private_env(tmp_path, runtime_base)


@pytest.fixture
def tomato_factory(tmp_path: Path, env: dict[str, str]) -> Iterator[Callable[..., Tomato]]:
    made: list[Tomato] = []

    def make(devices: str | None = None, name: str = "lab", start: bool = True,
             settings: str | None = LEAN) -> Tomato:
        """A service in `tmp_path/name`; `settings=None`: as a user gets it on first run."""
        t = new_service(tmp_path / name, env, devices, settings)
        made.append(t)
        return t.start() if start else t

    yield make
    stop_all(made)


def new_service(root: Path, env: dict[str, str], devices: str | None = None,
                settings: str | None = LEAN) -> Tomato:
    root.mkdir()
    if devices is not None:
        (root / "devices.yml").write_text(devices)
    if settings is not None:
        (root / "settings.toml").write_text(settings)
    return Tomato(root, env)


def stop_all(services: list[Tomato]) -> None:
    for t in services:
        t.stop()
    for t in services:  # a traceback in the service's log is a bug, even if the test passed
        log = t.log.read_text() if t.log.exists() else ""
        assert "Traceback" not in log, log


@pytest.fixture
def tomato(tomato_factory: Callable[..., Tomato]) -> Tomato:
    """A running test-mode service with the built-in dummy pipelines."""
    return tomato_factory()


@pytest.fixture(scope="session")
def shared_service(tmp_path_factory: pytest.TempPathFactory, runtime_base: Path
                   ) -> Iterator[Tomato]:
    """One test-mode service per test process, with an output server kept warm: see `lab`."""
    root = tmp_path_factory.mktemp("shared")
    service = new_service(root / "lab", private_env(root, runtime_base), settings=WARM).start()
    yield service
    stop_all([service])


@pytest.fixture
def lab(shared_service: Tomato, tmp_path: Path) -> Tomato:
    """The built-in dummy pipelines of a service the tests of this process share, as it
    started (no unfinished job, no sample, not ready), worked with from this test's own
    folder. For tests that neither stop the service nor change its devices or settings,
    and look only at their own jobs: they skip a service start (~0.6 s of CPU) and, for
    their outputs, an output process (~0.7 s)."""
    shared_service.reset()
    here = tmp_path / "here"
    here.mkdir()
    return shared_service.seen_from(here)


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A small tmpfs at `path` (needs root, as in CI); the test is skipped where it cannot
    be mounted."""
    path.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}",
                                            "tmpfs", str(path)], capture_output=True
                                           ).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)
