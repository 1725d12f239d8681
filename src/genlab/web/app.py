"""The FastAPI application of ``genlab serve``: state, error handling, middleware, templates.

Every error a request can cause on purpose is a :class:`genlab.errors.GenlabError`; it
becomes a 4xx response with its one-line message (a ``status`` attribute picks the code,
400 by default), an HTML page for pages and plain text for images. Jinja2 autoescapes
everything it renders.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from genlab.errors import GenlabError
from genlab.version import __version__
from genlab.web.cache import ModelCache
from genlab.web.limits import LOOPBACK_HOSTS, MAX_BODY, SECURITY_HEADERS, BodyLimit, HostAndOrigin, SecurityHeaders
from genlab.web.runs import format_metric_value
from genlab.web.sampling import MAX_FRAMES, MAX_N
from genlab.web.survey import SurveySource
from genlab.web.survey_db import SurveyDB
from genlab.web.survey_pending import PendingItems

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))  # autoescape on for .html
templates.env.filters["metric"] = format_metric_value


@dataclass
class WebState:
    """What the routes share: the runs folder, loaded models, the survey file and its image source."""

    runs_root: Path
    cache: ModelCache
    db: SurveyDB
    survey: SurveySource
    pending: PendingItems = field(default_factory=PendingItems)


def create_app(
    runs_root: str | Path = "runs",
    db_path: str | Path = "survey.sqlite",
    *,
    survey_runs: list[str] | None = None,
    data_dir: str | Path | None = None,
    max_body: int = MAX_BODY,
    survey_rng=None,
    allowed_hosts: Iterable[str] = (),
) -> FastAPI:
    """The web app over the runs in ``runs_root``, with survey answers in ``db_path``.

    ``survey_runs`` limits the survey to these runs (default: every MNIST run with a
    checkpoint); ``survey_rng`` (a ``random.Random``) makes the survey's draws reproducible.
    Requests must name localhost, 127.0.0.1, ::1 or one of ``allowed_hosts`` in their
    ``Host`` header (:class:`genlab.web.limits.HostAndOrigin`).
    """
    from genlab.web import routes, routes_survey

    cache = ModelCache()
    state = WebState(
        Path(runs_root),
        cache,
        SurveyDB(db_path),
        SurveySource(Path(runs_root), cache, run_names=survey_runs, data_dir=data_dir, rng=survey_rng),
    )
    app = FastAPI(title="genlab", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.web = state
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(routes.router)
    app.include_router(routes_survey.router)
    app.add_exception_handler(GenlabError, _genlab_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _server_error)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, limit=max_body)
    app.add_middleware(HostAndOrigin, allowed_hosts=LOOPBACK_HOSTS | set(allowed_hosts))  # outermost
    return app


def page(request: Request, name: str, status_code: int = 200, **context) -> HTMLResponse:
    """Render template ``name`` with the shared context (caps, version, the current path)."""
    context = {
        "version": __version__,
        "max_n": MAX_N,
        "max_frames": MAX_FRAMES,
        "path": request.url.path,
        **context,
    }
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def error_response(request: Request, status: int, message: str) -> Response:
    """An error as plain text for images and downloads, as a page otherwise."""
    if request.url.path.endswith((".png", ".csv", ".json")) or "text/html" not in request.headers.get(
        "accept", "text/html"
    ):
        return PlainTextResponse(message, status_code=status)
    return page(request, "error.html", status_code=status, status=status, message=message)


async def _genlab_error(request: Request, exc: GenlabError) -> Response:
    return error_response(request, int(getattr(exc, "status", 400)), str(exc))


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()) if p not in ('body', 'query', 'path'))}: "
        f"{e.get('msg', 'invalid')}"
        for e in exc.errors()
    )
    return error_response(request, 422, f"malformed request: {problems}")


async def _server_error(request: Request, exc: Exception) -> Response:
    """A bug: 500 with a generic line (the traceback goes to the server's log, not the page).

    Starlette answers it outside every middleware, so the security headers are added here."""
    response = error_response(request, 500, "internal error: the request failed; see the server's log")
    for name, value in SECURITY_HEADERS:
        response.headers[name.decode()] = value.decode()
    return response


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    messages = {
        404: f"no page at {request.url.path}: see the gallery at /",
        405: f"{request.method} is not allowed on {request.url.path}",
    }
    return error_response(request, exc.status_code, messages.get(exc.status_code, str(exc.detail)))
