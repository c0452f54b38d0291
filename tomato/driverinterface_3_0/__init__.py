"""DriverInterface 3.0: what the newest tomato driver packages (`tomato_<name>`, e.g.
tomato-example-counter 3.0, tomato-psutil 3.0) are built on.

Written from the 3.0 contract so that the published drivers run unchanged; a device
process runs one through this interface's host (`host.py`), found by `finder.py`. The
public names load on first use: finding drivers does not load pydantic, pint or xarray.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what the type checker sees; at run time they load on first use
    from ..models import Reply, Task
    from ._component import ModelComponent
    from ._model import ModelInterface, Settings
    from .types import Attr, Status

_PUBLIC = {"Attr": ".types", "ModelComponent": "._component", "ModelInterface": "._model",
           "Settings": "._model", "Status": ".types", "Reply": "..models", "Task": "..models"}


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Attr", "ModelComponent", "ModelInterface", "Reply", "Settings", "Status", "Task"]
