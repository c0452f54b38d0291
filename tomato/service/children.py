"""What one of the service's child processes starting, failing or exiting means for the
jobs: those of a job host gone before they reported are lost; a device that failed stops
the jobs using it and marks its pipelines; one started again frees them. The supervisor
applies it (in its mailbox, as every change of its state)."""

from __future__ import annotations

import logging
from collections.abc import Container
from dataclasses import dataclass, field

from tomato.actors import ChildEvent

from ..jobstatus import Status
from .jobs.jobhosts import JobHosts
from .lab.devices import Devices
from .scheduling.pipelines import Pipelines
from .state.store import Store

logger = logging.getLogger("tomato.service.supervisor")


@dataclass
class ChildNews:
    lost: list[tuple[int, str, str]] = field(default_factory=list)
    """Running jobs whose job host exited before they reported: (jobid, status, reason)."""
    stopped: list[tuple[int, str]] = field(default_factory=list)
    """Running jobs to stop, as a device of theirs failed: (jobid, why)."""
    reschedule: bool = False
    """Pipelines changed: the queue is to be matched to them again."""


def child_news(ev: ChildEvent, jobhosts: JobHosts, devices: Devices, pipelines: Pipelines,
               store: Store, running: Container[int]) -> ChildNews:
    """What `ev` means for the jobs (the devices and pipelines record it as it comes)."""
    news = ChildNews()
    if ev.group == "job":
        for jobid in jobhosts.jobs_of(ev):
            if ev.kind != "exited" or jobid not in running:
                continue
            cancelling = (job := store.job(jobid)) is not None and job.status == Status.CANCELLING
            end = (f"its job host {ev.reason}: killed" if ev.reason else
                   f"its job host exited with code {ev.returncode}")
            news.lost.append((jobid, Status.CANCELLED if cancelling else Status.FAILED,
                              f"{end} before the job reported an end"))
    elif ev.group == "device":
        device, reason = devices.record(ev)
        if ev.kind in ("failed", "started"):  # started: after `tomato restart` too
            news.stopped = pipelines.device_failed(device, reason if ev.kind == "failed"
                                                   else None)
            news.reschedule = True
    else:
        logger.info("%s %s %s", ev.id, ev.kind, ev.reason)
    return news
