"""What the supervisor answers without changing anything: pipelines, jobs (with why each
queued one waits, and where a job of the cluster runs), a watcher's starting picture, the
components, the service itself."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..jobstatus import ACTIVE, PENDING
from ..messages import (
    GetJobs,
    GetPipelines,
    GetServiceStatus,
    GetWatchState,
    JobInfo,
    ListComponents,
    SearchJobs,
)
from .config.settings import Settings
from .jobs.jobhosts import JobHosts
from .jobs.progress import Progress
from .lab.components import Components
from .lab.devices import Devices
from .scheduling.pipelines import Pipelines
from .scheduling.queue import Queue
from .state.lookup import known
from .state.store import Store
from .status import service_status

if TYPE_CHECKING:
    from .cluster import Cluster
    from .cluster.local import Alone

QUERIES = (GetPipelines, GetJobs, SearchJobs, GetWatchState, ListComponents, GetServiceStatus)


class Queries:
    def __init__(self, store: Store, pipelines: Pipelines, queue: Queue, progress: Progress,
                 components: Components, devices: Devices, jobhosts: JobHosts) -> None:
        self._store = store
        self._pipelines = pipelines
        self._queue = queue
        self._progress = progress
        self._components = components
        self._devices = devices
        self._jobhosts = jobhosts

    async def answer(self, msg: Any, cluster: Cluster | Alone, settings: Settings) -> Any:
        store = self._store
        match msg:
            case GetPipelines():
                return self._pipelines.infos() + cluster.pipelines()
            case GetJobs(jobids, finished, since):
                return self.shown([self.job(j) for j in jobids] if jobids else store.jobs(
                    None if finished else (*PENDING, *ACTIVE), since=since), cluster)
            case SearchJobs(text, complete):
                return self.shown(store.jobs(None if complete else (*PENDING, *ACTIVE),
                                             name=text), cluster)
            case GetWatchState(jobid, points):
                jobs = (self.shown([self.job(jobid)], cluster) if jobid is not None else
                        store.jobs(ACTIVE))
                return self._progress.watch_state(self._pipelines.infos(), jobs, {
                    j.jobid: store.spec(j.jobid) for j in jobs}, self._components.idle,
                    points)
            case ListComponents():
                return self._components.rows(self._devices.states())
            case GetServiceStatus():
                return await service_status(settings, self._pipelines, self._devices,
                                            self._jobhosts, self._queue, self.running())
        raise TypeError(f"not a query: {type(msg).__name__}")

    def shown(self, jobs: list[JobInfo], cluster: Cluster | Alone) -> list[JobInfo]:
        return cluster.shown(self._queue.explained(jobs))  # why each queued job waits

    def job(self, jobid: int) -> JobInfo:
        return known(self._store, jobid)

    def running(self) -> list[int]:
        """Jobs not yet ended (some may have released their pipeline to make outputs)."""
        return [j.jobid for j in self._store.jobs(ACTIVE, local=True)]
