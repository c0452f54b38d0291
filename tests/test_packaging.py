"""Installed, tomato adds one import name: `tomato` (actors/ and drivers/ go inside it), so no
other distribution's `actors` or `drivers` can overwrite ours, or ours theirs."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parent.parent
FOLDERS = {"tomato": "tomato", "actors": "tomato/actors", "drivers": "tomato/drivers"}


def test_the_wheel_installs_only_tomato_and_every_module_of_the_three_folders(tmp_path):
    source = tmp_path / "source"  # a copy: building in the clone would leave build/ there
    for folder in FOLDERS:
        shutil.copytree(ROOT / folder, source / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                    str(tmp_path / "dist"), str(source)], check=True, timeout=300)
    [wheel] = (tmp_path / "dist").glob("tomato-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        [top_level] = [n for n in names if n.endswith(".dist-info/top_level.txt")]
        assert z.read(top_level).decode().split() == ["tomato"]
        entry_points = z.read(top_level.replace("top_level.txt", "entry_points.txt")).decode()
    assert {n.split("/")[0] for n in names if not n.startswith("tomato-")} == {"tomato"}
    expected = {f"{target}/{p.relative_to(ROOT / folder).as_posix()}"
                for folder, target in FOLDERS.items() for p in (ROOT / folder).rglob("*.py")}
    assert expected - set(names) == set()  # pyproject's package list misses none
    assert "dummy = tomato.drivers:DummyDriver" in entry_points
