"""Tables in a real pseudo-terminal, narrow and wide: identifying values wrap, whole."""

from __future__ import annotations

import pytest
from conftest import Terminal, payload

NAME = "a_rather_long_running_calibration_of_the_second_cycler"
SAMPLE = "sample_with_a_long_name"


def column(screen: list[str], header: str, following: str) -> str:
    """The text of a one-row table's column `header` (up to the column `following`), its
    lines joined: what a person reads there, however the terminal folded it."""
    at = next(i for i, line in enumerate(screen) if header in line and following in line)
    start, end = screen[at].index(header), screen[at].index(following)
    parts = []
    for line in screen[at + 2:]:  # after the header's rule
        if not line.strip():
            break
        parts.append(line[start:end].strip())
    return "".join(parts)


@pytest.mark.parametrize("cols", [60, 200])
def test_the_queue_in_a_terminal_shows_long_names_whole(lab, cols):
    jobid = lab.submit(payload(sample=SAMPLE), NAME)
    term = Terminal(lab, "status", "queue", cols=cols, rows=40)
    assert term.exit_code() == 0
    screen = term.screen.display
    assert column(screen, "jobid", "jobname") == str(jobid)
    assert column(screen, "jobname", "status") == NAME
    assert column(screen, "sample", "pipeline") == SAMPLE
    assert all(len(line.rstrip()) <= cols for line in screen)


def test_the_whole_queue_at_80_columns_cuts_no_time_in_two(lab):
    lab.prepare("dummy-5", "s1")
    jobid = lab.submit(payload(time=0.2))
    lab.wait_status(jobid, "c")
    term = Terminal(lab, "status", "queue", "-a", cols=80, rows=60)
    assert term.exit_code() == 0
    screen = term.screen.display
    times = [w for line in screen for w in line.split() if w.count(":") == 2]
    assert times and all(len(t) == 8 for t in times), times  # HH:MM:SS, whole
    header = next(line for line in screen if "jobid" in line)
    assert all(name in header for name in ("submitted", "executed", "completed")), screen
    assert all(len(line.rstrip()) <= 80 for line in screen)
