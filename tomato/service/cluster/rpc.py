"""Commands for another tomato's pipelines and jobs travel as NATS request/reply to that
tomato, which applies its own guards (DESIGN §9): the same messages as from `ketchup`,
encoded the same way; only these commands are taken from the cluster."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import anyio

from tomato.actors import ActorError

from ...codec import CODEC
from ...errors import ConflictError
from ...messages import (
    CancelJobs,
    EjectSample,
    HoldJobs,
    JobInfo,
    LoadSample,
    PipelineInfo,
    SetPriority,
    SetReady,
    TakeSnapshot,
)
from .link import Link, key_of

logger = logging.getLogger(__name__)

COMMANDS = (LoadSample, EjectSample, SetReady, CancelJobs, HoldJobs, SetPriority, TakeSnapshot)
TIMEOUT = 10.0


def subject(host: str) -> str:
    return f"tomato.rpc.{key_of(host)}"


async def serve(link: Link, ask: Callable[[Any], Awaitable[Any]]) -> None:
    """Answer the cluster's commands for this tomato (each in a task of its own)."""
    sub = await link.nc.subscribe(subject(link.host))
    try:
        async with anyio.create_task_group() as tg:
            async for msg in sub.messages:
                tg.start_soon(_answer, link.host, msg, ask)
    finally:
        with anyio.CancelScope(shield=True):
            await sub.unsubscribe()


async def _answer(host: str, msg: Any, ask: Callable[[Any], Awaitable[Any]]) -> None:
    try:
        request = CODEC.decode(msg.data)
        if not isinstance(request, COMMANDS):
            raise ConflictError(f"{type(request).__name__} is not a command tomato takes "
                                "from the cluster")
        logger.info("cluster: %s asked by %s", request, msg.reply)
        reply: dict[str, Any] = {"ok": _named(host, await ask(request))}
    except ActorError as exc:
        reply = {"error": CODEC.error_body(exc)}
    except Exception as exc:
        reply = {"error": CODEC.error_body(ConflictError(f"not a command: {exc}"))}
    await msg.respond(CODEC.encode(reply))


def _named(host: str, reply: Any) -> Any:
    """Pipelines in a reply named as the cluster knows them: HOST:PIPELINE."""
    if isinstance(reply, list):
        return [_named(host, r) for r in reply]
    if isinstance(reply, PipelineInfo):
        return replace(reply, name=f"{host}:{reply.name}")
    if isinstance(reply, JobInfo) and reply.pipeline and ":" not in reply.pipeline:
        return replace(reply, pipeline=f"{host}:{reply.pipeline}")
    return reply


async def ask(link: Link, host: str, request: Any) -> Any:
    """`request` answered by the tomato `host` (its refusal raised as it gave it)."""
    from nats.errors import NoRespondersError
    from nats.errors import TimeoutError as NatsTimeout

    if not link.connected:
        raise ConflictError(f"no link to the cluster: {host} cannot be asked now")
    try:
        msg = await link.nc.request(subject(host), CODEC.encode(request), timeout=TIMEOUT)
    except NoRespondersError:
        raise ConflictError(f"host {host} is away: it cannot be asked now") from None
    except NatsTimeout:
        raise ConflictError(f"host {host} did not answer within {TIMEOUT:g} s") from None
    reply = CODEC.decode(msg.data)
    if "error" in reply:
        raise CODEC.rebuild_error(reply["error"])
    return reply["ok"]
