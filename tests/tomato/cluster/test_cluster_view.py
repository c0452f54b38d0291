"""Several tomatos on one NATS: each shows the others' pipelines as HOST:PIPELINE, kept up
to date, and says when a host is away."""

from __future__ import annotations

from conftest import until

from tomato.messages import LoadSample

BENCH = """
devices:
  - {name: bench, address: null, channels: [7], driver: dummy, capabilities: [sequential],
     pollrate: 1}
pipelines:
  - name: bench-*
    devices:
      - {tag: worker, name: bench, channel: each}
"""


def test_each_tomato_shows_the_others_pipelines_and_when_a_host_is_away(cluster):
    a = cluster("pc-a")
    b = cluster("pc-b", BENCH)
    until(lambda: "pc-b:bench-7" in a.pipelines(), 20, "pc-b's pipeline on pc-a")
    until(lambda: {"pc-a:dummy-5", "pc-a:dummy-10"} <= set(b.pipelines()), 20,
          "pc-a's pipelines on pc-b")
    assert a.pipelines()["pc-b:bench-7"]["capabilities"] == ["sequential"]
    assert a.pipelines()["pc-b:bench-7"]["failed"] is None
    # A change on pc-b reaches pc-a.
    b.ask(LoadSample("bench-7", "s9"))
    until(lambda: a.pipelines()["pc-b:bench-7"]["sample"] == "s9", 10, "the sample on pc-a")
    # The command line shows them too, whole when piped.
    table = a.ketchup("status").stdout.splitlines()
    assert any(line.startswith("pc-b:bench-7\ts9\tno\t") for line in table), table
    # pc-b stops: pc-a says so at once.
    b.stop()
    until(lambda: "host pc-b stopped" in (a.pipelines()["pc-b:bench-7"]["failed"] or ""), 10,
          "pc-b shown stopped")
