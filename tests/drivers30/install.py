"""Install the registry's DriverInterface 3.0 releases that the tests and benchmarks run
(requirements.txt beside this file), without their dependencies, into `.drivers30/` at the
top of the checkout, once (later calls find them there). The 2.1 releases of the same
modules are installed by the test extra, so these live in a folder of their own: put it
first on a service's PYTHONPATH to run them. `python tests/drivers30/install.py` prints
the folder."""

from __future__ import annotations

import compileall
import fcntl
import subprocess
import sys
from pathlib import Path

PINS = Path(__file__).parent / "requirements.txt"
FOLDER = Path(__file__).parent.parent.parent / ".drivers30"


def install() -> Path:
    stamp = FOLDER / "installed.txt"
    FOLDER.mkdir(exist_ok=True)
    with (FOLDER / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # other processes installing wait for the first
        if not stamp.exists() or stamp.read_text() != PINS.read_text():
            subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                            "--upgrade", "--target", str(FOLDER), "-r", str(PINS)],
                           check=True, timeout=300)
            compileall.compile_dir(FOLDER, quiet=1)
            stamp.write_text(PINS.read_text())
    return FOLDER


if __name__ == "__main__":
    print(install())
