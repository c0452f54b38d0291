"""ModelInterface (one per driver) and ModelDevice (one per component) of DriverInterface 2.1.

Each ModelDevice runs its tasks in a worker thread of its own; the interface's methods are
called from the device process (see `host.py`), each returning a Reply.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from abc import ABC, abstractmethod
from collections import defaultdict
from typing import Any

import pint
from pydantic import BaseModel

from ..models import Reply, Task
from .decorators import coerce, described, in_devmap, log_errors, to_reply
from .types import Key, Type, Val

logger = logging.getLogger(__name__)

MEASURE = "measure"
"""The one-shot measurement a component's queue can hold instead of a Task."""


class Attr(BaseModel, arbitrary_types_allowed=True):
    """An attribute of a component: its type, whether it can be set (`rw`), whether it is
    part of the component's status, and its units, bounds and options."""

    type: Type
    rw: bool = False
    status: bool = False
    units: str | None = None
    minimum: pint.Quantity | float | None = None
    maximum: pint.Quantity | float | None = None
    options: set[Any] | None = None


class ModelInterface(ABC):
    """A driver: its components by key, its settings and constants."""

    version = "2.1"
    idle_measurement_interval: float | None = None

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        self.devmap: dict[Key, ModelDevice] = {}
        self.retries: defaultdict[Key, int] = defaultdict(int)
        self.settings = dict(settings or {})
        self.constants: dict[str, Any] = {}

    @abstractmethod
    def DeviceFactory(self, key: Key, **kwargs: Any) -> ModelDevice:
        """A new component for `key`."""

    @log_errors
    @to_reply
    def cmp_register(self, address: str, channel: str, **kwargs: Any) -> Reply:
        key = (address, channel)
        try:
            self.devmap[key] = self.DeviceFactory(key, **kwargs)
        except RuntimeError as exc:
            self.retries[key] += 1
            return Reply(success=False, msg=f"could not register {key}: {exc}")
        self.retries.pop(key, None)
        return Reply(success=True, msg=f"component {key} registered",
                     data=self.devmap[key].capabilities())

    @log_errors
    @to_reply
    @in_devmap
    def cmp_teardown(self, key: Key, **kwargs: Any) -> tuple[bool, str, Any]:
        self.devmap[key].reset(do_run=False)
        del self.devmap[key]
        return True, f"component {key} torn down", None

    @log_errors
    @to_reply
    @in_devmap
    def cmp_reset(self, key: Key, do_run: bool = True, **kwargs: Any) -> tuple[bool, str, Any]:
        self.devmap[key].reset(do_run=do_run)
        return True, f"component {key} reset", None

    @log_errors
    @to_reply
    @in_devmap
    def cmp_set_attr(self, key: Key, attr: str, val: Val, **kwargs: Any) -> tuple[bool, str, Any]:
        val = self.devmap[key].set_attr(attr=attr, val=val, **kwargs)
        return True, f"attr {attr!r} set", val

    @log_errors
    @to_reply
    @in_devmap
    def cmp_get_attr(self, key: Key, attr: str, **kwargs: Any) -> tuple[bool, str, Any]:
        return True, f"attr {attr!r}", self.devmap[key].get_attr(attr=attr, **kwargs)

    @log_errors
    @to_reply
    @in_devmap
    def cmp_status(self, key: Key, **kwargs: Any) -> tuple[bool, str, Any]:
        return True, "status", self.devmap[key].status(**kwargs)

    @log_errors
    @to_reply
    @in_devmap
    def cmp_capabilities(self, key: Key, **kwargs: Any) -> tuple[bool, str, Any]:
        return True, "capabilities", self.devmap[key].capabilities(**kwargs)

    @log_errors
    @to_reply
    @in_devmap
    def cmp_attrs(self, key: Key, **kwargs: Any) -> tuple[bool, str, Any]:
        return True, "attrs", self.devmap[key].attrs(**kwargs)

    @log_errors
    @to_reply
    @in_devmap
    def cmp_constants(self, key: Key, **kwargs: Any) -> tuple[bool, str, Any]:
        return True, "constants", {**self.constants, **self.devmap[key].constants}

    @log_errors
    @to_reply
    @in_devmap
    def cmp_last_data(self, key: Key, **kwargs: Any) -> tuple[bool, str, Any]:
        data = self.devmap[key].get_last_data()
        return (False, "no data present", None) if data is None else (True, "last data", data)

    @log_errors
    @to_reply
    @in_devmap
    def cmp_measure(self, key: Key, **kwargs: Any) -> tuple[bool, str, Any]:
        device = self.devmap[key]
        if not device.is_free():
            return False, "measurement already running", None
        device.submit(MEASURE)
        return True, "measurement started", None

    @log_errors
    @to_reply
    @in_devmap
    def task_start(self, key: Key, task: Task, **kwargs: Any) -> tuple[bool, str, Any]:
        valid = self.task_validate(key=key, task=task)
        if not valid.success:
            return valid
        self.devmap[key].error = None
        self.devmap[key].submit(task)
        return True, f"task {task.technique_name!r} queued", None

    @log_errors
    @to_reply
    @in_devmap
    def task_status(self, key: Key, **kwargs: Any) -> tuple[bool, str, Any]:
        device = self.devmap[key]
        can_submit = device.is_free()
        return True, "task status", {"running": device.running, "can_submit": can_submit,
                                     "task": device.task, "error": device.error}

    @log_errors
    @to_reply
    @in_devmap
    def task_stop(self, key: Key, **kwargs: Any) -> tuple[bool, str, Any]:
        device = self.devmap[key]
        device.stop_task()
        return True, "task stopped", device.get_data()

    @log_errors
    @to_reply
    @in_devmap
    def task_data(self, key: Key, **kwargs: Any) -> tuple[bool, str, Any]:
        data = self.devmap[key].get_data()
        return (False, "found no new datapoints", None) if data is None else \
            (True, "new datapoints", data)

    @log_errors
    @to_reply
    @in_devmap
    def task_validate(self, key: Key, task: Task, **kwargs: Any) -> tuple[bool, str, Any]:
        device = self.devmap[key]
        if task.technique_name not in device.capabilities():
            return False, (f"unknown technique {task.technique_name!r} (capabilities: "
                           f"{', '.join(sorted(device.capabilities()))})"), None
        attrs = device.attrs()
        for name, val in task.task_params.items():
            if name not in attrs:
                return False, f"unknown attr {name!r}", None
            if not attrs[name].rw:
                return False, f"attr {name!r} is read-only", None
            try:
                coerce(name, val, attrs[name])
            except ValueError as exc:
                return False, str(exc), None
        return True, "task is valid", None

    @log_errors
    @to_reply
    def status(self, **kwargs: Any) -> tuple[bool, str, Any]:
        return True, "driver status", {"devkeys": list(self.devmap)}

    @log_errors
    @to_reply
    def reset(self, **kwargs: Any) -> tuple[bool, str, Any]:
        for key in list(self.devmap):
            self.task_stop(key=key)
            self.cmp_reset(key=key, do_run=False)
        return True, "driver reset", None

    def quit(self) -> Reply:
        return self.reset()


