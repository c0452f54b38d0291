"""`[notify]`: telling people when a job ends (c, ce, cd) or a device fails, at 3 a.m. too.

A command (the record as JSON on its standard input) and/or a URL (POSTed the record as
JSON), each tried up to three times; never in the supervisor's way: it follows the
supervisor's events like any watcher, a slow command or server delays only the
notifications (which queue, bounded), and what fails is logged."""

from __future__ import annotations

import contextlib
import json
import logging
import subprocess
import urllib.request
from collections.abc import Callable
from typing import Any

import anyio

from tomato.actors import EventHub, EventsMissed, retrying

from ...messages import JobStatusChanged, PipelineChanged, PipelineInfo
from ...records import job_records
from ..config.settings import NotifySettings
from ..state.lookup import decides
from ..state.store import Store

logger = logging.getLogger(__name__)

ATTEMPTS = 3
TIMEOUT = 30.0
"""Seconds a command or a server has to take one notification."""
QUEUE = 1000
"""Notifications waiting to be sent; more are dropped, and that is logged."""


async def notify(settings: NotifySettings, events: EventHub, store: Store,
                 pipelines: Callable[[], list[PipelineInfo]]) -> None:
    """Until cancelled: turn the supervisor's events into notifications, and send them;
    first, the devices that failed as the service started (`pipelines()` as they are once
    the events are followed: no failure falls between the two)."""
    send, receive = anyio.create_memory_object_stream[dict[str, Any]](QUEUE)
    failed: dict[str, str] = {}  # pipeline → the failure it was last told to have

    def offer(event: Any) -> None:
        for record in _records(event, settings, store, failed):
            try:
                send.send_nowait(record)
            except anyio.WouldBlock:
                logger.error("notify: %d notifications wait already; dropped: %s", QUEUE,
                             record)

    sub = events.subscribe()
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_deliver, settings, receive)
            for info in pipelines():
                offer(PipelineChanged(info))
            async for event in sub:
                offer(event)
    finally:
        sub.close()


def _records(event: Any, settings: NotifySettings, store: Store, failed: dict[str, str]
             ) -> list[dict[str, Any]]:
    """The notifications `event` makes: a job's end, a device's failure (once, however
    many of its pipelines say it)."""
    if isinstance(event, JobStatusChanged) and event.status in settings.on:
        if not decides(store, event.jobid):
            return []  # in a cluster: told by the tomato that ran it (or, never run, its home)
        job = store.job(event.jobid)
        return [{"event": "job_ended", **job_records([job])[0]}] if job else []
    if isinstance(event, PipelineChanged):
        info, before = event.pipeline, failed.get(event.pipeline.name)
        if info.failed is None:
            failed.pop(info.name, None)
        elif info.failed != before:
            failed[info.name] = info.failed
            if "device_failed" in settings.on and info.failed not in (
                    seen for name, seen in failed.items() if name != info.name):
                return [{"event": "device_failed", "reason": info.failed,
                         "pipeline": info.name}]
    if isinstance(event, EventsMissed):
        logger.error("notify: %d events were missed: some notifications may not be sent",
                     event.count)
    return []


async def _deliver(settings: NotifySettings, receive: Any) -> None:
    async for record in receive:
        body = json.dumps(record).encode()
        if settings.command is not None:
            await _tried(f"command {settings.command[0]}", _run, settings.command, body)
        if settings.url is not None:
            await _tried(f"POST {settings.url}", anyio.to_thread.run_sync, _post,
                         settings.url, body)


async def _tried(what: str, attempt: Any, *args: Any) -> None:
    tried = 0

    async def once() -> None:
        nonlocal tried
        tried += 1
        with anyio.fail_after(TIMEOUT):
            await attempt(*args)

    try:
        await retrying(once, on=FAILURES, attempts=ATTEMPTS, failed=lambda exc: logger.warning(
            "notify: %s failed (attempt %d of %d): %s", what, tried, ATTEMPTS, exc))
    except FAILURES:
        logger.error("notify: %s: gave up after %d attempts", what, ATTEMPTS)


class _Failed(Exception):
    pass


FAILURES = (OSError, TimeoutError, _Failed)
"""How a command or a webhook fails (anything else is a bug of ours)."""


async def _run(command: tuple[str, ...], body: bytes) -> None:
    """Run `command` with `body` on its standard input (a command that does not read it,
    e.g. one that only says "a job ended", is fine)."""
    async with await anyio.open_process(command, stdout=subprocess.DEVNULL) as process:
        assert process.stdin is not None and process.stderr is not None
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            await process.stdin.send(body)
        await process.stdin.aclose()
        said = b"".join([chunk async for chunk in process.stderr])
        code = await process.wait()
    if code != 0:
        why = said.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise _Failed(f"exited {code} {why[0]}".strip())


def _post(url: str, body: bytes) -> None:
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=TIMEOUT) as reply:
        if reply.status >= 300:
            raise _Failed(f"HTTP {reply.status}")
