"""Route: whether this API worker answers and reaches the database (for a load balancer's or
an operator's check of each worker of ``labctl serve --workers N``)."""

from __future__ import annotations

import os

import sqlalchemy as sa
from fastapi import APIRouter
from pydantic import BaseModel, Field

from labctl.platform.routes.deps import ReadSessionDep

router = APIRouter(prefix="/api/v1")


class Health(BaseModel):
    status: str = Field(description="ok: the worker answers and its database answers")
    worker: int = Field(description="the process id of the worker that answered")


@router.get("/health", response_model=Health, tags=["platform"])
def health(session: ReadSessionDep) -> Health:
    """This worker is up and its database answers (otherwise a 500)."""
    session.execute(sa.text("SELECT 1"))
    return Health(status="ok", worker=os.getpid())
