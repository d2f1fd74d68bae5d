"""HTTP entry point: ``create_app(settings)`` wires the platform's routers together.

Thin on purpose: a lifespan that opens (and migrates) the database, the routers, and the ONE
place that turns labctl's errors into HTTP answers. No engine exists at import time.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from http import HTTPStatus

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

import labctl
from labctl.errors import (
    AuthenticationError,
    ConflictError,
    IntegrityError,
    LabctlError,
    LoginLockedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RuleViolationError,
    ValidationError,
)
from labctl.platform import audit
from labctl.platform.admin import migrate_database
from labctl.platform.db import is_sqlite, make_engine, migrate
from labctl.platform.documents.schema import dcc_schema
from labctl.platform.jobs import PLATFORM_JOBS, Scheduler
from labctl.platform.notify import Listener
from labctl.platform.pages import add_pages
from labctl.platform.pages.errors import error_page, wants_page
from labctl.platform.routes import routers
from labctl.platform.routes.deps import COMMON, ErrorBody
from labctl.platform.routes.web import (
    SecurityHeadersMiddleware,
    StrictInputMiddleware,
    add_docs,
    document_optional_auth,
    error_response,
    field_errors,
    is_secret_name,
    safe_value,
    scrub,
    use_exact_decimal_schemas,
    uvicorn_options,
    validation_body,
)
from labctl.platform.settings import Settings
from labctl.platform.stations.benches import BenchEntry, RunManager, load_benches

#: labctl error class → HTTP status (most specific first: RuleViolationError is a ValueError too).
ERROR_STATUS: tuple[tuple[type[LabctlError], int], ...] = (
    (LoginLockedError, 429),
    (RateLimitedError, 429),
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (RuleViolationError, 422),
    (ValidationError, 422),
    (IntegrityError, 500),
)


def _error_body(exc: LabctlError) -> ErrorBody:
    body = ErrorBody(error=type(exc).__name__, detail=str(exc))
    if isinstance(exc, ValidationError):
        body.field, body.allowed = exc.field, exc.allowed
        body.value = safe_value(exc.value, exc.field)
        if is_secret_name(exc.field):
            body.detail = scrub(body.detail, {str(exc.value), repr(exc.value)})
    if isinstance(exc, RuleViolationError | ConflictError) and (
            code := exc.rule if isinstance(exc, RuleViolationError) else exc.reason):
        body.rule = code
        body.details = {k: safe_value(v, k) for k, v in exc.details.items()}
    if isinstance(exc, PermissionDeniedError) and exc.rule:
        body.rule = exc.rule
    return body


async def _labctl_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LabctlError)
    status = next((code for cls, code in ERROR_STATUS if isinstance(exc, cls)), 500)
    if wants_page(request):
        page = error_page(request, status, str(exc), error=exc)
        if isinstance(exc, LoginLockedError | RateLimitedError):
            page.headers["Retry-After"] = str(exc.retry_after)
        return page
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, LoginLockedError | RateLimitedError):
        headers = {"Retry-After": str(exc.retry_after)}
    return error_response(_error_body(exc), status, headers)


async def _request_validation_error(request: Request, exc: Exception) -> Response:
    """FastAPI's request validation (body, query, path, headers) in the ``ErrorBody`` shape:
    the field path, the value shown safely (never a secret) and what is allowed."""
    assert isinstance(exc, RequestValidationError)
    errors = field_errors(exc.errors(), exc.body)
    if wants_page(request):
        return error_page(request, 422, "; ".join(
            f"{e.field.split('.')[-1]}: {e.allowed}" for e in errors) or None)
    if not errors:  # pragma: no cover - FastAPI always names at least one error
        return error_response(ErrorBody(error="ValidationError", detail="invalid request"), 422)
    return error_response(validation_body(errors), 422)


#: ``error`` for HTTP errors raised by the framework (unknown route, wrong method, …),
#: named like labctl's own errors where one matches.
HTTP_ERROR_NAMES = {400: "BadRequest", 401: "AuthenticationError", 403: "PermissionDeniedError",
                    404: "NotFoundError", 405: "MethodNotAllowed", 409: "ConflictError",
                    422: "ValidationError"}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if wants_page(request):
        return error_page(request, status)
    name = HTTP_ERROR_NAMES.get(status) or HTTPStatus(status).phrase.title().replace(" ", "")
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).phrase
    if status == 404 and detail == "Not Found":
        detail = f"no such resource: {request.url.path[:200]}"
    if status == 405:
        allow = (exc.headers or {}).get("Allow", "")
        detail = f"{request.method} is not allowed on this resource (allowed: {allow})"
    return error_response(ErrorBody(error=name, detail=detail), status, exc.headers)


async def _internal_error(request: Request, exc: Exception) -> Response:
    """Anything unforeseen: the ErrorBody, no traceback (uvicorn logs it)."""
    if wants_page(request):
        return error_page(request, 500)
    return error_response(ErrorBody(error="InternalServerError",
                                    detail="internal error; the server log has the details"),
                          500)


def create_app(settings: Settings | None = None,
               benches: Mapping[str, BenchEntry] | None = None) -> FastAPI:
    """The labctl platform application on ``settings.database_url`` (default: from the env).

    ``benches``: calibration benches this server runs (default: ``settings.benches_file``)."""
    settings = settings or Settings.from_env()
    use_exact_decimal_schemas()
    if benches is None and settings.benches_file is not None:
        benches = load_benches(settings.benches_file)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # compiled before the first request: compiling it while the request threads parse
        # XML fails now and then (see dcc_schema)
        dcc_schema()
        engine = make_engine(settings.database_url)
        if settings.migrate_on_start:
            migrate(engine)
        audit.use_key(engine, settings.keys_dir)  # every event this server writes is sealed
        app.state.engine = engine
        app.state.runs = RunManager(engine, benches) if benches else None
        app.state.listener = Listener(engine)
        app.state.scheduler = Scheduler(engine, settings, PLATFORM_JOBS) \
            if settings.scheduler else None
        if app.state.scheduler is not None:
            app.state.scheduler.start()
        try:
            yield
        finally:
            if app.state.scheduler is not None:
                app.state.scheduler.close()
            if app.state.runs is not None:
                app.state.runs.close()
            app.state.listener.close()
            engine.dispose()

    app = FastAPI(
        title="labctl platform", version=labctl.__version__, lifespan=lifespan,
        docs_url=None, redoc_url=None,  # served from the package by add_docs (no CDN)
        description="Registry of measurement standards and CMCs with traceability, calibration "
                    "certificates (PDF + signed DCC), verification and audit.",
    )
    app.state.settings = settings
    app.add_exception_handler(LabctlError, _labctl_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)
    for router in routers:
        app.include_router(router, responses=COMMON)
    add_docs(app)
    add_pages(app)
    document_optional_auth(app, routers)
    # Outermost last: security headers also go on the strict-JSON refusals.
    app.add_middleware(StrictInputMiddleware)
    app.add_middleware(SecurityHeadersMiddleware,
                       https=settings.public_url.lower().startswith("https://"))
    return app


#: Seconds uvicorn's supervisor waits for a worker to answer its health check before it takes
#: it for hung, kills and replaces it. A new worker answers once it has imported labctl,
#: which takes longer than uvicorn's default 5 s on a busy machine: every worker would be
#: killed before it ever served.
WORKER_HEALTHCHECK_TIMEOUT = 30


def app_from_env() -> FastAPI:
    """The application as each worker of ``labctl serve --workers N`` builds it (uvicorn's
    app factory): settings from the environment, which :func:`serve` set for it."""
    return create_app(Settings.from_env())


def check_workers(settings: Settings, workers: int) -> None:
    """Refuse ``workers`` processes where they cannot share the work (``ValidationError``
    naming ``--workers``): SQLite is one process's database (its writers queue on one file
    lock and run events wake waiters in-process), and benches the server drives itself run in
    one process's memory."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValidationError("--workers", workers, "a whole number >= 1")
    if workers == 1:
        return
    if is_sqlite(settings.database_url):
        raise ValidationError(
            "--workers", workers, "1 on SQLite",
            f"--workers {workers} needs PostgreSQL: SQLite is one process's database (its "
            "writes and run events are kept in one process); run one worker, or set "
            "--database-url / LABCTL_DATABASE_URL to postgresql+psycopg://…")
    if settings.benches_file is not None:
        raise ValidationError(
            "--workers", workers, "1 with LABCTL_BENCHES",
            f"--workers {workers} cannot serve the benches of LABCTL_BENCHES "
            f"({settings.benches_file}): a bench the server drives itself lives in one "
            "process's memory. Serve those benches through station agents (labctl station "
            "serve) and unset LABCTL_BENCHES, or run one worker")


