"""--help lists every command with the whole first sentence of its help, at any width."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tomato.cli.command import first_sentence
from tomato.cli.daemon import cli as tomato_cli
from tomato.cli.ketchup import cli as ketchup_cli
from tomato.cli.passata import cli as passata_cli

BIN = Path(sys.executable).parent


@pytest.mark.parametrize("columns", [60, 200])
@pytest.mark.parametrize(("argv", "group"), [
    (["ketchup"], ketchup_cli), (["tomato"], tomato_cli),
    (["ketchup", "component"], ketchup_cli.commands["component"]),
    (["tomato", "pipeline"], tomato_cli.commands["pipeline"]), (["passata"], passata_cli),
])
def test_help_lists_each_command_with_its_whole_first_sentence(argv, group, columns, tmp_path):
    out = subprocess.run([str(BIN / argv[0]), *argv[1:], "--help"], cwd=tmp_path,
                         env={**os.environ, "COLUMNS": str(columns)}, capture_output=True,
                         text=True, check=True, timeout=30).stdout
    listed = " ".join(out.partition("Commands:")[2].split())
    assert "..." not in listed
    for name, cmd in group.commands.items():
        assert f"{name} {first_sentence(cmd.help)}" in listed, name
