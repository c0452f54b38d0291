"""The pages (the lab, a job, a component: HTML and JavaScript in `static/`, which ask the
API and follow its events) and the whole application: pages, API, static files."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from . import api
from .api import COOKIE, Web

STATIC = Path(__file__).parent / "static"
NEEDS_TOKEN = ("tomato: a token is needed: open the address `ketchup web` prints (or ask for "
               "a token of your own: tomato token add NAME)\n")


def _page(request: Request, name: str) -> Response:
    """A page, for anyone with a token; `?token=…` in its address (what `ketchup web`
    prints) becomes a cookie, and the page is shown again without it."""
    web: Web = request.app.state.web
    if web.person(request) is None:
        return Response(NEEDS_TOKEN, 401, media_type="text/plain")
    if request.query_params.get("token"):
        response = RedirectResponse(request.url.path, 303)
        response.set_cookie(COOKIE, request.query_params["token"], httponly=True,
                            samesite="strict")
        return response
    return FileResponse(STATIC / name, headers={"Cache-Control": "no-store"})


async def lab(request: Request) -> Response:
    return _page(request, "lab.html")


async def job_page(request: Request) -> Response:
    return _page(request, "job.html")


async def component_page(request: Request) -> Response:
    return _page(request, "component.html")


def make_app(web: Web) -> Starlette:
    app = Starlette(routes=[
        Route("/", lab),
        Route("/jobs/{jobid:int}", job_page),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        *api.ROUTES,
        Route("/components/{name}", component_page),
    ])
    app.state.web = web
    return app
