"""tomato in a cluster (DESIGN §9): a `[cluster]` table in settings.toml joins this service
to the lab's NATS JetStream. Without one, nothing here loads (nor does nats-py)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anyio

from ...messages import PipelineChanged, PipelineInfo
from ..settings import ClusterSettings
from .link import Link
from .view import ClusterView

logger = logging.getLogger(__name__)

__all__ = ["ClusterView", "Link", "join"]


async def join(settings: ClusterSettings, local: Callable[[], list[PipelineInfo]],
               events: Any, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
    """Be part of the cluster until cancelled: connect (retrying while the service runs),
    publish this tomato's pipelines and heartbeat, watch the others'. Started with the
    view the supervisor shows."""
    link = Link(settings)
    view = ClusterView(link, local)
    task_status.started(view)
    sub = events.subscribe()
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(link.connect)
            tg.start_soon(view.run)
            async for event in sub:
                if isinstance(event, PipelineChanged):
                    view.changed()
    finally:
        sub.close()
        await view.say_stopped()
        await link.close()
