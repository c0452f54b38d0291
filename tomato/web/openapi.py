"""The API's description (OpenAPI 3.1), served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from .. import __version__

_JOBID = {"name": "jobid", "in": "path", "required": True, "schema": {"type": "integer"}}
_ERROR = {"description": "refused: {\"error\": one line saying why}",
          "content": {"application/json": {"schema": {
              "type": "object", "properties": {"error": {"type": "string"}}}}}}
_REFUSALS = {"401": _ERROR, "403": _ERROR}


_SUBMIT = (("jobname", "string", "a name for the job"),
           ("after", "string", "jobids, comma-separated: start once they completed (c)"),
           ("after_any", "string", "jobids, comma-separated: start once they ended"),
           ("hold", "boolean", "queue it held (it starts once released)"),
           ("priority", "integer", "higher first among the jobs a pipeline can run"),
           ("pipeline", "string", "run it on this pipeline only"))
"""A submit's query parameters: `ketchup submit`'s options."""


def _op(summary: str, role: str, ok: str, **more: Any) -> dict[str, Any]:
    return {"summary": summary, "description": f"Role: {role} or above.",
            "responses": {"200": {"description": ok}, **_REFUSALS}, **more}


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "tomato", "version": __version__,
             "description": "The records are those of `ketchup --json`."},
    "components": {"securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
    "security": [{"token": []}],
    "paths": {
        "/api/v1/pipelines": {"get": _op("Every pipeline", "viewer", "a list of pipelines")},
        "/api/v1/jobs": {
            "get": _op("Jobs, finished ones too", "viewer", "a list of jobs", parameters=[
                {"name": "status", "in": "query", "schema": {"type": "string"},
                 "description": "only these statuses, comma-separated (q,qw,r,rd,c,ce,cd)"},
                {"name": "limit", "in": "query", "schema": {"type": "integer"},
                 "description": "only the newest this many"},
                {"name": "name", "in": "query", "schema": {"type": "string"},
                 "description": "only those whose name holds this"}]),
            "post": _op("Queue a payload", "user", "unused: 201 {\"jobid\": N}",
                        parameters=[{"name": name, "in": "query", "schema": {"type": kind},
                                     "description": what} for name, kind, what in _SUBMIT],
                        requestBody={"required": True, "content": {
                            "application/yaml": {"schema": {"type": "string"}},
                            "application/json": {"schema": {"type": "object"}}}},
                        responses={"201": {"description": "{\"jobid\": N}"},
                                   "400": _ERROR, "422": _ERROR, **_REFUSALS})},
        "/api/v1/progress": {"get": _op(
            "How far each running job is: its steps, and the step running on each component "
            "(step, started, max_duration, total)", "viewer", "{jobid: {steps, running}}")},
        "/api/v1/jobs/{jobid}": {"get": _op("One job", "viewer", "the job",
                                            parameters=[_JOBID])},
        "/api/v1/jobs/{jobid}/data": {"get": _op(
            "The job's points after a cursor, with units", "viewer",
            "{jobid, status, steps: [{step, role, technique, columns, units, points}], cursor}",
            parameters=[_JOBID, {"name": "after", "in": "query", "schema": {"type": "string"},
                                 "description": "the cursor of the last reply"}])},
        "/api/v1/jobs/{jobid}/files/{name}": {"get": _op(
            "Download one of the job's outputs (.nc, .zip)", "user", "the file",
            parameters=[_JOBID, {"name": "name", "in": "path", "required": True,
                                 "schema": {"type": "string"}}])},
        "/api/v1/jobs/{jobid}/cancel": {"post": _op(
            "Cancel a job (a user: its own)", "user", "the job", parameters=[_JOBID])},
        "/api/v1/jobs/{jobid}/snapshot": {"post": _op(
            "A snapshot of the job's data so far (a user: its own job)", "user",
            "the snapshot's .nc file", parameters=[_JOBID])},
        "/api/v1/pipelines/{name}/{action}": {"post": _op(
            "load (?sample=NAME), eject, ready or unready a pipeline", "admin",
            "the pipeline", parameters=[
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "action", "in": "path", "required": True, "schema": {
                    "enum": ["load", "eject", "ready", "unready"]}},
                {"name": "sample", "in": "query", "schema": {"type": "string"}}])},
        "/api/v1/components": {"get": _op(
            "Every component (DEVICE:CHANNEL): driver, state, pipelines, the job using it",
            "viewer", "a list of components")},
        "/api/v1/components/{name}": {"get": _op(
            "A component: status, attrs with their values and units, capabilities, "
            "constants, its last point", "viewer", "the component", parameters=[
                {"name": "name", "in": "path", "required": True,
                 "schema": {"type": "string"}}])},
        "/api/v1/events": {"get": _op(
            "The service's events, as server-sent events (the records of `ketchup watch "
            "--json`)", "viewer", "text/event-stream", parameters=[
                {"name": "job", "in": "query", "schema": {"type": "integer"},
                 "description": "only this job's"}])},
    },
}
