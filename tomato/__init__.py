"""tomato: a job scheduler for laboratory instruments.

One sub-package per process: `cli` (ketchup, the tomato command), `service` (the
supervisor and what it supervises), `job` (a job process), `outputs` (an output process).
The vocabulary they share is here: `messages`, `errors`, `codec`, `paths`, `joblog`.
The public names are imported lazily, so `ketchup` starts without loading the service.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "2026.12.0"

if TYPE_CHECKING:  # what the type checker sees; at run time they load on first use
    from .cli.config import config_dirs
    from .service.config.devicesfile import DEFAULT_LAB, Lab, load_lab
    from .service.config.settings import Settings, load_settings
    from .service.scheduling.payload import normalise_payload
    from .service.serve import serve
    from .service.state.statecheck import recover_state

_PUBLIC = {
    "serve": ".service.serve",
    "Settings": ".service.config.settings",
    "load_settings": ".service.config.settings",
    "Lab": ".service.config.devicesfile",
    "DEFAULT_LAB": ".service.config.devicesfile",
    "load_lab": ".service.config.devicesfile",
    "normalise_payload": ".service.scheduling.payload",
    "config_dirs": ".cli.config",
    "recover_state": ".service.state.statecheck",
}


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["DEFAULT_LAB", "Lab", "Settings", "__version__", "config_dirs", "load_lab",
           "load_settings", "normalise_payload", "recover_state", "serve"]
