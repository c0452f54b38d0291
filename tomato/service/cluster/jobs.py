"""Jobs across the cluster (DESIGN §9). Every job has an entry in the `tomato_jobs` bucket
(`job.<id>`: its state; `payload.<id>`: its payload, written once), and every tomato keeps a
copy of each in its own store, so `status`, `status queue` and `search` show them all.

Who writes an entry: the tomato the job was submitted on (its home) until a tomato claims
it; then that one (its host) alone. A job starts only once claimed: a compare-and-set on
its entry, which exactly one tomato wins. Without a link nothing new is claimed; what runs
goes on, and what changed meanwhile is written when the link is back (the watch that
starts then compares every entry with this store).

An entry goes once its job finished `keep_finished` days ago and its results are home: its
writer purges it (every tomato keeps its copy of the job)."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio

from ...errors import ConflictError
from ...jobstatus import FINISHED, PENDING, Status, moves
from ..state.lookup import decides
from ..state.store import Store, now
from .entries import JobEntry, PayloadEntry, read, written
from .link import Link
from .local import Claimed, Copy, LinkBack
from .results import fetch, send, waiting

logger = logging.getLogger(__name__)

JOBS = "tomato_jobs"
IDS = "tomato_ids"
CLAIM_TRIES = 3
"""Compare-and-set attempts of a claim whose entry changed meanwhile (another tomato that
claimed it shows in the entry read again: then it is lost)."""
BLOCK = 1000
"""Jobids a tomato takes from the cluster at once: it can give them out without a link."""
STATE = ("jobid", "home", "host", "status", "jobname", "sample", "submitted", "executed",
         "completed", "pipeline", "reason", "owner", "owner_name", "priority", "held", "after",
         "after_any", "pinned")


class ClusterJobs:
    """The cluster's side of this tomato's jobs: jobids, entries written, claims."""

    def __init__(self, link: Link, store: Store, tell: Any) -> None:
        self.link = link
        self.host = link.host
        self.store = store
        self._tell = tell
        self._revisions: dict[int, int] = {}
        self._dirty: set[int] = set()
        self._wake = anyio.Event()
        self._sent: dict[int, list[str]] = {}
        """Jobs run here for another tomato: the names of their results in the store."""
        self._fetched: dict[int, list[str]] = {}
        """Jobs of this tomato run by another: where their results were written."""
        self._keep = timedelta(days=link.settings.keep_finished)
        self._held: set[int] = set()  # entries waiting for their home to take the results
        block = store.meta("jobids")
        self._block = tuple(map(int, block.split(","))) if block else None

    # On the supervisor's side (no awaiting).
    def next_jobid(self) -> int:
        """A jobid of this tomato's block; raises ConflictError if it has none left."""
        if self._block is not None:
            start, end = self._block
            jobid = max(start, self.store.max_jobid(below=end) + 1)
            if jobid < end:
                self._wake.set()  # a new block is leased when this one runs low
                return jobid
        raise ConflictError("no jobid can be given yet: this tomato has not reached the "
                            "cluster since it joined it (it keeps trying; see its log)")

    def writes(self, jobid: int) -> bool:
        """Whether this tomato writes the job's entry."""
        return decides(self.store, jobid)

    def resync(self) -> None:
        """Write again every entry this tomato writes of a job not finished, or finished
        in the last day (after events were missed: which changed is not known)."""
        since = (datetime.now(UTC) - timedelta(days=1)).isoformat(sep=" ")
        for job in self.store.jobs(local=True):
            if (job.status not in FINISHED or (job.completed or "") > since) \
                    and self.writes(job.jobid):
                self._dirty.add(job.jobid)
        self._wake.set()

    def runs_here(self, jobid: int) -> bool:
        return (self.store.where(jobid))[1] == self.host

    def changed(self, jobid: int) -> None:
        """A job changed here: write its entry, if this tomato writes it."""
        if self.writes(jobid):
            self._dirty.add(jobid)
            self._wake.set()

    # The link's side.
    async def run(self, tg: Any) -> None:
        self._tg = tg
        tg.start_soon(self.link.while_up, "writing jobs", self._write_entries)
        tg.start_soon(self.link.while_up, "watching jobs", self._watch)
        tg.start_soon(self.link.while_up, "pruning jobs", self._prune)

    async def _bucket(self) -> Any:
        return await self.link.bucket(JOBS, history=1)

    async def _write_entries(self) -> None:
        kv = await self._bucket()
        await self._lease()
        while True:
            self._wake = anyio.Event()  # first: a change from now on wakes the next round
            batch, self._dirty = sorted(self._dirty), set()
            for i, jobid in enumerate(batch):
                try:
                    await self._write(kv, jobid)
                except BaseException:
                    self._dirty.update(batch[i:])  # written when the link is back
                    raise
            await self._lease()
            if not self._dirty:
                await self._wake.wait()

    async def _lease(self) -> None:
        """Take a block of jobids from the cluster's counter when this one runs low."""
        from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

        if self._block is not None and \
                self._block[1] - self.store.max_jobid(below=self._block[1]) > BLOCK // 10:
            return
        kv = await self.link.bucket(IDS, history=1)
        while True:
            try:
                entry = await kv.get("next")
                start, revision = int(entry.value), entry.revision
            except KeyNotFoundError:
                start, revision = 1, None
            start = max(start, self.store.max_jobid() + 1)  # never a jobid it holds
            try:
                if revision is None:
                    await kv.create("next", str(start + BLOCK).encode())
                else:
                    await kv.update("next", str(start + BLOCK).encode(), last=revision)
            except KeyWrongLastSequenceError:  # another tomato leased first: again
                continue
            self._block = (start, start + BLOCK)
            self.store.set_meta("jobids", f"{start},{start + BLOCK}")
            logger.info("cluster: jobids %d to %d are this tomato's", start, start + BLOCK - 1)
            return

    def record(self, jobid: int) -> JobEntry:
        """The job's entry as this store has it."""
        job = self.store.job(jobid)
        home, host = self.store.where(jobid)
        assert job is not None
        fields: dict[str, Any] = {name: getattr(job, name, None) for name in STATE}
        fields.update(home=home, host=host, results=tuple(self._sent.get(jobid, ())))
        if job.pipeline and ":" not in job.pipeline and host == self.host:
            fields["pipeline"] = f"{self.host}:{job.pipeline}"
        if job.pinned and ":" not in job.pinned:  # a pipeline of this tomato's
            fields["pinned"] = f"{self.host}:{job.pinned}"
        return JobEntry(**fields)

    async def _write(self, kv: Any, jobid: int) -> None:
        from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

        if self._pruned(jobid):  # gone for good: neither entry nor results go again
            return
        key = f"job.{jobid}"
        job = self.store.job(jobid)
        home, host = self.store.where(jobid)
        if job is not None and job.status in FINISHED and home != host == self.host \
                and jobid not in self._sent:  # run here for another: its results go first
            self._sent[jobid] = await send(self.link, str(jobid), job.outputs or [])
        while self.writes(jobid) and not self._pruned(jobid):
            record = self.record(jobid)
            try:
                if jobid in self._revisions:
                    self._revisions[jobid] = await kv.update(key, written(record),
                                                             last=self._revisions[jobid])
                    return
                await self._create(kv, jobid, record)
                return
            except KeyWrongLastSequenceError:  # changed there since: the entry decides
                try:
                    entry = await kv.get(key)
                except KeyNotFoundError:
                    self._revisions.pop(jobid, None)
                    continue
                self._revisions[jobid] = entry.revision
                theirs = read(JobEntry, entry.value)
                if theirs.host not in (None, self.host):
                    await self._tell(Copy(theirs))
                    return

    async def _create(self, kv: Any, jobid: int, record: JobEntry) -> None:
        """Write a job's entry for the first time, its payload first (raises
        KeyWrongLastSequenceError if another tomato wrote the entry meanwhile)."""
        stored = self.store.record(jobid)
        await kv.put(f"payload.{jobid}", written(PayloadEntry(stored["payload"],
                                                              stored["cwd"])))
        self._revisions[jobid] = await kv.create(f"job.{jobid}", written(record))

    async def _watch(self) -> None:
        kv = await self._bucket()
        watcher = await kv.watch("job.>")
        seen: set[int] = set()
        await self._tell(LinkBack())
        try:
            async for entry in watcher:
                if entry is None:  # every entry seen once: write what only this store knows
                    for job in self.store.jobs(local=True):
                        if job.jobid not in seen and self.writes(job.jobid):
                            self._dirty.add(job.jobid)
                    self._wake.set()
                    continue
                if entry.operation in ("DEL", "PURGE"):  # pruned by its writer
                    await self._left(entry.key.removeprefix("job."))
                    continue
                try:
                    record = read(JobEntry, entry.value)
                    jobid = record.jobid
                except ValueError as exc:
                    logger.warning("cluster: entry %s of %s is not a job: %s", entry.key, JOBS,
                                   exc)
                    continue
                seen.add(jobid)
                self._revisions[jobid] = entry.revision
                await self._take(kv, jobid, record)
        finally:
            with anyio.CancelScope(shield=True):
                await watcher.stop()

    async def _take(self, kv: Any, jobid: int, record: JobEntry) -> None:
        """Copy an entry into this store, unless this tomato writes it (then a newer local
        state is written back)."""
        local = self.store.job(jobid)
        if local is not None and (record.host == self.host or (
                self.writes(jobid) and record.host is None)):  # its own, written here
            if record.host is None and moves(local.status, record.status):
                await self._tell(Copy(record))  # cancelled there while this one was away
            elif local.status != record.status:
                self._dirty.add(jobid)
                self._wake.set()
            return
        if record.home == self.host and record.results and local is not None \
                and not local.outputs:  # its results are in: take them home
            await self._fetch(jobid, record)
            return
        if local is None:
            found = read(PayloadEntry, (await kv.get(f"payload.{jobid}")).value)
            await self._tell(Copy(record, found.payload, found.cwd))
        elif any(getattr(local, k, None) != getattr(record, k) for k in
                 ("status", "pipeline", "executed", "completed", "reason", "held",
                  "priority")) or \
                self.store.where(jobid) != (record.home, record.host):
            await self._tell(Copy(record))

    async def _left(self, key: str) -> None:
        """A job's entry has left the cluster: if this tomato's copy still says it waits or
        runs (it was away meanwhile), it ends; how the job ended is known where it ran."""
        jobid = int(key) if key.isdigit() else 0
        job = self.store.job(jobid)
        if job is None or job.status in FINISHED or self.writes(jobid):
            return
        record = self.record(jobid)
        await self._tell(Copy(replace(record, status=Status.FAILED, completed=now(), reason=(
            "its entry left the cluster while this tomato was away: see "
            f"{record.host or record.home} for how it ended"))))

    def _pruned(self, jobid: int) -> bool:
        """Whether this tomato purged the job's entry (said in its store, for good)."""
        return bool(self.store.meta(f"pruned.{jobid}"))

    async def _prune(self) -> None:
        """Purge the entries this tomato writes of jobs that finished `keep_finished` days
        ago, once the entry says so and the results are home; every min(1 h, keep / 4)."""
        from nats.js.errors import KeyNotFoundError

        kv = await self._bucket()
        while True:
            since = (datetime.now(UTC) - self._keep).isoformat(sep=" ")
            for job in self.store.jobs(FINISHED, local=True):
                jobid = job.jobid
                if (job.completed or since) >= since or jobid in self._dirty \
                        or not self.writes(jobid) or self._pruned(jobid):
                    continue
                try:
                    record = read(JobEntry, (await kv.get(f"job.{jobid}")).value)
                except KeyNotFoundError:  # not written yet (its writer was away): later
                    continue
                if record.status not in FINISHED:  # its end is being written
                    continue
                if await waiting(self.link, list(record.results)):
                    if jobid not in self._held:
                        self._held.add(jobid)
                        logger.debug("cluster: job %d stays until %s takes its results",
                                     jobid, record.home)
                    continue
                self.store.set_meta(f"pruned.{jobid}", "1")  # first: no write of it from now
                try:
                    await kv.purge(f"job.{jobid}")
                    await kv.purge(f"payload.{jobid}")
                except BaseException:
                    self.store.set_meta(f"pruned.{jobid}", "")
                    raise
                self._revisions.pop(jobid, None)
                logger.info("cluster: job %d pruned (finished %s)", jobid, job.completed)
            await anyio.sleep(min(3600.0, self._keep.total_seconds() / 4))

    async def _fetch(self, jobid: int, record: JobEntry) -> None:
        from nats.js.errors import ObjectNotFoundError

        place = self.store.spec(jobid).output
        if jobid in self._fetched:  # an entry seen again before its copy was updated
            await self._tell(Copy(replace(record, outputs=tuple(self._fetched[jobid]))))
            return
        try:
            outputs = await fetch(self.link, list(record.results), place)
        except ObjectNotFoundError:  # taken by an earlier run of this tomato that died then
            logger.error("job %d: its results are no longer in the cluster's store; see "
                         "the folder %s and the job's folder on %s", jobid, place.folder,
                         record.host)
            return
        except OSError as exc:
            logger.error("job %d: its results cannot be written to %s: %s (they wait in the "
                         "cluster's store; the next start tries again)", jobid, place.folder,
                         exc)
            return
        logger.info("job %d: results from %s: %s", jobid, record.host, ", ".join(outputs))
        self._fetched[jobid] = outputs
        await self._tell(Copy(replace(record, outputs=tuple(outputs))))

    async def cancel_unclaimed(self, jobid: int) -> bool:
        """Cancel a queued job no tomato has claimed in its entry, as a claim would take it
        (compare-and-set), for when its home is away; False if it was claimed meanwhile."""
        from nats.js.errors import KeyWrongLastSequenceError

        kv = await self._bucket()
        while True:
            entry = await kv.get(f"job.{jobid}")
            record = read(JobEntry, entry.value)
            if record.host is not None or record.status not in PENDING:
                return False
            record = replace(record, status=Status.CANCELLED, completed=now(), reason=(
                f"cancelled while queued (by {self.host}: its home was away)"))
            try:
                await kv.update(f"job.{jobid}", written(record), last=entry.revision)
            except KeyWrongLastSequenceError:
                continue
            await self._tell(Copy(record))
            return True

    def claim(self, jobid: int, pipeline: str) -> None:
        """Claim `jobid` to run on `pipeline` here; the result comes as Claimed."""
        self._tg.start_soon(self._claim, jobid, pipeline)

    async def _claim(self, jobid: int, pipeline: str) -> None:
        from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

        if not self.link.connected:
            await self._tell(Claimed(jobid, pipeline, False, "no link to the cluster"))
            return
        record = replace(self.record(jobid), host=self.host,
                         pipeline=f"{self.host}:{pipeline}")
        for attempt in range(CLAIM_TRIES):
            try:
                kv = await self._bucket()
                try:
                    entry = await kv.get(f"job.{jobid}")
                except KeyNotFoundError:
                    if record.home != self.host:  # a copy whose entry has gone
                        await self._tell(Claimed(jobid, pipeline, False,
                                                 "its entry is not in the cluster"))
                        return
                    await self._create(kv, jobid, record)  # submitted here an instant ago
                else:
                    theirs = read(JobEntry, entry.value)
                    mine = theirs.host in (None, self.host)  # this one's, before a crash
                    if not mine or theirs.status not in PENDING:
                        await self._tell(Claimed(jobid, pipeline, False,
                                                 f"taken by {theirs.host}", theirs))
                        return
                    self._revisions[jobid] = await kv.update(f"job.{jobid}", written(record),
                                                             last=entry.revision)
            except KeyWrongLastSequenceError:  # written meanwhile (by its writer, too): again
                if attempt + 1 < CLAIM_TRIES:
                    continue
                await self._tell(Claimed(jobid, pipeline, False,
                                         "its entry kept changing while claimed"))
                return
            except Exception as exc:
                await self._tell(Claimed(jobid, pipeline, False, f"{type(exc).__name__}: {exc}"))
                return
            await self._tell(Claimed(jobid, pipeline, True))
            return
