"""A child process for the runtime's tests: serves an echo actor, or misbehaves on request."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import anyio
from tomato.actors import Actor, Codec, run_until_signalled, serve_actor, signal_ready, start_actor


class Echo(Actor):
    async def handle(self, msg, ctx):
        return msg


async def main(mode: str, path: Path) -> None:
    if mode == "exit":
        signal_ready()
        sys.exit(3)
    if mode == "hang":  # ready, then the event loop blocks: no pings answered
        async with start_actor(Echo()) as ref, anyio.create_task_group() as tg:
            await tg.start(serve_actor, ref, path, Codec())
            signal_ready()
            time.sleep(3600)  # noqa: ASYNC251 - blocking the loop is the point
    if mode == "silent":  # never says READY
        await anyio.sleep(3600)
    if mode == "slow":  # says where it is, then takes a while to be ready
        Path(f"{path}.pid").write_text(str(os.getpid()))  # noqa: ASYNC240 - nothing else runs
        await anyio.sleep(0.5)
    async with start_actor(Echo()) as ref, anyio.create_task_group() as tg:
        await tg.start(serve_actor, ref, path, Codec())
        signal_ready()
        await run_until_signalled()
        tg.cancel_scope.cancel()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], Path(sys.argv[2]))
