"""The API's routes (Starlette): the same records as `ketchup --json`, each request asked
of the service as ketchup would; tokens and roles checked first."""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from tomato.actors import ActorDeadError, ActorError, Codec, ProtocolError, connect

from ..client_codec import CLIENT_CODEC, component_codec
from ..errors import ConflictError, NotFoundError, PayloadError
from ..jobstatus import Status
from ..messages import (
    CancelJobs,
    EjectSample,
    ForComponent,
    GetJobs,
    GetPipelines,
    GetWatchState,
    JobInfo,
    ListComponents,
    LoadSample,
    SearchJobs,
    SetReady,
    SubmitJob,
    TakeSnapshot,
)
from ..payloadfile import MAX_BYTES, parse_payload, payload_mapping
from ..records import job_records
from ..tokens import OWNER, Person, Tokens
from .data import CursorError, parse_cursor, points_after
from .events import Fanout
from .openapi import OPENAPI

COOKIE = "tomato_token"
ASK_TIMEOUT = 30.0
YAML_TYPES = {"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"}
_OUTPUT_KEYS = {"output", "snapshot"}
STREAM_NEWS = {"connected", "disconnected", "EventsMissed"}
"""What every follower hears of its stream (from the service, lost, missed some)."""


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class Web:
    """What the routes share: the service's socket, the tokens, the event fan-out."""

    def __init__(self, service: Path, tokens: Tokens, owner_token: str, results: Path,
                 fanout: Fanout) -> None:
        self.service = service
        self.tokens = tokens
        self.owner_token = owner_token
        self.results = results
        self.fanout = fanout

    async def ask(self, msg: Any, codec: Codec = CLIENT_CODEC) -> Any:
        try:
            async with connect(self.service, codec) as conn:
                return await conn.ask(msg, timeout=ASK_TIMEOUT)
        except ActorDeadError:
            raise Refused(503, "tomato's service does not answer (is it running?)") from None

    def person(self, request: Request) -> Person | None:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else \
            request.cookies.get(COOKIE) or request.query_params.get("token")
        if not token:
            return None
        if hmac.compare_digest(token.encode(), self.owner_token.encode()):
            return Person(OWNER, "admin")
        return self.tokens.check(token)

    async def job(self, jobid: int) -> JobInfo:
        jobs = await self.ask(GetJobs((jobid,), True))
        return jobs[0]  # type: ignore[no-any-return]


def _allowed(role: str) -> Callable[[Callable[[Web, Request, Person], Awaitable[Response]]],
                                    Callable[[Request], Awaitable[Response]]]:
    """A route for `role` and above: 401 without a valid token, 403 for a lesser role; a
    refusal of the service's as its status and one line."""

    def wrap(fn: Callable[[Web, Request, Person], Awaitable[Response]]
             ) -> Callable[[Request], Awaitable[Response]]:
        async def route(request: Request) -> Response:
            web: Web = request.app.state.web
            person = web.person(request)
            try:
                if person is None:
                    raise Refused(401, "a token is needed: Authorization: Bearer TOKEN "
                                       "(tomato token add NAME prints one)")
                if not person.may(role):
                    raise Refused(403, f"{person.name} ({person.role}) may not do this: it is "
                                       f"for the role {role} and above")
                return await fn(web, request, person)
            except Refused as exc:
                return _error(exc.status, str(exc))
            except ActorError as exc:
                return _error(_status_of(exc), str(exc))

        route.__name__ = fn.__name__
        return route

    return wrap


def _status_of(exc: ActorError) -> int:
    """The HTTP status of a refusal of the service's."""
    for kind, status in ((NotFoundError, 404), (PayloadError, 422), (ConflictError, 409),
                         (ProtocolError, 400)):
        if isinstance(exc, kind):
            return status
    return 500


def _error(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status)


def _jobid(request: Request) -> int:
    try:
        return int(request.path_params["jobid"])
    except ValueError:
        raise Refused(404, f"no job {request.path_params['jobid']!r}") from None


@_allowed("viewer")
async def pipelines(web: Web, request: Request, person: Person) -> Response:
    return JSONResponse([asdict(p) for p in await web.ask(GetPipelines())])


@_allowed("viewer")
async def jobs(web: Web, request: Request, person: Person) -> Response:
    wanted = request.query_params.get("status")
    statuses = set(wanted.split(",")) if wanted else None
    if statuses is not None and not statuses <= set(Status):
        raise Refused(400, f"status {wanted!r}: one or more of {', '.join(Status)} "
                           "expected")
    limit = request.query_params.get("limit", "")
    if limit and not limit.isdigit():
        raise Refused(400, f"limit {limit!r}: a number of jobs expected")
    name = request.query_params.get("name")
    asked = SearchJobs(name, True) if name else GetJobs((), True)
    found = [j for j in await web.ask(asked) if statuses is None or j.status in statuses]
    return JSONResponse(job_records(found[len(found) - int(limit):] if limit else found))


