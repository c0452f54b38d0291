"""settings.toml: parsed once, at the edge, by a model, into a frozen Settings."""

from __future__ import annotations

import grp
import importlib.util
import os
import re
import shlex
import socket
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tomato.actors import ORPHAN_GRACE

from ...errors import ConfigError
from ...paths import runtime_dir

SETTINGS_FILE = "settings.toml"

_DEFAULT = """\
# tomato settings, written on first run. Relative paths are taken from this file's folder.
[paths]
state = "{state}"        # the SQLite state database
jobs = "{jobs}"          # one folder per job
devices = "{devices}"    # the devices file; if missing, built-in dummy pipelines are used

[jobs]
per_host = 500           # jobs run by one job host process (more hosts start as needed)
standby = 1              # job hosts kept started with room, so jobs start at once
poll_interval = 30       # a job reads its device when told of new points; without word,
                         # after this many seconds too (a safety net)
output_servers = 2       # processes making datagrams and archives (0: one process per job)
orphan_grace = {grace:g}        # seconds the service's processes wait for it, if it dies, before
                         # those with nothing to do stop (a device stops once its job ends)
# keep = 365             # days a finished job's record stays (default: for ever); its
                         # folder and results always stay

[web]
listen = "127.0.0.1:8742"  # the web page and API (`ketchup web` prints its address with a
                           # login token); "": off. Only this PC can reach it unless you
                           # listen elsewhere: put a proxy with TLS in front (docs/web.md)

# Whom to tell when a job ends (c, ce, cd) or a device fails: a command (the job's record
# as JSON on its standard input) and/or a URL (POSTed the record as JSON), e.g.
# [notify]
# command = "/usr/local/bin/tell-the-lab"
# url = "https://chat.example.org/hooks/tomato"
# on = ["ce", "cd", "device_failed"]   # default: all four

# Per-driver settings, passed to the driver of each device, e.g.
# [drivers.dummy]
"""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Paths(_Section):
    state: str = "tomato.db"
    jobs: str = "jobs"
    devices: str = "devices.yml"


class _Jobs(_Section):
    per_host: Annotated[int, Field(ge=1, le=10_000)] = 500
    standby: Annotated[int, Field(ge=0, le=100)] = 1
    poll_interval: Annotated[float, Field(gt=0, le=3600)] = 30.0
    """Seconds between reads of a device's new points when no event wakes the job."""
    output_servers: Annotated[int, Field(ge=0, le=16)] = 2
    orphan_grace: Annotated[float, Field(gt=0, le=86400)] = ORPHAN_GRACE
    keep: Annotated[float, Field(gt=0, le=36500)] | None = None
    """Days a finished job's record stays (None: for ever); its files always stay."""


_URL = r"(nats|tls)://[^\s,/]+(:\d+)?"
_NAME = r"[A-Za-z0-9_-]{1,64}"


class _Cluster(_Section):
    url: Annotated[str, Field(pattern=rf"^\s*{_URL}(\s*,\s*{_URL})*\s*$")]
    """One or more NATS servers, comma-separated."""
    host: Annotated[str, Field(pattern=rf"^{_NAME}$")] = ""
    """This PC's name in the cluster (default: its host name)."""
    credentials: str | None = None
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    replicas: Annotated[int, Field(ge=1, le=5)] = 1
    """Copies JetStream keeps of tomato's buckets (3 on a 3-node cluster)."""
    keep_finished: Annotated[float, Field(gt=0, le=3650)] = 7.0
    """Days a finished job's entry stays in the cluster (each tomato keeps its copy)."""


_EXPECTED = {("cluster", "url"): "one or more nats:// or tls:// URLs, comma-separated",
             ("web", "listen"): 'HOST:PORT (e.g. "127.0.0.1:8742"), or "" for none',
             ("cluster", "host"): "a name of letters, digits, '-' and '_' (at most 64)"}


_LISTEN = r"^$|^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$"


class _Web(_Section):
    listen: Annotated[str, Field(pattern=_LISTEN)] = "127.0.0.1:8742"
    """HOST:PORT of the web page and API; "": none."""


NotifyEvent = Literal["c", "ce", "cd", "device_failed"]


