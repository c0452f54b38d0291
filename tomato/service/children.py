"""What the supervisor does when one of its child processes starts, fails or exits: the
jobs of a job host gone before they reported are collected as lost; a device that failed
stops the jobs using it and marks its pipelines; one started again frees them."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from tomato.actors import ChildEvent

if TYPE_CHECKING:
    from .supervisor import Supervisor

logger = logging.getLogger("tomato.service.supervisor")


def child_event(sup: Supervisor, ev: ChildEvent) -> None:
    """Handle `ev` (in the supervisor's mailbox, as every state change)."""
    if ev.group == "job":
        for jobid in sup.jobhosts.jobs_of(ev):
            if ev.kind != "exited" or jobid not in sup.running:
                continue
            cancelling = (job := sup.store.job(jobid)) is not None and job.status == "rd"
            end = (f"its job host {ev.reason}: killed" if ev.reason else
                   f"its job host exited with code {ev.returncode}")
            sup.lost(sup.running[jobid], "cd" if cancelling else "ce",
                     f"{end} before the job reported an end")
    elif ev.group == "device":
        device, reason = sup.devices.record(ev)
        if ev.kind in ("failed", "started"):  # started: after `tomato restart` too
            why = reason if ev.kind == "failed" else None
            for jobid, failure in sup.pipelines.device_failed(device, why):
                sup.failures[jobid] = failure
                sup.tg.start_soon(sup.jobhosts.cancel, jobid)
            sup.schedule()
    else:
        logger.info("%s %s %s", ev.id, ev.kind, ev.reason)

