"""What the supervisor does when one of its child processes starts, fails or exits: a job
process gone before it reported is collected as lost; a device that failed stops the jobs
using it and marks its pipelines; one started again frees them."""

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
        jobid = sup.jobprocs.job_of(ev)
        if jobid is not None and ev.kind == "exited" and jobid in sup.running:
            cancelling = (job := sup.store.job(jobid)) is not None and job.status == "rd"
            end = (f"job process {ev.reason}: killed" if ev.reason else
                   f"job process exited with code {ev.returncode}")
            sup.lost(sup.running[jobid], "cd" if cancelling else "ce",
                     f"{end} before it reported an end")
    elif ev.group == "device":
        device, reason = sup.devices.record(ev)
        if ev.kind in ("failed", "started"):  # started: after `tomato restart` too
            why = reason if ev.kind == "failed" else None
            for jobid, failure in sup.pipelines.device_failed(device, why):
                sup.failures[jobid] = failure
                sup.tg.start_soon(sup.jobprocs.cancel, jobid)
            sup.schedule()
    else:
        logger.info("%s %s %s", ev.id, ev.kind, ev.reason)

