"""Putting a job's outputs where its submitter asked, as the submitter could.

Outputs are made in the job's own folder first (private to tomato), then delivered. A
submitter other than tomato's user (a member of a shared tomato, `[sharing]`) gets them
written by a process with their identity when tomato runs as root (a fork that drops to
their uid and groups: the kernel decides what they may write, and the files are theirs),
or, when it does not, only into a folder their permissions let them write. A file is never
created through a symlink, and never overwrites one that is not this job's own (an earlier
snapshot of it): the outputs then go beside it, under a name with the jobid.
"""

from __future__ import annotations

import json
import os
import pwd
import stat
from pathlib import Path
from typing import Any

from ..errors import OutputError
from ..writable import can_write

DELIVERED = ".delivered.json"
"""In the job folder: the files delivered for the job (path, device, inode), its own."""


def deliver(staged: list[Path], folder: Path, owner: int | None, jobdir: Path,
            jobid: int) -> tuple[list[Path], list[str]]:
    """Copy `staged` files into `folder` as `owner` (None: as this process's user);
    returns the paths written and notes (a name changed). Raises OutputError."""
    known = _delivered(jobdir)
    own = {(dev, ino) for _, dev, ino in known}
    sources = [(path.name, os.open(path, os.O_RDONLY | os.O_CLOEXEC)) for path in staged]
    try:  # opened here: a writer with the submitter's identity cannot open the job folder
        if owner is None or owner == os.geteuid():
            written, notes = _deliver(sources, folder, own, jobid)
        elif os.geteuid() == 0:
            written, notes = _as_user(owner, sources, folder, own, jobid)
        else:
            if (why := can_write(folder, owner)) is not None:
                raise OutputError(f"outputs in {folder} failed: {why} (the job's "
                                  f"submitter; its data is in {jobdir})")
            written, notes = _deliver(sources, folder, own, jobid, mode=0o640)
    finally:
        for _, fd in sources:
            os.close(fd)
    try:  # the job's own files now (what a later snapshot may replace)
        (jobdir / DELIVERED).write_text(json.dumps([*known, *map(list, written)]))
    except OSError:  # the job folder's disk is full: a later snapshot goes beside these
        pass
    return [Path(p) for p, _, _ in written], notes


Sources = list[tuple[str, int]]
"""Files to deliver: (name, a descriptor open for reading)."""


def _deliver(sources: Sources, folder: Path, own: set[tuple[int, int]], jobid: int,
             mode: int = 0o666) -> tuple[list[tuple[str, int, int]], list[str]]:
    """Copy as this process's user; (path, device, inode) of each file written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"outputs in {folder} failed: {exc.strerror}") from None
    written, notes = [], []
    for name, source in sources:
        target = folder / name
        try:
            fd = _open_target(target, own)
        except FileExistsError:
            other = target.with_name(f"{target.stem}.job{jobid}{target.suffix}")
            notes.append(f"{target} exists and is not this job's: written as {other.name}")
            try:
                fd = _open_target(other, own)
            except OSError as exc:
                raise OutputError(f"outputs in {folder} failed: {other.name}: {exc.strerror or exc}"
                                  ) from None
            target = other
        except OSError as exc:
            raise OutputError(f"outputs in {folder} failed: {target.name}: "
                              f"{exc.strerror}") from None
        try:
            size, offset = os.fstat(source).st_size, 0
            while offset < size:
                offset += os.sendfile(fd, source, offset, size - offset)
            if mode != 0o666:
                os.fchmod(fd, mode)
            st = os.fstat(fd)
        except OSError as exc:
            raise OutputError(f"outputs in {folder} failed: {target.name}: "
                              f"{exc.strerror}") from None
        finally:
            os.close(fd)
        written.append((str(target), st.st_dev, st.st_ino))
    return written, notes


def _open_target(target: Path, own: set[tuple[int, int]]) -> int:
    """A new file at `target`, never through a symlink; an existing one only if it is this
    job's own (then emptied). Raises FileExistsError otherwise."""
    flags = os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        return os.open(target, flags | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        st = os.lstat(target)
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) not in own:
            raise
    fd = os.open(target, flags)
    st2 = os.fstat(fd)
    if (st2.st_dev, st2.st_ino) not in own:  # replaced in between
        os.close(fd)
        raise FileExistsError(target)
    os.ftruncate(fd, 0)
    return fd


def _as_user(uid: int, sources: Sources, folder: Path, own: set[tuple[int, int]],
             jobid: int) -> tuple[list[tuple[str, int, int]], list[str]]:
    """`_deliver` in a child process with `uid`'s identity (this process is root)."""
    try:
        user = pwd.getpwuid(uid)
    except KeyError:
        raise OutputError(f"outputs in {folder} failed: uid {uid} (the submitter) is not "
                          "a user of this machine") from None
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no logging, no event loop, only system calls, then _exit
        code = 0
        try:
            os.close(read)
            os.setgroups(os.getgrouplist(user.pw_name, user.pw_gid))
            os.setgid(user.pw_gid)
            os.setuid(uid)
            os.umask(0o022)  # their files, readable as theirs usually are
            result: dict = {"ok": _deliver(sources, folder, own, jobid)}
        except OutputError as exc:
            result, code = {"error": str(exc)}, 1
        except BaseException as exc:
            result, code = {"error": f"outputs in {folder} failed: {exc}"}, 1
        try:
            os.write(write, json.dumps(result).encode())
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as answer:
        text = answer.read()
    os.waitpid(pid, 0)
    try:
        result = json.loads(text)
    except ValueError:
        raise OutputError(f"outputs in {folder} failed: the writer as {user.pw_name} "
                          "said nothing") from None
    if "error" in result:
        raise OutputError(result["error"])
    written, notes = result["ok"]
    return [tuple(w) for w in written], notes


def _delivered(jobdir: Path) -> list[list[Any]]:
    """The files delivered for the job so far: [path, device, inode] each."""
    try:
        return list(json.loads((jobdir / DELIVERED).read_text()))
    except (OSError, ValueError):
        return []
