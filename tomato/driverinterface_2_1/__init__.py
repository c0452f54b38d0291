"""DriverInterface 2.1: what tomato 2.x driver packages (`tomato_<name>`) are built on.

Written from the 2.1 contract so that the published drivers run unchanged; a device
process runs one through `drivers`' host of this interface (`host.py`).
"""

from __future__ import annotations

from ..models import Reply, Task
from ._model import Attr, ModelDevice, ModelInterface

__all__ = ["Attr", "ModelDevice", "ModelInterface", "Reply", "Task"]
