"""A script's `ketchup status` (piped, or `--json`) is answered without the full CLI, and
says exactly what the full CLI says."""

from __future__ import annotations

import subprocess

from conftest import BIN, payload


def both(lab, *args: str) -> tuple[str, str]:
    def run(**extra: str) -> str:
        done = subprocess.run([str(BIN / "ketchup"), "--config", str(lab.folder), *args],
                              cwd=lab.root, env={**lab.env, **extra}, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    return run(), run(TOMATO_NO_FAST="1")


def test_the_quick_status_says_what_the_full_cli_says(lab):
    lab.prepare("dummy-5", "s1")
    done = lab.submit(payload(time=0.2))
    lab.wait_status(done, "c")
    waiting = lab.submit(payload(sample="cell-9"))  # with a reason
    for args in (("status",), ("status", "queue"), ("status", "queue", "-a"),
                 ("status", "--json"), ("status", "queue", "--json"),
                 ("status", "queue", "-a", "--json")):
        fast, full = both(lab, *args)
        assert fast == full, args
    assert "sample cell-9 is not loaded" in both(lab, "status", "queue")[0]
    lab.ketchup("cancel", str(waiting))


def test_the_quick_status_says_when_tomato_is_not_running(tmp_path, env):
    done = subprocess.run([str(BIN / "ketchup"), "--config", str(tmp_path), "status"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 7 and done.stderr.startswith(
        f"error: tomato is not running for {tmp_path}")