@_allowed("viewer")
async def progress(web: Web, request: Request, person: Person) -> Response:
    """Each running job's steps (role, technique, max_duration) and the step running on
    each of its components (step, started, max_duration, total): how far it is."""
    state = await web.ask(GetWatchState(None, points=False))
    return JSONResponse({str(jobid): {
        "steps": state.methods.get(jobid, []),
        "running": {role: asdict(step) for role, step in state.steps.get(jobid, {}).items()}}
        for jobid in {j.jobid for j in state.jobs}})


@_allowed("viewer")
async def job(web: Web, request: Request, person: Person) -> Response:
    return JSONResponse(job_records([await web.job(_jobid(request))])[0])


@_allowed("viewer")
async def data(web: Web, request: Request, person: Person) -> Response:
    found = await web.job(_jobid(request))
    try:
        after = parse_cursor(request.query_params.get("after"))
    except CursorError as exc:
        raise Refused(400, str(exc)) from None
    if found.jobpath is None or ":" in found.jobpath.split("/")[0]:
        return JSONResponse({"jobid": found.jobid, "status": found.status, "steps": [],
                             "cursor": request.query_params.get("after", "")})
    points = await anyio.to_thread.run_sync(points_after, Path(found.jobpath), after)
    return JSONResponse({"jobid": found.jobid, "status": found.status, **points})


@_allowed("user")
async def download(web: Web, request: Request, person: Person) -> Response:
    found = await web.job(_jobid(request))
    name = request.path_params["name"]
    outputs = {Path(p).name: p for p in found.outputs or []}
    if name not in outputs:
        raise Refused(404, f"job {found.jobid} has no output {name!r} (it has: "
                           f"{', '.join(outputs) or 'none yet'})")
    return FileResponse(outputs[name], filename=name)  # a file gone: 404 by Starlette


@_allowed("user")
async def submit(web: Web, request: Request, person: Person) -> Response:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in YAML_TYPES and kind != "application/json":
        raise Refused(415, f"Content-Type {kind or '(none)'!r}: application/json or "
                           "application/yaml expected")
    body = await _body(request)
    name = Path("(API payload)")
    try:
        payload = payload_mapping(name, parse_payload(
            name, body, "json" if kind == "application/json" else "yaml"))
    except PayloadError as exc:
        raise Refused(400, str(exc)) from None
    for key in ("samplefile", "methodfile"):
        if key in payload:
            raise Refused(422, f"{name}: {key}: the API reads no files; put its content in "
                               "the payload")
    if not person.may("admin") and (where := _output_key(payload)) is not None:
        raise Refused(403, f"{name}: {where}: where results are written is for admins over "
                           "the API; download them instead")
    made = await web.ask(SubmitJob(payload, str(name), str(_results(web, person)),
                                   request.query_params.get("jobname"),
                                   submitter=person.name, **_habits(request)))
    return JSONResponse({"jobid": made.jobid}, 201)


def _habits(request: Request) -> dict[str, Any]:
    """The queue's habits a submit asks for, as `ketchup submit`'s options say them."""
    q = request.query_params
    if q.get("after") and q.get("after_any"):
        raise Refused(400, "after and after_any: give one of them")
    try:
        after = tuple(int(v) for v in (q.get("after") or q.get("after_any") or "").split(",")
                      if v.strip())
        priority = int(q.get("priority") or 0)
    except ValueError:
        raise Refused(400, "after, after_any: jobids separated by commas; priority: a whole "
                           "number") from None
    return {"after": after, "after_any": bool(q.get("after_any")), "priority": priority,
            "hold": "hold" in q and q["hold"].lower() not in ("0", "false", "no"),
            "pipeline": q.get("pipeline") or None}


async def _body(request: Request) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BYTES:
            raise Refused(413, f"larger than {MAX_BYTES // 1024 // 1024} MiB; a payload "
                               "describes an experiment, it holds no data")
        chunks.append(chunk)
    return b"".join(chunks)


def _output_key(value: Any, where: str = "") -> str | None:
    """Where the payload says a folder for its results (`…output.path`), if anywhere."""
    if isinstance(value, dict):
        for key, inner in value.items():
            here = f"{where}.{key}" if where else str(key)
            if key in _OUTPUT_KEYS and isinstance(inner, dict) and "path" in inner:
                return f"{here}.path"
            if (found := _output_key(inner, here)) is not None:
                return found
    elif isinstance(value, list):
        for k, inner in enumerate(value):
            if (found := _output_key(inner, f"{where}[{k}]")) is not None:
                return found
    return None