class _Notify(_Section):
    command: str | None = None
    """Run (words split as a shell would, no shell) with the record as JSON on stdin."""
    url: Annotated[str | None, Field(pattern=r"^https?://\S+$")] = None
    """POSTed the record as JSON."""
    on: list[NotifyEvent] = list(get_args(NotifyEvent))


@dataclass(frozen=True)
class NotifySettings:
    """`[notify]`: whom to tell when a job ends or a device fails."""

    command: tuple[str, ...] | None
    url: str | None
    on: frozenset[str]


class _Sharing(_Section):
    socket: str
    """A second socket, for the members of `group`."""
    group: str


class _File(_Section):
    paths: _Paths = _Paths()
    jobs: _Jobs = _Jobs()
    drivers: dict[str, dict[str, Any]] = {}
    cluster: _Cluster | None = None
    sharing: _Sharing | None = None
    web: _Web = _Web()
    notify: _Notify | None = None


@dataclass(frozen=True)
class ClusterSettings:
    """`[cluster]`: this tomato joins the lab's NATS (DESIGN §9)."""

    urls: tuple[str, ...]
    host: str
    credentials: Path | None
    tls_ca: Path | None
    tls_cert: Path | None
    tls_key: Path | None
    replicas: int
    keep_finished: float
    """Days a finished job's entry stays in the cluster, once its results are home."""


@dataclass(frozen=True)
class Settings:
    """Everything the service needs to know about where things are and how to run, as
    `load_settings` reads it (the defaults are the file's, written once, above)."""

    config_dir: Path
    state_db: Path
    jobs_dir: Path
    devices_file: Path
    runtime_dir: Path
    poll_interval: float
    per_host: int
    standby: int
    output_servers: int
    orphan_grace: float
    """Seconds the service's processes wait for it (to be back) if it dies."""
    keep: float | None
    """`[jobs] keep`: days a finished job's record stays (None: for ever)."""
    drivers: dict[str, dict[str, Any]]
    log_level: str
    test_mode: bool
    cluster: ClusterSettings | None
    """None: this tomato runs alone (no `[cluster]` table)."""
    shared_socket: tuple[Path, int] | None
    """`[sharing]`: a second socket and the group (gid) whose members may use it."""
    web_listen: str | None
    """`[web] listen`: HOST:PORT of the web page and API (None: none)."""
    notify: NotifySettings | None
    """`[notify]`: None: nobody is told."""


def default_text(config_dir: Path, data_dir: Path | None) -> str:
    if data_dir is None:  # test mode: everything beside settings.toml
        return _DEFAULT.format(state="tomato.db", jobs="jobs", devices="devices.yml",
                               grace=ORPHAN_GRACE)
    return _DEFAULT.format(state=data_dir / "tomato.db", jobs=data_dir / "jobs",
                           devices=config_dir / "devices.yml", grace=ORPHAN_GRACE)


def load_settings(config_dir: Path, data_dir: Path | None, *, log_level: str = "WARNING",
                  test_mode: bool = False, rundir: Path | None = None) -> Settings:
    """Read (on first run: write) `config_dir/settings.toml`; raises ConfigError naming the
    file, the line and the key."""
    path = config_dir / SETTINGS_FILE
    if not path.exists():  # the user's alone: driver settings may hold passwords
        config_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(default_text(config_dir, data_dir))
    text = path.read_text()
    try:
        parsed = _File.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except ValidationError as exc:
        raise ConfigError(_explain(path, text, exc.errors()[0])) from None

    def resolve(name: str) -> Path:
        return (config_dir / name).resolve()

    return Settings(
        config_dir=config_dir.resolve(),
        state_db=resolve(parsed.paths.state),
        jobs_dir=resolve(parsed.paths.jobs),
        devices_file=resolve(parsed.paths.devices),
        runtime_dir=rundir or runtime_dir(config_dir),
        poll_interval=parsed.jobs.poll_interval,
        standby=parsed.jobs.standby,
        per_host=parsed.jobs.per_host,
        output_servers=parsed.jobs.output_servers,
        orphan_grace=parsed.jobs.orphan_grace,
        keep=_keep(parsed, path),
        drivers=parsed.drivers,
        log_level=log_level,
        test_mode=test_mode,
        cluster=_cluster(parsed.cluster, resolve, path),
        shared_socket=_sharing(parsed.sharing, resolve, path),
        web_listen=parsed.web.listen or None,
        notify=_notify(parsed.notify, path),
    )


