"""Whether a user could create files in a folder: what the service checks before it writes
for someone (a job's outputs, a snapshot), in their name."""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path


def can_write(folder: Path, uid: int) -> str | None:
    """Why `uid` could not create files in `folder` (None: it could), by the permission
    bits of the folder (or of its nearest existing parent, where it would be made) and
    of every folder on the way, symlinks resolved."""
    if uid == 0:
        return None
    try:
        user = pwd.getpwuid(uid)
        groups = set(os.getgrouplist(user.pw_name, user.pw_gid))
    except KeyError:
        user, groups = None, set()
    path = Path(os.path.realpath(folder))
    existing = path
    while not existing.exists():
        existing = existing.parent
    for part in (*reversed(existing.parents), existing):
        need = stat.S_IXUSR | (stat.S_IWUSR if part == existing else 0)
        if not _allows(part.stat(), uid, groups, need):
            what = "write in" if part == existing else "reach"
            name = user.pw_name if user else f"uid {uid}"
            return f"{name} may not {what} {part}"
    return None


def _allows(st: os.stat_result, uid: int, groups: set[int], need: int) -> bool:
    """Whether the mode bits of `st` give `uid` (in `groups`) what `need` says (in the
    owner's bits: S_IXUSR, S_IWUSR)."""
    mode = st.st_mode
    if st.st_uid == uid:
        bits = mode >> 6
    elif st.st_gid in groups:
        bits = mode >> 3
    else:
        bits = mode
    return (bits << 6) & need == need