@_allowed("user")
async def cancel(web: Web, request: Request, person: Person) -> Response:
    found = await web.job(_jobid(request))
    _own(person, found)
    done = await web.ask(CancelJobs((found.jobid,)))
    return JSONResponse(job_records(done)[0])


@_allowed("user")
async def snapshot(web: Web, request: Request, person: Person) -> Response:
    """A snapshot of the job's data so far (its own job, for a user): the .nc file."""
    found = await web.job(_jobid(request))
    _own(person, found)
    folder = _results(web, person)
    taken = await web.ask(TakeSnapshot(found.jobid, str(folder)))
    nc = next((f for f in taken.files if f.endswith(".nc")), None)
    if nc is None:
        raise Refused(500, f"the snapshot of job {found.jobid} made no .nc file")
    headers = {"X-Tomato-Warning": taken.warning} if taken.warning else None
    return FileResponse(nc, filename=Path(nc).name, headers=headers)


@_allowed("admin")
async def command_pipeline(web: Web, request: Request, person: Person) -> Response:
    """load (?sample=NAME), eject, ready, unready: as `ketchup` does them."""
    name, action = request.path_params["name"], request.path_params["action"]
    messages: dict[str, Callable[[], Any]] = {
        "load": lambda: LoadSample(name, _required(request, "sample")),
        "eject": lambda: EjectSample(name), "ready": lambda: SetReady(name, True),
        "unready": lambda: SetReady(name, False)}
    if action not in messages:
        raise Refused(404, f"no action {action!r} on a pipeline (load, eject, ready, unready)")
    return JSONResponse(asdict(await web.ask(messages[action]())))


def _required(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if not value:
        raise Refused(400, f"?{name}= is needed")
    return value


def _own(person: Person, job: JobInfo) -> None:
    if not person.may("admin") and job.owner_name != f"{person.name} (web)":
        raise Refused(403, f"job {job.jobid} is not yours ({person.name}): only admins "
                           "act on others' jobs")


def _results(web: Web, person: Person) -> Path:
    folder = web.results / person.name
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


@_allowed("viewer")
async def components(web: Web, request: Request, person: Person) -> Response:
    return JSONResponse([asdict(c) for c in await web.ask(ListComponents())])


@_allowed("viewer")
async def component(web: Web, request: Request, person: Person) -> Response:
    """A component's status, attrs (with values), capabilities, constants and last point,
    as `ketchup component show`, `get` and `data` give them."""
    from tomato.drivers.messages import GetAttrs, GetComponent, GetLastData

    name = request.path_params["name"]
    info = await web.ask(ForComponent(name, GetComponent("")), component_codec())
    values = await web.ask(ForComponent(name, GetAttrs("", ())), component_codec())
    last = await web.ask(ForComponent(name, GetLastData("")), component_codec())
    return JSONResponse({"name": name, **asdict(info), "values": values.values,
                         "units": values.units, "last": last.point})


@_allowed("viewer")
async def events(web: Web, request: Request, person: Person) -> Response:
    wanted = request.query_params.get("job")
    jobid = int(wanted) if wanted and re.fullmatch(r"\d+", wanted) else None

    async def stream() -> AsyncIterator[bytes]:
        yield b": tomato events\n\n"
        async with web.fanout.listen() as batches:
            async for batch in batches:
                if batch is None:
                    yield b": still here\n\n"
                    continue
                text = "".join(f"data: {json.dumps(record)}\n\n" for record in batch
                               if jobid is None or record.get("jobid") == jobid
                               or record["event"] in STREAM_NEWS)
                if text:
                    yield text.encode()

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def openapi(request: Request) -> Response:
    return JSONResponse(OPENAPI)


ROUTES = [
    Route("/api/v1/openapi.json", openapi),
    Route("/api/v1/pipelines", pipelines),
    Route("/api/v1/jobs", jobs),
    Route("/api/v1/jobs", submit, methods=["POST"]),
    Route("/api/v1/progress", progress),
    Route("/api/v1/jobs/{jobid}", job),
    Route("/api/v1/jobs/{jobid}/data", data),
    Route("/api/v1/jobs/{jobid}/files/{name}", download),
    Route("/api/v1/jobs/{jobid}/cancel", cancel, methods=["POST"]),
    Route("/api/v1/jobs/{jobid}/snapshot", snapshot, methods=["POST"]),
    Route("/api/v1/pipelines/{name}/{action}", command_pipeline, methods=["POST"]),
    Route("/api/v1/components", components),
    Route("/api/v1/components/{name}", component),
    Route("/api/v1/events", events),
]
