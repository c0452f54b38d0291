"""What the service says about itself (`tomato status`), and `tomato stop`."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from tomato.actors import Ok

from ..errors import ConflictError
from ..messages import ServiceStatus
from ..paths import socket_path

if TYPE_CHECKING:
    from .supervisor import Supervisor


async def service_status(sup: Supervisor) -> ServiceStatus:
    s = sup.settings
    return ServiceStatus(os.getpid(), str(socket_path(s.runtime_dir, "tomato")),
                         str(s.config_dir), str(s.state_db), str(s.jobs_dir),
                         sup.pipelines.source, tuple(await sup.devices.rows()),
                         tuple(sup.running_jobs()), len(sup.queue.pending),
                         sup.queue.last_pass * 1000, sup.jobhosts.standby(),
                         tuple(sup.jobhosts.hosts()))


def request_stop(sup: Supervisor, force: bool) -> Ok:
    """Ask the service to stop; refused while jobs run unless `force` (they are cancelled)."""
    running = sup.running_jobs()
    if running and not force:
        raise ConflictError(f"job(s) {', '.join(map(str, running))} are running; cancel "
                            f"them or use 'tomato stop --force' to cancel them and stop")
    sup.stop_requested.set()
    return Ok()
