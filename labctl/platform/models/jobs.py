"""Background jobs' runs: one row per job and period, the claim that makes a period run once.

Every API worker runs a scheduler (``labctl.platform.jobs``); whichever inserts the row of a
job's period first (``INSERT … ON CONFLICT DO NOTHING`` on the unique ``(job, period_start)``)
runs it, the others find the row and leave it. The row then records how the run went.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from labctl.platform.models.base import str_field, utc_field


class JobState(StrEnum):
    """Where a job's run for one period stands."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class JobRun(SQLModel, table=True):
    """One job's run for one period (``[period_start, period_end)``, UTC): who claimed it,
    when, how it ended (``outcome``: what the job reports; ``error``: why it failed)."""

    __tablename__ = "job_run"
    __table_args__ = (sa.UniqueConstraint("job", "period_start", name="uq_job_run_period"),)
    id: int | None = Field(default=None, primary_key=True)
    job: str = str_field(64)
    period_start: datetime = utc_field()
    period_end: datetime = utc_field()
    state: str = str_field(16)
    #: The worker that claimed it: ``host:pid``.
    worker: str = str_field(200)
    #: 1 for the first claim; more when a run left ``running`` past its lease was taken over.
    attempt: int = 1
    started_at: datetime = utc_field(default_now=True)
    finished_at: datetime | None = utc_field(nullable=True, default=None)
    outcome: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    error: str = Field(default="", sa_type=sa.Text)
