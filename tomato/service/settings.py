"""settings.toml: parsed once, at the edge, into a frozen Settings."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from ..errors import ConfigError
from ..paths import runtime_dir

SETTINGS_FILE = "settings.toml"

_DEFAULT = """\
# tomato settings, written on first run. Relative paths are taken from this file's folder.
[paths]
state = "{state}"        # the SQLite state database
jobs = "{jobs}"          # one folder per job
devices = "{devices}"    # the devices file; if missing, built-in dummy pipelines are used

[jobs]
poll_interval = 0.1      # seconds between reads of a device's new data points
standby = 2              # job processes kept started and waiting, so jobs start at once
output_servers = 2       # processes making datagrams and archives (0: one process per job)

# Per-driver settings, passed to the driver of each device, e.g.
# [drivers.dummy]
"""

_KNOWN: dict[str, dict[str, type | tuple[type, ...]]] = {
    "paths": {"state": str, "jobs": str, "devices": str},
    "jobs": {"poll_interval": (int, float), "standby": int, "output_servers": int},
}


@dataclass(frozen=True)
class Settings:
    """Everything the service needs to know about where things are and how to run."""

    config_dir: Path
    state_db: Path
    jobs_dir: Path
    devices_file: Path
    runtime_dir: Path
    poll_interval: float = 0.1
    standby: int = 2
    output_servers: int = 2
    drivers: dict[str, dict[str, Any]] = field(default_factory=dict)
    log_level: str = "WARNING"
    test_mode: bool = False


def default_text(config_dir: Path, data_dir: Path | None) -> str:
    if data_dir is None:  # test mode: everything beside settings.toml
        return _DEFAULT.format(state="tomato.db", jobs="jobs", devices="devices.yml")
    return _DEFAULT.format(state=data_dir / "tomato.db", jobs=data_dir / "jobs",
                           devices=config_dir / "devices.yml")


def load_settings(config_dir: Path, data_dir: Path | None, *, log_level: str = "WARNING",
                  test_mode: bool = False, rundir: Path | None = None) -> Settings:
    """Read (on first run: write) `config_dir/settings.toml`; raises ConfigError."""
    path = config_dir / SETTINGS_FILE
    if not path.exists():
        config_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(default_text(config_dir, data_dir))
    text = path.read_text()
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    _check_keys(path, text, raw)
    paths = raw.get("paths", {})

    def resolve(key: str, default: str) -> Path:
        return (config_dir / paths.get(key, default)).resolve()

    return Settings(
        config_dir=config_dir.resolve(),
        state_db=resolve("state", "tomato.db"),
        jobs_dir=resolve("jobs", "jobs"),
        devices_file=resolve("devices", "devices.yml"),
        runtime_dir=rundir or runtime_dir(config_dir),
        poll_interval=float(raw.get("jobs", {}).get("poll_interval", 0.1)),
        standby=int(raw.get("jobs", {}).get("standby", 2)),
        output_servers=int(raw.get("jobs", {}).get("output_servers", 2)),
        drivers=raw.get("drivers", {}),
        log_level=log_level,
        test_mode=test_mode,
    )


def _check_keys(path: Path, text: str, raw: dict[str, Any]) -> None:
    for section, values in raw.items():
        if section == "drivers":
            if not all(isinstance(v, dict) for v in values.values()):
                raise ConfigError(f"{path}:{_line_of(text, section)}: "
                                  "[drivers.NAME] tables expected")
            continue
        if section not in _KNOWN or not isinstance(values, dict):
            raise ConfigError(f"{path}:{_line_of(text, section)}: unknown section {section!r} "
                              f"(known: {', '.join([*_KNOWN, 'drivers'])})")
        for key, value in values.items():
            expected = _KNOWN[section].get(key)
            where = f"{path}:{_line_of(text, key)}"
            if expected is None:
                raise ConfigError(f"{where}: unknown key {key!r} in [{section}]")
            if not isinstance(value, expected) or isinstance(value, bool):
                raise ConfigError(f"{where}: [{section}] {key} has the wrong type")
            value = cast(float, value)  # every key with bounds is a number
            if key == "poll_interval" and not 0 < value <= 10:
                raise ConfigError(f"{where}: [jobs] poll_interval must be in (0, 10] s")
            if key == "standby" and not 0 <= value <= 100:
                raise ConfigError(f"{where}: [jobs] standby must be from 0 to 100")
            if key == "output_servers" and not 0 <= value <= 16:
                raise ConfigError(f"{where}: [jobs] output_servers must be from 0 to 16")


def _line_of(text: str, key: str) -> int:
    """The first line that defines `key` (tomllib gives no positions)."""
    pattern = re.compile(rf"^\s*(\[\s*{re.escape(key)}[\].]|{re.escape(key)}\s*=)")
    for number, line in enumerate(text.splitlines(), 1):
        if pattern.match(line):
            return number
    return 1
