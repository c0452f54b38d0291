"""Live events across the cluster: the steps started and the points of the jobs a tomato
runs go to the subject `tomato.events.HOST`; every other tomato hands them to its
supervisor, so `ketchup watch` follows any job from any PC. A live view only: a point
missed while the link is down is still in the job's files and datagram."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from tomato.actors import ActorError

from ...codec import CODEC
from ...messages import JobData, StepStarted
from .link import Link, key_of

logger = logging.getLogger(__name__)

RELAYED = (StepStarted, JobData)


def subject(host: str) -> str:
    return f"tomato.events.{key_of(host)}"


async def publish(link: Link, event: Any) -> None:
    """Send `event` to the cluster, if the link is up (else it is not sent)."""
    if link.connected:
        try:
            await link.nc.publish(subject(link.host), CODEC.encode(event))
        except Exception as exc:
            logger.debug("cluster: event not sent: %s", exc)


async def relay(link: Link, tell: Callable[[Any], Awaitable[None]]) -> None:
    """Hand the other tomatos' events to this one's supervisor."""
    own = subject(link.host)
    sub = await link.nc.subscribe("tomato.events.*")
    try:
        async for msg in sub.messages:
            if msg.subject == own:
                continue
            try:
                event = CODEC.decode(msg.data)
            except ActorError as exc:
                logger.warning("cluster: not an event on %s: %s", msg.subject, exc)
                continue
            if isinstance(event, RELAYED):
                await tell(event)
    finally:
        await sub.unsubscribe()
