"""docs/tomato.service, the systemd user unit docs/running.md installs, is one systemd accepts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).parents[3] / "docs" / "tomato.service"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_the_shipped_unit_passes_systemd_analyze_verify(tmp_path):
    # As docs/running.md says: the unit's ExecStart points at your tomato.
    tomato = Path(sys.executable).parent / "tomato"
    text = UNIT.read_text()
    assert "ExecStart=%h/tomato/.venv/bin/tomato" in text
    unit = tmp_path / "tomato.service"
    unit.write_text(text.replace("%h/tomato/.venv/bin/tomato", str(tomato)))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                            text=True, timeout=60)
    # A value systemd does not understand is only a warning: any output fails the test.
    assert (result.returncode, result.stdout + result.stderr) == (0, ""), result
