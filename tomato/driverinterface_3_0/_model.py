"""ModelInterface (one per driver), its Attr, Status and Settings: DriverInterface 3.0.

Components (`_component.py`) are named (`driver:address:channel`). The interface's methods
are called from the device process (see `host.py`), each returning a Reply.
"""

from __future__ import annotations

import atexit
import importlib
import logging
from collections import defaultdict
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..models import Reply, Task
from ._component import ModelComponent
from .decorators import coerce_attr, in_devmap, log_errors, to_reply
from .types import MEASURE, Val

logger = logging.getLogger(__name__)

class Settings(BaseModel):
    """A driver's settings (`[drivers.<name>]` in settings.toml); a driver extends it with
    its own fields. Unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")

    idle_measurement_interval: int | None = None
    """Seconds between measurements of an idle component (None: none)."""
    lpp_timeout: int = 1
    """Seconds a call to the driver may take (kept for the contract's sake)."""


class ModelInterface:
    """A driver: its components by name, its settings and constants (a driver module's
    `DriverInterface` subclasses it, often with nothing of its own)."""

    version = "3.0"

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        self.devmap: dict[str, ModelComponent] = {}
        self.constants: dict[str, Any] = {}
        self.retries: defaultdict[str, int] = defaultdict(int)
        self.settings: Settings
        self.UpdateSettings(settings)
        atexit.register(self.quit)

    @property
    def name(self) -> str:
        return self.__module__.removeprefix("tomato_")

    def ComponentFactory(self, name: str, **kwargs: Any) -> ModelComponent:
        """A new component, of the `Component` class of the driver's module."""
        return importlib.import_module(self.__module__).Component(self, name, **kwargs)

    def UpdateSettings(self, settings: dict[str, Any] | None = None) -> None:
        """Settings of the `Settings` class of the driver's module (ValidationError for a
        key it does not know or a value it refuses)."""
        module = importlib.import_module(self.__module__)
        self.settings = getattr(module, "Settings", Settings)(**(settings or {}))

    @log_errors
    @to_reply
    def cmp_register(self, name: str, address: str | None, channel: str | None,
                     **kwargs: Any) -> tuple[bool, str, Any]:
        try:
            self.devmap[name] = self.ComponentFactory(name=name, address=address,
                                                      channel=channel, **kwargs)
        except RuntimeError as exc:
            self.retries[name] += 1
            return False, f"failed to register {name!r}: {exc}", None
        self.retries[name] = 0
        return True, f"component {name!r} registered", name

    @log_errors
    @to_reply
    @in_devmap
    def cmp_stop(self, name: str, **kwargs: Any) -> tuple[bool, str, Any]:
        self.devmap[name].stop(**kwargs)
        return True, f"component {name!r} stopped", None

    @log_errors
    @to_reply
    @in_devmap
    def cmp_quit(self, name: str, **kwargs: Any) -> tuple[bool, str, Any]:
        component = self.devmap.pop(name)
        component.stop(**kwargs)
        component.quit(**kwargs)
        return True, f"component {name!r} quit", None

    @log_errors
    @to_reply
    @in_devmap
    def cmp_reset(self, name: str, **kwargs: Any) -> tuple[bool, str, Any]:
        self.devmap[name].stop(**kwargs)
        self.devmap[name].reset(**kwargs)
        return True, f"component {name!r} reset", None

    @log_errors
    @to_reply
    @in_devmap
    def cmp_set_attr(self, name: str, attr: str, val: Val, **kwargs: Any
                     ) -> tuple[bool, str, Any]:
        val = self.devmap[name].set_attr(attr=attr, val=val, **kwargs)
        return True, f"attr {attr!r} of component {name!r} set to {val}", val

    @log_errors
    @to_reply
    @in_devmap
    def cmp_get_attr(self, name: str, attr: str, **kwargs: Any) -> tuple[bool, str, Any]:
        val = self.devmap[name].get_attr(attr=attr, **kwargs)
        return True, f"attr {attr!r} of component {name!r} is {val}", val

    @log_errors
    @to_reply
    @in_devmap
    def cmp_status(self, name: str, **kwargs: Any) -> tuple[bool, str, Any]:
        status = self.devmap[name].status()
        return True, f"component {name!r} is{'' if status.connected else ' not'} connected", \
            status

    @log_errors
    @to_reply
    @in_devmap
    def cmp_capabilities(self, name: str, **kwargs: Any) -> tuple[bool, str, Any]:
        return True, "capabilities", self.devmap[name].capabilities(**kwargs)

    @log_errors
    @to_reply
    @in_devmap
    def cmp_attrs(self, name: str, **kwargs: Any) -> tuple[bool, str, Any]:
        return True, "attrs", self.devmap[name].attrs(**kwargs)

    @log_errors
    @to_reply
    @in_devmap
    def cmp_constants(self, name: str, **kwargs: Any) -> tuple[bool, str, Any]:
        return True, "constants", self.constants | self.devmap[name].constants

    @log_errors
    @to_reply
    @in_devmap
    def cmp_last_data(self, name: str, **kwargs: Any) -> tuple[bool, str, Any]:
        data = self.devmap[name].get_last_data(**kwargs)
        if data is None:
            return False, f"no data present on component {name!r}", None
        return True, f"last data of component {name!r}", data

    @log_errors
    @to_reply
    @in_devmap
    def cmp_measure(self, name: str, **kwargs: Any) -> tuple[bool, str, Any]:
        component = self.devmap[name]
        if component.state != "idle":
            return False, f"component {name!r} is not idle", None
        if not component.task_list.empty():
            return False, f"task list of component {name!r} is not empty", None
        component.task_list.put(MEASURE)
        return True, f"measurement started on component {name!r}", None

    @log_errors
    @to_reply
    @in_devmap
    def task_start(self, name: str, task: Task, **kwargs: Any) -> tuple[bool, str, Any]:
        valid = self.task_validate(name=name, task=task, **kwargs)
        if not valid.success:
            return valid
        self.devmap[name].task_list.put(task)
        return True, f"task {task.technique_name!r} queued on component {name!r}", task

    @log_errors
    @to_reply
    @in_devmap
    def task_stop(self, name: str, **kwargs: Any) -> tuple[bool, str, Any]:
        self.devmap[name].stop_task(**kwargs)
        data = self.devmap[name].get_data()
        return True, "task stopped", data

    @log_errors
    @to_reply
    @in_devmap
    def task_data(self, name: str, **kwargs: Any) -> tuple[bool, str, Any]:
        data = self.devmap[name].get_data(**kwargs)
        if data is None:
            return False, "found no new datapoints", None
        return True, "new datapoints", data

    @log_errors
    @to_reply
    @in_devmap
    def task_validate(self, name: str, task: Task, **kwargs: Any) -> tuple[bool, str, Any]:
        component = self.devmap[name]
        capabilities = component.capabilities(**kwargs)
        if task.technique_name not in capabilities:
            return False, (f"unknown task {task.technique_name!r} requested (capabilities: "
                           f"{', '.join(sorted(capabilities))})"), None
        attrs = component.attrs(**kwargs)
        for attr, val in (task.task_params or {}).items():
            if val is None:
                return False, f"val of attr {attr!r} cannot be None", None
            if attr not in attrs:
                return False, f"unknown attr: {attr!r}", None
            if not attrs[attr].rw:
                return False, f"attr {attr!r} is read-only", None
            try:
                coerce_attr(attr, val, attrs[attr])
            except (ValueError, TypeError) as exc:
                return False, str(exc), None
        return True, "task validated successfully", None

    @log_errors
    def status(self) -> Reply:
        names = list(self.devmap)
        return Reply(success=True, msg=f"driver running with {len(names)} components",
                     data=names)

    def quit(self) -> Reply:
        """Stop every task and quit every component (at the process's exit too)."""
        for name in list(self.devmap):
            self.task_stop(name=name)
            self.cmp_quit(name=name)
        return Reply(success=not self.devmap, msg=f"driver {self.name} quit", data=None)

    @log_errors
    def reset(self) -> Reply:
        for name in list(self.devmap):
            self.task_stop(name=name)
            self.cmp_reset(name=name)
        return Reply(success=True, msg="all components on driver have been reset")
