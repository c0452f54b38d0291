"""What each child process of the service is told as it starts: one typed message on its
standard input (read with `tomato.actors.read_config`). Its command line names only its
socket: what `ps` shows, and how a restarted tomato knows its own leftovers. (A device's
is `tomato.drivers.DeviceConfig`: the drivers' layer cannot see this one.)"""

from __future__ import annotations

from tomato.actors import Message


class JobHostConfig(Message):
    """What a job host is told as it starts, on its standard input (its socket is on its
    command line, which names the process for `ps` and for a restarted tomato)."""

    supervisor: str
    """The supervisor's socket: its reports go there; gone, an idle host ends..."""
    orphan_grace: float
    """...after this many seconds."""
    poll_interval: float
    log_level: str


class OutputServerConfig(Message):
    """What an output server is told as it starts, on its standard input."""

    supervisor: str | None
    """The supervisor's socket: gone, the server ends (None: it serves until stopped)..."""
    orphan_grace: float
    """...after this many seconds."""


class WebConfig(Message):
    """What the web process is told as it starts, on its standard input."""

    listen: str
    """HOST:PORT (port 0: any free one)."""
    service: str
    """The service's socket, asked for everything the page shows."""
    tokens: str
    """The tokens file."""
    results: str
    """Where jobs submitted over the API write their results."""
    address_file: str
    """Written (0600) with the page's address and the owner's token."""
    orphan_grace: float
    log_level: str


CONFIGS: tuple[type, ...] = (JobHostConfig, OutputServerConfig, WebConfig)