def serve(host: str = "127.0.0.1", port: int = 8000, database_url: str | None = None, *,
          workers: int = 1) -> None:
    """Run the platform with uvicorn (``labctl serve``); migrates the database first.

    ``workers`` > 1: that many uvicorn worker processes on the one port (PostgreSQL only, see
    :func:`check_workers`); the database is migrated here once before they start (and each
    worker's own migration, under an advisory lock, then finds nothing to do). The background
    jobs' scheduler is on unless ``LABCTL_SCHEDULER=off``."""
    settings = Settings.from_env()
    if database_url:
        settings = dataclasses.replace(settings, database_url=database_url)
    if not os.environ.get("LABCTL_SCHEDULER"):
        settings = dataclasses.replace(settings, scheduler=True)
    check_workers(settings, workers)
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, **uvicorn_options())
        return
    if settings.migrate_on_start:
        migrate_database(settings.database_url)
    # the workers are spawned (fresh interpreters): they read their settings from here
    os.environ["LABCTL_DATABASE_URL"] = settings.database_url
    os.environ["LABCTL_SCHEDULER"] = "on" if settings.scheduler else "off"
    uvicorn.run("labctl.api:app_from_env", factory=True, workers=workers, host=host,
                port=port, timeout_worker_healthcheck=WORKER_HEALTHCHECK_TIMEOUT,
                **uvicorn_options())


class ServerThread:
    """``app`` served by uvicorn in a background thread on 127.0.0.1, port chosen by the OS.

    A context manager giving the base URL once the server accepts connections; used by
    ``labctl demo`` (the embedded platform) and by the tests' live server.
    """

    def __init__(self, app: FastAPI, *, start_timeout: float = 60.0) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                lifespan="on", timeout_graceful_shutdown=2,
                                **uvicorn_options())
        self.server = uvicorn.Server(config)
        self.start_timeout = start_timeout
        self.thread = threading.Thread(target=self.server.run, daemon=True, name="platform")

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the platform server did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
