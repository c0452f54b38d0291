"""The `dummy` driver: random or sequential values at a fixed interval, for tests and demos."""

from __future__ import annotations

import random
import time
from collections.abc import Mapping

import anyio

from ._interface import Driver, Emit, point_count
from .messages import Column, Task, Technique


class DummyDriver(Driver):
    """Techniques `random` (uniform in [0, 1)) and `sequential` (1, 2, 3, ...).

    One point every `sampling_interval` (0.x: `delay`) s for `max_duration` (`time`) s.
    """

    name = "dummy"
    techniques: Mapping[str, Technique] = {
        "random": Technique(
            "random", columns=(Column("value", "", uncertainty=1e-6, decimals=6),),
            doc="a uniform random value in [0, 1) per point"),
        "sequential": Technique(
            "sequential", columns=(Column("value", "", uncertainty=0.0, decimals=0),),
            doc="the values 1, 2, 3, ... one per point"),
    }

    async def run(self, channel: str, task: Task, emit: Emit) -> None:
        start = time.monotonic()  # anyio's clock, without its backend lookup per point
        for k in range(point_count(task.max_duration, task.sampling_interval)):
            wait = start + k * task.sampling_interval - time.monotonic()
            if wait > 0:
                await anyio.sleep(wait)
            elif k % 100 == 0:  # behind (a fast rate): catch up in bursts, still yielding
                await anyio.lowlevel.checkpoint()
            value = random.random() if task.technique == "random" else float(k + 1)
            emit([time.time(), value])
        await anyio.sleep(max(start + task.max_duration - time.monotonic(), 0))
