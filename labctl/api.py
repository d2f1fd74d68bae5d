"""HTTP entry point: ``create_app(settings)`` wires the platform's routers together."""

from __future__ import annotations

from fastapi import FastAPI

import labctl


def create_app() -> FastAPI:
    """The labctl platform application (routers are added by the platform package)."""
    return FastAPI(title="labctl platform", version=labctl.__version__)
