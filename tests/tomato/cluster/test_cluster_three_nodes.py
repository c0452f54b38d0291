"""A three-node NATS cluster (JetStream replicated three times): one node killed mid-run,
the queue goes on."""

from __future__ import annotations

import pytest
from clusterlab import BENCH, RANDOM_ONLY, NatsCluster, wait_known
from conftest import LEAN, new_service, payload, private_env, stop_all, until


@pytest.fixture
def nodes(tmp_path):
    (tmp_path / "nats").mkdir()
    cluster = NatsCluster(tmp_path / "nats")
    try:
        yield cluster.start()
    finally:
        cluster.stop()


def test_one_node_of_three_killed_mid_run_the_queue_goes_on(tmp_path, runtime_base, nodes):
    made = []
    try:
        for host, devices in (("pc-a", RANDOM_ONLY), ("pc-b", BENCH)):
            (tmp_path / f"{host}-env").mkdir()
            t = new_service(tmp_path / host, private_env(tmp_path / f"{host}-env", runtime_base),
                            devices, f'{LEAN}[cluster]\nurl = "{nodes.url}"\nhost = "{host}"\n'
                            "replicas = 3\n")
            made.append(t.start())
        a, b = made
        until(lambda: "pc-b:bench-7" in a.pipelines(), 30, "pc-b's pipeline on pc-a")
        # A new three-node JetStream forms its groups slowly: pc-a gives jobids once it
        # has leased a block (before, a submit is refused, saying so).
        until(lambda: b"are this tomato's" in a.log.read_bytes(), 30, "pc-a's block of jobids")
        b.prepare("bench-7", "s-b")
        first = a.submit(payload("sequential", 2, 0.1, sample="s-b", unlock_when_done=True))
        wait_known(b, first)
        b.wait_status(first, "r", timeout=10)
        nodes.kill(0)  # one of three: JetStream keeps a majority
        second = a.submit(payload("sequential", 0.5, 0.1, sample="s-b"))
        assert a.wait_status(first, "c", timeout=30)["status"] == "c"
        assert a.wait_status(second, "c", timeout=30)["pipeline"] == "pc-b:bench-7"
        until(lambda: a.job(first)["outputs"] and a.job(second)["outputs"], 30,
              "both results on pc-a")
    finally:
        stop_all(made)
