"""ModelComponent of DriverInterface 3.0: one per component.

Each runs its tasks in a worker thread fed by a queue; as the contract says, an exception
there ends the thread and leaves the component in state `stop` (why is kept in `fault`)
until `cmp_reset`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from abc import ABC, abstractmethod
from typing import Any

from ..hosting import described
from ..models import Task
from .types import MEASURE, Attr, Status

logger = logging.getLogger(__name__)

_QUIT = object()
"""Put on a component's queue to end its thread."""


class ModelComponent(ABC):
    """A component: runs one task (or one-shot measurement) at a time in its worker thread;
    its points collect in `data` until `get_data` hands them over."""

    state: str | None = None
    running_task: Task | None = None

    def __init__(self, driver: Any, name: str, **kwargs: Any) -> None:
        # `driver`: its ModelInterface (which makes components: this module names none of it)
        self.driver = driver
        self.name = name
        self.constants: dict[str, Any] = {}
        self.data: Any = None
        self.last_data: Any = None
        self.datalock = threading.RLock()
        self.fault: str | None = None
        """Why the worker thread ended (the component is in state `stop`)."""
        self._start_thread()

    def _start_thread(self) -> None:
        self.task_list: queue.Queue[Any] = queue.Queue()
        self._stop_task = threading.Event()
        self.state, self.running_task = "idle", None
        self.thread = threading.Thread(target=self.task_runner, daemon=True,
                                       name=f"component {self.name}")
        self.thread.start()

    def task_runner(self) -> None:
        """Take tasks (and measurements) off the queue until told to quit; an exception
        ends the thread, leaving the component in state `stop` until it is reset."""
        try:
            while (item := self.task_list.get()) is not _QUIT:
                if isinstance(item, Task):
                    self.state, self.running_task = "task", item
                    self._run(item)
                elif item == MEASURE:
                    self.state, self.running_task = "meas", None
                    with self.datalock:
                        self.do_measure()
                else:
                    raise ValueError(f"unknown task received: {item!r}")
                self.state, self.running_task = "idle", None
        except Exception as exc:
            self.fault = described(exc)
            logger.error("component %s: its thread ends: %s", self.name, self.fault)
        self.state, self.running_task = "stop", None

    def _run(self, task: Task) -> None:
        """Prepare, then one `do_task` per `sampling_interval` until `max_duration` or a stop;
        samples are due at start + k·interval (no drift), waits in slices of 10 to 200 ms."""
        self._stop_task.clear()
        self.prepare_task(task=task)
        with self.datalock:
            self.data = None
        t_start = t_prev = time.perf_counter()
        due = t_start + task.sampling_interval
        while not self._stop_task.is_set():
            t_now = time.perf_counter()
            if t_now >= due:
                with self.datalock:
                    self.do_task(task, t_start=t_start, t_now=t_now, t_prev=t_prev)
                t_prev = due
                due += task.sampling_interval
                continue
            if t_now - t_start > task.max_duration:
                break
            time.sleep(min(max(due - t_now, 0.01), 0.2))

    def prepare_task(self, task: Task, **kwargs: Any) -> None:
        """Apply the task's parameters to the component's attrs."""
        for attr, val in (task.task_params or {}).items():
            self.set_attr(attr=attr, val=val)

    def do_task(self, task: Task, t_start: float, t_now: float, t_prev: float,
                **kwargs: Any) -> None:
        """One sample of a task: a measurement, appended to `data`."""
        import xarray as xr

        self.do_measure(**kwargs)
        if self.data is None:
            self.data = self.last_data
        elif self.last_data is not None:
            self.data = xr.concat([self.data, self.last_data], dim="uts", data_vars="minimal")

    def stop_task(self, **kwargs: Any) -> None:
        self._stop_task.set()

    def get_data(self, **kwargs: Any) -> Any:
        """The points since the last call (an xarray Dataset, or None)."""
        with self.datalock:
            data, self.data = self.data, None
        return data

    def get_last_data(self, **kwargs: Any) -> Any:
        return self.last_data

    def status(self, **kwargs: Any) -> Status:
        attrs = {name: self.get_attr(attr=name)
                 for name, props in self.attrs().items() if props.status}
        return Status(connected=True, state=self.state,  # type: ignore[arg-type]
                      can_submit=not self.task_list.full(), attrs=attrs,
                      task=self.running_task)

    def stop(self, **kwargs: Any) -> None:
        """Stop what runs and end the worker thread: a safe state."""
        self.stop_task(**kwargs)
        if self.thread.is_alive():
            self.task_list.put(_QUIT)
            self.thread.join()

    def reset(self, **kwargs: Any) -> None:
        """Ready for tasks again (after `stop`): a new queue and worker thread; what was
        collected and not handed over is dropped (the last point stays)."""
        with self.datalock:
            self.data = None
        self.fault = None
        self._start_thread()

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

    @abstractmethod
    def quit(self, **kwargs: Any) -> None:
        """Release the component (its port, its connection)."""
