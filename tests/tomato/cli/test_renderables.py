"""The CLI's renderables: pure functions of replies, rendered into a string at fixed width."""

from __future__ import annotations

import dataclasses
import io
import time

from rich.console import Console

from tomato.cli import render, watchview
from tomato.cli.watchmodel import Model
from tomato.messages import JobData, JobInfo, PipelineInfo, StepStarted, WatchState
from tomato.records import SEED_KEYS, job_records


def text_of(renderable, width=120):
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(renderable)
    return console.file.getvalue()


PIPE = PipelineInfo("dummy-5", "s1", True, 3, ("worker",), ("worker: d:5",),
                    ("random", "sequential"))
JOB = JobInfo(3, "run-a", "r", "s1", "2026-11-30 10:00:00+00:00", "2026-11-30 10:00:01+00:00",
              None, "dummy-5", 0, None, "/jobs/3")


def test_the_pipelines_table_shows_sample_readiness_job_and_failures():
    failed = PipelineInfo("dummy-10", None, False, None, ("worker",), ("worker: d:10",),
                          ("random",), failed="device d failed: exited 3 times")
    out = text_of(render.pipelines_table([PIPE, failed]))
    row5 = next(line for line in out.splitlines() if "dummy-5" in line)
    assert "s1" in row5 and "yes" in row5 and " 3 " in row5 and "worker: d:5" in row5
    assert "failed: device d failed" in out


def test_the_jobs_table_shows_a_reason_column_only_when_a_job_has_one():
    assert "reason" not in text_of(render.jobs_table([JOB]))
    ended = JobInfo(4, None, "ce", "s1", JOB.submitted, JOB.executed, JOB.executed, "dummy-5",
                    0, "device d failed", "/jobs/4")
    out = text_of(render.jobs_table([JOB, ended]))
    assert "reason" in out and "device d failed" in out
    assert "no jobs" in text_of(render.jobs_table([]))


def test_job_records_have_the_seed_keys_first_then_every_other_field():
    [record] = job_records([JOB])
    assert list(record)[:7] == list(SEED_KEYS)
    assert set(record) == {f.name for f in dataclasses.fields(JobInfo)}  # as --json has them
    assert record["jobpath"] == "/jobs/3" and record["reason"] is None


def test_the_job_view_shows_progress_latest_values_and_a_plot():
    now = time.time()
    model = Model()
    model.load(WatchState([PIPE], [JOB], {3: [{"role": "worker", "technique": "random",
                                               "max_duration": 10.0}]}, {}, {}))
    model.apply(StepStarted(3, 0, "worker", "random", 10.0, now - 4, 1))
    model.apply(JobData(3, 0, "worker", ["value"], ["V"], [[now - 1, 0.25], [now, 0.5]]))
    out = text_of(watchview.job_view(model, 3, now))
    assert "job 3" in out and "run-a" in out and "status r" in out
    assert "value=0.5 V" in out and "0:04 / 0:10" in out
    assert "step 1 worker.value" in out


def test_the_pipelines_view_shows_the_running_job_and_says_when_events_were_missed():
    now = time.time()
    model = Model()
    model.load(WatchState([PIPE], [JOB], {}, {}, {}))
    model.apply(JobData(3, 0, "worker", ["value"], [""], [[now, 0.75]]))
    model.missed = 2
    out = text_of(watchview.pipelines_view(model, now, "tomato is not running; reconnecting…"))
    assert "dummy-5" in out and "value=0.75" in out
    assert "missed 2 events" in out and "reconnecting" in out


LONG = JobInfo(7, "a_rather_long_running_experiment_name", "qw", "sample_with_a_long_name",
               "2026-11-30 10:00:00+00:00", None, None, None, 0, None, None)


def test_a_narrow_terminal_wraps_identifying_values_rather_than_cutting_them():
    lines = text_of(render.jobs_table([JOB, LONG]), width=60).splitlines()
    header = next(line for line in lines if "jobid" in line)

    def column(name: str, after: str) -> str:
        """The text of column `name` (up to where column `after` starts), lines joined."""
        start, end = header.index(name), header.index(after)
        return "".join(line[start:end].strip() for line in lines[lines.index(header) + 2:])

    assert "…" not in "".join(lines)
    assert "a_rather_long_running_experiment_name" in column("jobname", "status")
    assert "sample_with_a_long_name" in column("sample", "pipeline")


def test_a_piped_table_is_whole_unpadded_and_tab_separated():
    lines = render.plain_table(render.jobs_table([JOB, LONG])).splitlines()
    assert lines[0].split("\t") == ["jobid", "jobname", "status", "sample", "pipeline",
                                    "submitted", "executed", "completed"]
    long = lines[2].split("\t")
    assert long[:5] == ["7", "a_rather_long_running_experiment_name", "qw",
                        "sample_with_a_long_name", "-"]
    assert all(line == line.rstrip() for line in lines)
