"""`python -m tomato.cli.demo [DIR]`: start tomato with its dummy pipelines, run a payload
through it.

Every step is the real command a person would type, shown with its output. The service runs
in test mode in DIR (default ./tomato-demo), where the job's files stay for a look.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

PAYLOAD = """\
# 20 random values, one every 0.1 s, on the `worker` of a pipeline holding sample_a.
version: "0.2"
sample:
  name: sample_a
method:
  - device: worker
    technique: random
    time: 2
    delay: 0.1
"""


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def ketchup(where: Path, *args: str, show: bool = True) -> str:
    if show:
        print(f"$ ketchup -t {' '.join(args)}", flush=True)
    result = subprocess.run([_bin("ketchup"), "-t", *args], cwd=where, capture_output=True,
                            text=True, timeout=60)
    if show:
        print(result.stdout + result.stderr, end="", flush=True)
    if result.returncode != 0:
        raise SystemExit(f"demo: 'ketchup {' '.join(args)}' failed")
    return result.stdout


def wait(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"demo: timed out waiting for {what}")
        time.sleep(0.1)


def main() -> None:
    where = Path(sys.argv[1] if len(sys.argv) > 1 else "tomato-demo").resolve()
    if where.exists():
        shutil.rmtree(where)
    where.mkdir(parents=True)
    (where / "demo.yml").write_text(PAYLOAD)
    print(f"$ cd {where}\n$ tomato -t -v > tomato.log 2>&1 &", flush=True)
    with (where / "tomato.log").open("w") as log:
        service = subprocess.Popen([_bin("tomato"), "-t", "-v"], cwd=where, stdout=log,
                                   stderr=log)
    try:
        wait(lambda: subprocess.run([_bin("ketchup"), "-t", "status"], cwd=where,
                                    capture_output=True).returncode == 0
             or service.poll() is not None, 30, "tomato to start")
        if service.poll() is not None:
            raise SystemExit((where / "tomato.log").read_text())
        ketchup(where, "status")
        ketchup(where, "load", "sample_a", "dummy-5")
        ketchup(where, "ready", "dummy-5")
        jobid = ketchup(where, "submit", "demo.yml", "-j", "demo").split()[-1]
        wait(lambda: "status: c" in ketchup(where, "status", jobid, show=False), 60,
             "the job to complete")
        ketchup(where, "status", jobid)
        ketchup(where, "status", "queue", "--all")
        data = sorted((where / "jobs" / jobid).glob("*.csv"))
        for path in data:
            lines = path.read_text().splitlines()
            print(f"\n{path.relative_to(where)}: {len(lines) - 2} points; first rows:")
            print("\n".join(lines[:5]))
        import xarray

        print(f"\n>>> xarray.open_datatree('results.{jobid}.nc')")
        with xarray.open_datatree(where / f"results.{jobid}.nc") as tree:
            print(tree)
    finally:
        subprocess.run([_bin("tomato"), "-t", "stop", "--force"], cwd=where,
                       capture_output=True, timeout=30)
        service.wait(30)
    print(f"\ndone: the job folder is {where / 'jobs' / jobid}")


if __name__ == "__main__":
    main()
