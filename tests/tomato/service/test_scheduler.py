"""The scheduler's `plan` (DESIGN §5), as pure functions over pipelines and queued jobs."""

from __future__ import annotations

from tomato.service.config.devicesfile import Component, PipelineSpec
from tomato.service.scheduling.queue import Pending, Pipeline, matching, plan


def pipeline(name, *parts, sample="s", ready=True, jobid=None, failed=None, caps=("random",)):
    """A pipeline of components (role, device, channel) offering `caps` on every role."""
    spec = PipelineSpec(name, tuple(Component(*p) for p in parts))
    return Pipeline(spec, {p[0]: frozenset(caps) for p in parts}, sample, ready, jobid, failed)


def queued(jobid, pipelines, sample="s", needs=(("worker", "random"),)):
    names = matching(needs, pipelines.values())
    return Pending(jobid, sample, needs, names, frozenset(names))


def lab(*pipelines):
    return {p.name: p for p in pipelines}


def test_a_job_starts_on_the_first_ready_matching_pipeline_holding_its_sample():
    pipes = lab(pipeline("a", ("worker", "d", "1"), sample="other"),
                pipeline("b", ("worker", "d", "2"), ready=False),
                pipeline("c", ("worker", "d", "3")), pipeline("d", ("worker", "d", "4")))
    assert plan([queued(1, pipes)], pipes) == [(1, "c")]


def test_jobs_start_in_submission_order_and_one_that_cannot_run_does_not_block():
    pipes = lab(pipeline("a", ("worker", "d", "1")))
    jobs = [queued(1, pipes, sample="missing"), queued(2, pipes), queued(3, pipes)]
    assert plan(jobs, pipes) == [(2, "a")]


def test_a_job_needs_every_role_and_technique_of_its_steps():
    pipes = lab(pipeline("one", ("worker", "d", "1")),
                pipeline("two", ("worker", "d", "2"), ("aux", "e", "1")))
    needs = (("worker", "random"), ("aux", "random"))
    assert plan([queued(1, pipes, needs=needs)], pipes) == [(1, "two")]
    assert plan([queued(2, pipes, needs=(("worker", "teleport"),))], pipes) == []


def test_pipelines_sharing_a_device_channel_with_a_running_job_are_busy():
    pipes = lab(pipeline("running", ("worker", "d", "1"), jobid=7, ready=False),
                pipeline("shared", ("worker", "d", "1")), pipeline("free", ("worker", "d", "2")))
    assert plan([queued(1, pipes), queued(2, pipes)], pipes) == [(1, "free")]


def test_two_jobs_never_take_one_channel_in_the_same_pass():
    pipes = lab(pipeline("a", ("worker", "d", "1")), pipeline("a-too", ("worker", "d", "1")))
    assert plan([queued(1, pipes), queued(2, pipes)], pipes) == [(1, "a")]


def test_a_failed_pipeline_runs_nothing():
    pipes = lab(pipeline("a", ("worker", "d", "1"), failed="device d failed"))
    assert plan([queued(1, pipes)], pipes) == []