def _keep(parsed: _File, where: Path) -> float | None:
    keep, cluster = parsed.jobs.keep, parsed.cluster
    if keep is not None and cluster is not None and keep < cluster.keep_finished:
        raise ConfigError(f"{where}: [jobs] keep: at least [cluster] keep_finished "
                          f"({cluster.keep_finished:g} days): a record forgotten while its "
                          "entry is in the cluster would be copied back")
    return keep


def _notify(section: _Notify | None, where: Path) -> NotifySettings | None:
    if section is None:
        return None
    if section.command is None and section.url is None:
        raise ConfigError(f"{where}: [notify]: give a command, a url, or both")
    try:
        command = tuple(shlex.split(section.command)) if section.command else None
    except ValueError as exc:
        raise ConfigError(f"{where}: [notify] command: {exc}") from None
    return NotifySettings(command, section.url, frozenset(section.on))


def _sharing(section: _Sharing | None, resolve: Callable[[str], Path], where: Path
             ) -> tuple[Path, int] | None:
    if section is None:
        return None
    try:
        gid = grp.getgrnam(section.group).gr_gid
    except KeyError:
        raise ConfigError(f"{where}: [sharing] group: no group named {section.group!r}"
                          ) from None
    sock = resolve(section.socket)
    if not sock.parent.is_dir():
        raise ConfigError(f"{where}: [sharing] socket: no folder {sock.parent} (make it, "
                          f"readable by the group {section.group!r})")
    return sock, gid


def _cluster(section: _Cluster | None, resolve: Callable[[str], Path], where: Path
             ) -> ClusterSettings | None:
    if section is None:
        return None
    if importlib.util.find_spec("nats") is None:
        raise ConfigError(f"{where}: [cluster] needs the NATS client: "
                          "pip install 'tomato[cluster]'")

    def path(value: str | None) -> Path | None:
        if value is None:
            return None
        if not (found := resolve(value)).is_file():
            raise ConfigError(f"{where}: [cluster] {value}: no such file")
        return found

    host = section.host or re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname())[:64]
    return ClusterSettings(
        urls=tuple(u.strip() for u in section.url.split(",")), host=host,
        credentials=path(section.credentials), tls_ca=path(section.tls_ca),
        tls_cert=path(section.tls_cert), tls_key=path(section.tls_key),
        replicas=section.replicas, keep_finished=section.keep_finished)


def _explain(path: Path, text: str, error: Any) -> str:
    """One line: file, line, key and what is wrong with it."""
    loc = tuple(str(part) for part in error["loc"])
    where = f"{path}:{line_of(text, loc)}"
    if error["type"] == "extra_forbidden":
        if len(loc) == 1:
            what = f"section [{loc[0]}]" if isinstance(error["input"], dict) else \
                f"key {loc[0]!r} outside a section"
            return f"{where}: unknown {what} (known: {', '.join(_File.model_fields)})"
        return f"{where}: unknown key {loc[-1]!r} in [{'.'.join(loc[:-1])}]"
    if loc[0] == "drivers":
        return f"{where}: [drivers.NAME] tables expected"
    if error["type"] == "string_pattern_mismatch" and loc in _EXPECTED:
        return f"{where}: [{'.'.join(loc[:-1])}] {loc[-1]}: {_EXPECTED[loc]} expected, " \
               f"not {error['input']!r}"
    return f"{where}: [{'.'.join(loc[:-1])}] {loc[-1]}: {error['msg'].lower()}"


def line_of(text: str, loc: tuple[str, ...]) -> int:
    """The line of `loc` (section, key) in the TOML `text`: the key's line inside its
    section (a key of the same name elsewhere is not it), else the section's header."""
    section, key = ".".join(loc[:-1]) if len(loc) > 1 else loc[0], loc[-1]
    header = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]")
    assignment = re.compile(rf"^\s*{re.escape(key)}\s*=")
    current, found = "", None
    for number, line in enumerate(text.splitlines(), 1):
        if match := header.match(line):
            current = match.group(1)
            if found is None and (current == section or current.startswith(f"{section}.")):
                found = number
        elif current == (section if len(loc) > 1 else "") and assignment.match(line):
            return number
    return found or 1
