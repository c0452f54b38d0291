"""mypy over the code as it is installed: `tomato/`, with `actors/` and `drivers/` inside it
as `tomato.actors` and `tomato.drivers` (the wheel's layout; an editable install maps them
with an import hook, which mypy cannot follow). mypy's report names repository paths.

    python .ci/typecheck.py [mypy options]
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".mypy_cache"
TREE = CACHE / "tree"
LAYOUT = {"tomato": "tomato", "actors": "tomato/actors", "drivers": "tomato/drivers"}


def main() -> int:
    shutil.rmtree(TREE, ignore_errors=True)
    for folder, target in LAYOUT.items():  # copies keep their times: mypy stays incremental
        shutil.copytree(ROOT / folder, TREE / target, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         "--cache-dir", str(CACHE), *sys.argv[1:], "tomato"],
        cwd=TREE, capture_output=True, text=True)
    sys.stdout.write(re.sub(r"^tomato/(actors|drivers)/", r"\1/", result.stdout, flags=re.M))
    sys.stderr.write(result.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
