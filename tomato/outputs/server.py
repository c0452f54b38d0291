"""The output server: an actor that builds outputs on request, yadg loaded once."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import anyio

from tomato.actors import (
    Actor,
    ActorError,
    Context,
    Deferred,
    serve_actor,
    signal_ready,
    start_actor,
    task_group,
    until_released,
)

from ..codec import CODEC
from ..errors import OutputError
from ..processmessages import MakeOutputs, OutputsMade
from .build import build_outputs, one_line, warm_up

logger = logging.getLogger(__name__)


class OutputServer(Actor):
    """Builds outputs on request in a worker thread (one at a time), yadg loaded once."""

    def __init__(self) -> None:
        self._one = anyio.CapacityLimiter(1)

    async def handle(self, msg: Any, ctx: Context) -> Any:
        match msg:
            case MakeOutputs():
                return Deferred(lambda: self._make(msg))
        raise ActorError(f"the output server does not understand {type(msg).__name__}")

    async def _make(self, msg: MakeOutputs) -> OutputsMade:
        return await anyio.to_thread.run_sync(make, msg, limiter=self._one)


def make(msg: MakeOutputs) -> OutputsMade:
    """Build the outputs `msg` asks for; raises OutputError saying why they failed."""
    try:
        files, notes = build_outputs(msg)
    except OutputError:
        raise
    except Exception as exc:
        raise OutputError(f"outputs in {msg.place.folder} failed: {one_line(exc)}") from None
    return OutputsMade(tuple(str(f) for f in files), tuple(notes))


def serve_outputs(sock: Path, supervisor: Path | None, grace: float) -> None:
    """Entry of the output server process (supervised by the service)."""
    logging.basicConfig(level="WARNING", format="%(asctime)s %(levelname)s outputs: %(message)s")

    async def main() -> None:
        try:
            await anyio.to_thread.run_sync(warm_up)
        except Exception as exc:  # each request then says what is wrong, for its job
            logger.warning("warm-up outputs failed: %s", one_line(exc))
        async with task_group() as tg, start_actor(OutputServer()) as ref:
            await tg.start(serve_actor, ref, sock, CODEC)
            signal_ready()
            # Orphaned, a build is lost: the service's successor asks again for what it owes.
            await until_released(supervisor, grace)
            tg.cancel_scope.cancel()

    anyio.run(main)
