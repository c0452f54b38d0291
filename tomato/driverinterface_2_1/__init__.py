"""DriverInterface 2.1: what tomato 2.x driver packages (`tomato_<name>`) are built on.

Written from the 2.1 contract so that the published drivers run unchanged; a device
process runs one through this interface's host (`host.py`), found by `finder.py`. The
public names load on first use: finding drivers does not load pydantic or pint.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what the type checker sees; at run time they load on first use
    from ..models import Reply, Task
    from ._model import Attr, ModelDevice, ModelInterface

_PUBLIC = {"Attr": "._model", "ModelDevice": "._model", "ModelInterface": "._model",
           "Reply": "..models", "Task": "..models"}


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Attr", "ModelDevice", "ModelInterface", "Reply", "Task"]
