"""HTTP entry point: ``create_app(settings)`` wires the platform's routers together.

Thin on purpose: a lifespan that opens (and migrates) the database, the routers, and the ONE
place that turns labctl's errors into HTTP answers. No engine exists at import time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

import labctl
from labctl.errors import (
    AuthenticationError,
    ConflictError,
    IntegrityError,
    LabctlError,
    NotFoundError,
    PermissionDeniedError,
    RuleViolationError,
    ValidationError,
)
from labctl.platform import audit
from labctl.platform.benches import BenchEntry, RunManager, load_benches
from labctl.platform.db import make_engine, migrate
from labctl.platform.routes import routers
from labctl.platform.settings import Settings

#: labctl error class → HTTP status (most specific first: RuleViolationError is a ValueError too).
ERROR_STATUS: tuple[tuple[type[LabctlError], int], ...] = (
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (RuleViolationError, 422),
    (ValidationError, 422),
    (IntegrityError, 500),
)


def _error_body(exc: LabctlError) -> dict[str, Any]:
    body: dict[str, Any] = {"error": type(exc).__name__, "detail": str(exc)}
    if isinstance(exc, ValidationError):
        body.update(field=exc.field, value=_jsonable(exc.value), allowed=exc.allowed)
    if isinstance(exc, RuleViolationError):
        body.update(rule=exc.rule, details={k: _jsonable(v) for k, v in exc.details.items()})
    return body


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, str | int | bool | None) else str(value)


async def _labctl_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LabctlError)
    status = next((code for cls, code in ERROR_STATUS if isinstance(exc, cls)), 500)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(_error_body(exc), status_code=status, headers=headers)


def create_app(settings: Settings | None = None,
               benches: Mapping[str, BenchEntry] | None = None) -> FastAPI:
    """The labctl platform application on ``settings.database_url`` (default: from the env).

    ``benches``: calibration benches this server runs (default: ``settings.benches_file``)."""
    settings = settings or Settings.from_env()
    if benches is None and settings.benches_file is not None:
        benches = load_benches(settings.benches_file)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        if settings.migrate_on_start:
            migrate(engine)
        audit.use_key(engine, settings.keys_dir)  # every event this server writes is sealed
        app.state.engine = engine
        app.state.runs = RunManager(engine, benches) if benches else None
        try:
            yield
        finally:
            if app.state.runs is not None:
                app.state.runs.close()
            engine.dispose()

    app = FastAPI(
        title="labctl platform", version=labctl.__version__, lifespan=lifespan,
        description="Registry of measurement standards and CMCs with traceability, calibration "
                    "certificates (PDF + signed DCC), verification and audit.",
    )
    app.state.settings = settings
    app.add_exception_handler(LabctlError, _labctl_error)
    for router in routers:
        app.include_router(router)
    return app


def serve(host: str = "127.0.0.1", port: int = 8000, database_url: str | None = None) -> None:
    """Run the platform with uvicorn (``labctl serve``); migrates the database first."""
    import dataclasses

    import uvicorn

    settings = Settings.from_env()
    if database_url:
        settings = dataclasses.replace(settings, database_url=database_url)
    uvicorn.run(create_app(settings), host=host, port=port)


class ServerThread:
    """``app`` served by uvicorn in a background thread on 127.0.0.1, port chosen by the OS.

    A context manager giving the base URL once the server accepts connections; used by
    ``labctl demo`` (the embedded platform) and by the tests' live server.
    """

    def __init__(self, app: FastAPI, *, start_timeout: float = 60.0) -> None:
        import threading

        import uvicorn

        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                lifespan="on", timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.start_timeout = start_timeout
        self.thread = threading.Thread(target=self.server.run, daemon=True, name="platform")

    def __enter__(self) -> str:
        import time

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
