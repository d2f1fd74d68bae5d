"""The platform's FastAPI routers, in the order they appear in the OpenAPI schema."""

from fastapi import APIRouter

from labctl.platform.routes import (
    certificates,
    comparisons,
    desk,
    health,
    ledger,
    notices,
    organisations,
    quality,
    registry,
    runs,
    stations,
)

routers: list[APIRouter] = [organisations.router, registry.router, certificates.router,
                             runs.router, stations.router, quality.router,
                             desk.router, notices.router, ledger.router,
                             comparisons.router, health.router]
