"""What the service says about itself (`tomato status`), and `tomato stop`."""

from __future__ import annotations

import os

import anyio

from tomato.actors import Ok

from ..errors import ConflictError
from ..messages import ServiceStatus
from ..paths import socket_path
from .config.settings import Settings
from .jobs.jobhosts import JobHosts
from .lab.devices import Devices
from .scheduling.pipelines import Pipelines
from .scheduling.queue import Queue


async def service_status(s: Settings, pipelines: Pipelines, devices: Devices,
                         jobhosts: JobHosts, queue: Queue, running: list[int]
                         ) -> ServiceStatus:
    return ServiceStatus(os.getpid(), str(socket_path(s.runtime_dir, "tomato")),
                         str(s.config_dir), str(s.state_db), str(s.jobs_dir),
                         pipelines.source, tuple(await devices.rows()), tuple(running),
                         len(queue.pending), queue.last_pass * 1000, jobhosts.standby(),
                         tuple(jobhosts.hosts()))


def request_stop(running: list[int], force: bool, stop: anyio.Event) -> Ok:
    """Ask the service to stop; refused while jobs run unless `force` (they are cancelled)."""
    if running and not force:
        raise ConflictError(f"job(s) {', '.join(map(str, running))} are running; cancel "
                            f"them or use 'tomato stop --force' to cancel them and stop")
    stop.set()
    return Ok()
