"""Imports go one way (tomato → drivers → actors) and never through another's private module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
LAYERS = {"actors": 0, "drivers": 1, "tomato": 2}


def imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_imports_go_one_way_and_only_through_public_names(package):
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, module in imports(path):
            top, _, rest = module.partition(".")
            if top not in LAYERS or top == package:
                continue
            where = f"{path.relative_to(ROOT)}:{line} imports {module}"
            if LAYERS[top] > LAYERS[package]:
                bad.append(f"{where} (reverse edge)")
            elif any(part.startswith("_") for part in rest.split(".") if part):
                bad.append(f"{where} (private module of another package)")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_every_public_name_is_importable(package):
    module = __import__(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, name


def test_the_cli_path_imports_nothing_heavy():
    import subprocess
    import sys

    code = ("import sys, tomato.ketchup, tomato.daemon; "
            "print(' '.join(m for m in ('yadg', 'xarray', 'pandas', 'numpy', 'pydantic', "
            "'dgbowl_schemas', 'sqlite3') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == ""
