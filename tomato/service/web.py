"""The service's side of the web process (`[web] listen`): started and supervised like the
output servers; its failure is logged and touches no job."""

from __future__ import annotations

import logging
from pathlib import Path

from tomato.actors import ActorError, ChildSpec, ProcessSupervisor, python_argv

from ..childconfig import WebConfig
from ..codec import CODEC
from ..paths import socket_path, web_address_file
from ..tokens import TOKENS_FILE
from .config.settings import Settings

logger = logging.getLogger(__name__)

def results_folder(settings: Settings) -> Path:
    """Where jobs submitted over the API write their results (a folder per token name)."""
    return settings.jobs_dir.parent / "web-results"


async def start_web(procs: ProcessSupervisor, settings: Settings) -> None:
    """Start the web process under `procs` (an error is logged: the service runs on)."""
    assert settings.web_listen is not None
    sock = socket_path(settings.runtime_dir, "web")
    service = socket_path(settings.runtime_dir, "tomato")
    try:
        config = WebConfig(settings.web_listen, str(service),
                           str(settings.config_dir / TOKENS_FILE), str(results_folder(settings)),
                           str(web_address_file(settings.runtime_dir)), settings.orphan_grace,
                           settings.log_level)
        await procs.start(ChildSpec(
            id="web", group="web", argv=python_argv("tomato.web", str(sock)),
            stdin=CODEC.encode(config), socket=sock, ping_interval=5.0, start_timeout=60.0))
    except ActorError as exc:
        if not procs.stopping:
            logger.error("the web page did not start (%s); the service runs on without it",
                         exc)
