"""Shell completion of `ketchup` and `tomato` (docs/running.md), from the real commands."""

from __future__ import annotations

import os
import subprocess

from conftest import BIN


def complete(command: str, words: str) -> list[str]:
    env = {**os.environ, f"_{command.upper()}_COMPLETE": "bash_complete",
           "COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - 1)}
    out = subprocess.run([str(BIN / command)], env=env, capture_output=True, text=True,
                         timeout=30, check=True).stdout
    return [line.split(",", 1)[1] for line in out.splitlines()]


def test_commands_and_subcommands_complete():
    assert complete("ketchup", "ketchup comp") == ["component"]
    assert set(complete("ketchup", "ketchup component s")) == {"show", "set"}
    assert complete("tomato", "tomato rel") == ["reload"]
