"""A job looked up in the store: one that must exist, and whether this tomato decides about
it (alone: always; in a cluster: its host once claimed, else its home)."""

from __future__ import annotations

from ...errors import NotFoundError
from ...messages import JobInfo
from .store import Store


def known(store: Store, jobid: int) -> JobInfo:
    """The job `jobid`; NotFoundError if the store has none."""
    job = store.job(jobid)
    if job is None:
        raise NotFoundError(f"no job with jobid {jobid}")
    return job


def decides(store: Store, jobid: int) -> bool:
    """Whether this tomato writes the job (and tells of it): it runs it, or nobody has
    claimed it and it was submitted here."""
    home, host = store.where(jobid)
    return host == store.host or (host is None and home == store.host)