class ModelDevice(ABC):
    """A component: runs one task (or one-shot measurement) at a time in its worker thread;
    its points collect in `data` until `get_data` hands them over."""

    def __init__(self, driver: ModelInterface, key: Key, **kwargs: Any) -> None:
        self.driver = driver
        self.key = key
        self.task_list: queue.Queue[Task | str | None] = queue.Queue()
        self.task: Task | None = None
        self.running = False
        self.data: Any = None
        self.last_data: Any = None
        self.datalock = threading.RLock()
        self.constants: dict[str, Any] = {}
        self.error: str | None = None
        """Why the last task or measurement failed (the driver raised in its thread)."""
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._outstanding = 0
        """Items submitted and not yet done."""
        self.thread = threading.Thread(target=self.task_runner, daemon=True,
                                       name=f"component {key}")
        self.thread.start()
        atexit.register(self.reset)

    def task_runner(self) -> None:
        while (item := self.task_list.get()) is not None:
            try:
                self.error = None
                if isinstance(item, Task):
                    self._run(item)
                else:
                    with self.datalock:
                        self.do_measure()
            except Exception as exc:  # the driver's error fails this task, not the component
                what = item.technique_name if isinstance(item, Task) else item
                logger.error("component %s: %s failed: %s", self.key, what, described(exc))
                self.error = f"{type(exc).__name__}: {exc}"
            finally:
                self.running, self.task = False, None
                with self._lock:
                    self._outstanding -= 1

    def submit(self, item: Task | str) -> None:
        """Queue a task (or a one-shot measurement) for the worker thread."""
        with self._lock:
            self._outstanding += 1
        self.task_list.put(item)

    def is_free(self) -> bool:
        """Nothing queued, nothing running (not even taken off the queue but not begun)."""
        with self._lock:
            return self._outstanding == 0

    def _run(self, task: Task) -> None:
        """Prepare, then one `do_task` per `sampling_interval` until `max_duration` or a stop;
        samples are due at start + k·interval (no drift), waits in slices of 10 to 200 ms."""
        self._stop.clear()
        self.task, self.running = task, True
        self.prepare_task(task)
        t_start = time.perf_counter()
        due = t_start
        while not self._stop.is_set():
            t_now = time.perf_counter()
            if t_now - t_start >= task.max_duration:
                break
            if t_now >= due:
                with self.datalock:
                    self.do_task(task, t_start=t_start, t_now=t_now)
                due += task.sampling_interval
                continue
            time.sleep(min(max(due - t_now, 0.01), 0.2))

    def prepare_task(self, task: Task, **kwargs: Any) -> None:
        """Apply the task's parameters to the component's attrs."""
        for attr, val in task.task_params.items():
            self.set_attr(attr=attr, val=val)

    def do_task(self, task: Task, t_start: float, t_now: float, **kwargs: Any) -> None:
        """One sample of a task: a measurement, appended to `data`."""
        import xarray as xr

        self.do_measure()
        if self.data is None:
            self.data = self.last_data
        else:
            self.data = xr.concat([self.data, self.last_data], dim="uts", data_vars="minimal")

    def stop_task(self, **kwargs: Any) -> None:
        self._stop.set()

    def get_data(self, **kwargs: Any) -> Any:
        """The points since the last call (an xarray Dataset, or None)."""
        with self.datalock:
            data, self.data = self.data, None
        return data

    def get_last_data(self, **kwargs: Any) -> Any:
        return self.last_data

    def status(self, **kwargs: Any) -> dict[str, Any]:
        found: dict[str, Any] = {name: self.get_attr(attr=name)
                                 for name, props in self.attrs().items() if props.status}
        return {**found, "running": self.running}

    def reset(self, do_run: bool = False, **kwargs: Any) -> None:
        """Stop what runs, drop what is queued and collected (the last point stays: it is
        what the component last measured)."""
        self.stop_task()
        while True:
            try:
                self.task_list.get_nowait()
            except queue.Empty:
                break
            with self._lock:
                self._outstanding -= 1
        with self.datalock:
            self.data = None

    @abstractmethod
    def do_measure(self, **kwargs: Any) -> None:
        """Measure once; set `last_data`."""

    @abstractmethod
    def set_attr(self, attr: str, val: Any, **kwargs: Any) -> Any: ...

    @abstractmethod
    def get_attr(self, attr: str, **kwargs: Any) -> Any: ...

    @abstractmethod
    def attrs(self, **kwargs: Any) -> dict[str, Attr]: ...

    @abstractmethod
    def capabilities(self, **kwargs: Any) -> set[str]: ...
