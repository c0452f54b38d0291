"""Where a configuration's sockets live: a private runtime directory with short paths."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from pathlib import Path

from .errors import ConfigError

SOCKET_PATH_MAX = 107


def runtime_dir(config_dir: Path, base: Path | None = None) -> Path:
    """A short, deterministic, private (0700) directory for the sockets of `config_dir`."""
    if base is None:
        if xdg := os.environ.get("XDG_RUNTIME_DIR"):
            base = Path(xdg) / "tomato"
        else:  # as tempfile.gettempdir() finds it, without importing tempfile
            base = Path(os.environ.get("TMPDIR") or "/tmp") / f"tomato-{os.getuid()}"
    key = hashlib.sha1(str(config_dir.resolve()).encode()).hexdigest()[:12]
    return base / key


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and its parent) as 0700 dirs owned by us; refuse anything else."""
    for d in (path.parent, path):
        d.mkdir(mode=0o700, exist_ok=True)
        st = d.lstat()
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
            raise ConfigError(f"{d}: runtime directory must be a directory owned by uid "
                              f"{os.getuid()} with mode 0700")
    return path


def socket_path(rundir: Path, name: str) -> Path:
    path = rundir / f"{name}.sock"
    if len(str(path)) > SOCKET_PATH_MAX:
        raise ConfigError(f"{path}: socket path longer than {SOCKET_PATH_MAX} bytes")
    return path


def lock_path(rundir: Path) -> Path:
    """The running service's lock, holding its pid: devices take commands from that process
    and its children only."""
    return rundir / "tomato.lock"


def open_lock(rundir: Path) -> int:
    """The service's lock file, opened for reading and writing (made 0600 if missing),
    never through a symlink someone left there; raises ConfigError saying why not."""
    path = lock_path(rundir)
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be opened as tomato's lock file ({exc.strerror}); "
                          "remove it if no tomato runs") from None


def write_private(path: Path, data: object) -> None:
    """`data` as JSON in `path`, private to this user (0600) from its first byte, never
    through a symlink, and whole: written beside it, then put in its place."""
    part = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1)
    os.replace(part, path)


def device_socket(rundir: Path, device: str) -> Path:
    """The socket of a device actor; names are made safe and short for a path."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", device)
    if safe != device or len(safe) > 32:
        safe = f"{safe[:20]}-{hashlib.sha1(device.encode()).hexdigest()[:8]}"
    return socket_path(rundir, f"dev-{safe}")


def web_address_file(rundir: Path) -> Path:
    """Written (0600) by the web process while it serves: the page's address and the
    owner's login token (`ketchup web` prints them)."""
    return rundir / "web.json"
