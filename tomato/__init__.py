"""tomato: a job scheduler for laboratory instruments.

The public names are imported lazily, so `ketchup` starts without loading the service.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "3.0.0.dev0"

_PUBLIC = {
    "serve": "._service",
    "Settings": "._settings",
    "load_settings": "._settings",
    "Lab": "._devicesfile",
    "DEFAULT_LAB": "._devicesfile",
    "load_lab": "._devicesfile",
    "normalise_payload": "._payload",
    "config_dirs": "._config",
}


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["DEFAULT_LAB", "Lab", "Settings", "__version__", "config_dirs", "load_lab",
           "load_settings", "normalise_payload", "serve"]
