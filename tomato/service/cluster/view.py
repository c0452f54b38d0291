"""Pipelines across the cluster: this tomato's own published to the `tomato_pipelines`
bucket, every other tomato's watched and shown as HOST:PIPELINE. A host is away when its
heartbeat in `tomato_hosts` is older than HOST_TTL (or this tomato has no link)."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import anyio

from tomato.actors import ActorError, typed
from tomato.drivers import Technique

from ... import __version__
from ...codec import CODEC
from ...messages import PipelineInfo
from .entries import HostEntry, read, written
from .link import Link, key_of, pack, unpack

if TYPE_CHECKING:
    from ..scheduling.pipelines import Pipelines

logger = logging.getLogger(__name__)

PIPELINES = "tomato_pipelines"
HOSTS = "tomato_hosts"
HEARTBEAT = 2.0
HOST_TTL = 10.0
"""A host not heard of for this long is away."""
RESYNC = 10.0
"""Seconds between full comparisons of the published pipelines with the local ones."""


class ClusterView:
    """What this tomato knows of the others, and what it tells them of itself."""

    def __init__(self, link: Link, local: Pipelines) -> None:
        self.link = link
        self._local = local
        self._remote: dict[str, tuple[str, PipelineInfo, Any]] = {}
        """key → (host, pipeline named HOST:PIPELINE, what its roles can do)."""
        self._heard: dict[str, tuple[float, bool]] = {}
        """host → (time of its last beat, on the server's clock; whether it stopped)."""
        self._skew = 0.0
        """This PC's clock minus the server's, from this tomato's own last beat (a PC whose
        clock is ahead would otherwise see every other host away)."""
        """host → when it last beat (epoch seconds), and whether it said it stopped."""
        self._wake = anyio.Event()

    def infos(self) -> list[PipelineInfo]:
        """The other hosts' pipelines; those of a host that is away say so."""
        now = time.time()
        shown = []
        for host, p, _ in sorted(self._remote.values(), key=lambda x: x[1].name):
            away = self.away(host, now)
            shown.append(replace(p, failed=away or p.failed))
        return shown

    def roles(self) -> dict[str, dict[str, dict[str, Technique]]]:
        """What each role of the other hosts' pipelines can do (HOST:PIPELINE → role →
        technique by name): a payload is checked against every pipeline of the cluster."""
        return {p.name: roles for _, p, roles in self._remote.values()}

    def away(self, host: str, now: float | None = None) -> str | None:
        """Why `host` cannot be reached now, or None."""
        if not self.link.connected:
            return "no link to the cluster"
        heard, stopped = self._heard.get(host, (None, False))
        if heard is None:
            return f"host {host} is away"
        heard += self._skew  # on this PC's clock
        if stopped or (now or time.time()) - heard > HOST_TTL:
            when = datetime.fromtimestamp(heard).strftime("%Y-%m-%d %H:%M:%S")
            return f"host {host} {'stopped at' if stopped else 'is away since'} {when}"
        return None

    def changed(self) -> None:
        """A local pipeline changed: publish it."""
        self._wake.set()

    async def run(self) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self.link.while_up, "publishing pipelines", self._publish)
            tg.start_soon(self.link.while_up, "watching pipelines", self._watch_pipelines)
            tg.start_soon(self.link.while_up, "heartbeat", self._beat)
            tg.start_soon(self.link.while_up, "watching hosts", self._watch_hosts)

    async def _publish(self) -> None:
        from nats.js.errors import NoKeysError

        kv = await self.link.bucket(PIPELINES, history=1)
        mine = key_of(self.link.host) + "."
        try:  # what an earlier run published: kept only if still true
            published = {k: b"" for k in await kv.keys() if k.startswith(mine)}
        except NoKeysError:
            published = {}
        while True:
            self._wake = anyio.Event()
            roles = self._local.roles()
            wanted = {key_of(self.link.host, p.name): pack(
                {**asdict(p), "host": self.link.host, "roles_can": CODEC.encode(roles[p.name])})
                for p in self._local.infos()}
            for key, value in wanted.items():
                if published.get(key) != value:
                    await kv.put(key, value)
                    published[key] = value
            for key in [k for k in published if k not in wanted]:
                await kv.delete(key)
                del published[key]
            with anyio.move_on_after(RESYNC):
                await self._wake.wait()

    async def _watch_pipelines(self) -> None:
        kv = await self.link.bucket(PIPELINES, history=1)
        watcher = await kv.watchall()
        fresh: dict[str, tuple[str, PipelineInfo, Any]] | None = {}
        try:
            async for entry in watcher:
                if entry is None:  # the bucket as it was: now kept up to date
                    self._remote, fresh = fresh or {}, None
                    continue
                into = self._remote if fresh is None else fresh
                if entry.operation in ("DEL", "PURGE"):
                    into.pop(entry.key, None)
                elif (found := _pipeline(entry.key, entry.value)) is not None \
                        and found[0] != self.link.host:
                    into[entry.key] = found
        finally:
            with anyio.CancelScope(shield=True):
                await watcher.stop()

    async def _beat(self) -> None:
        kv = await self.link.bucket(HOSTS, history=1)
        value = written(HostEntry(self.link.host, __version__,
                                  datetime.now().astimezone().isoformat()))
        while True:
            await kv.put(key_of(self.link.host), value)
            await anyio.sleep(HEARTBEAT)

    async def say_stopped(self) -> None:
        """Tell the others at once that this tomato stopped (cleanly)."""
        if self.link.connected:
            with anyio.move_on_after(1, shield=True):
                kv = await self.link.bucket(HOSTS, history=1)
                await kv.put(key_of(self.link.host), written(HostEntry(self.link.host,
                                                                       stopped=True)))

    async def _watch_hosts(self) -> None:
        kv = await self.link.bucket(HOSTS, history=1)
        watcher = await kv.watchall()
        try:
            async for entry in watcher:
                if entry is None or entry.operation in ("DEL", "PURGE"):
                    continue
                try:
                    beat = read(HostEntry, entry.value)
                    host, stopped = beat.host, beat.stopped
                except ValueError as exc:
                    logger.warning("cluster: entry %s of %s is not a host: %s", entry.key,
                                   HOSTS, exc)
                    continue
                created = entry.created  # the server's time of the beat
                at = created.timestamp() if created else time.time()
                if host == self.link.host and created:  # ours, just written: how far this
                    self._skew = time.time() - at  # PC's clock is from the server's
                self._heard[host] = (at, stopped)
        finally:
            with anyio.CancelScope(shield=True):
                await watcher.stop()


def _pipeline(key: str, data: bytes) -> tuple[str, PipelineInfo, Any] | None:
    """(host, pipeline named HOST:PIPELINE, what its roles can do) of a bucket entry; None
    (logged) if it is not one."""
    try:
        d: dict[str, Any] = unpack(data)
        host, roles = d.pop("host"), CODEC.decode(d.pop("roles_can"))
        if not isinstance(host, str):
            raise TypeError(f"field 'host' must be str, not {host!r}")
        info = typed(PipelineInfo, d)
        info = replace(info, name=f"{host}:{info.name}")
    except (ValueError, KeyError, TypeError, ActorError) as exc:
        logger.warning("cluster: entry %s of %s is not a pipeline: %s", key, PIPELINES, exc)
        return None
    return host, info, roles
