"""A job's period and its claim: the ``job_run`` row that makes one worker, and only one, run
a job for a period.

Periods are fixed slices of UTC time counted from the Unix epoch (a daily job's period is a UTC
day), so every worker computes the same period for the same moment without talking to the
others. :func:`claim` inserts the period's row with ``ON CONFLICT DO NOTHING``: of workers
claiming at once exactly one inserts it and runs the job; the others find it taken. A run
left ``running`` longer than the job's lease (its worker died mid-run) may be taken over once
the lease has passed, as a new attempt; :func:`finish` records the end only for the attempt
that still holds the row.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from labctl.errors import ValidationError
from labctl.platform.db import insert_or_ignore
from labctl.platform.models.jobs import JobRun, JobState

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def this_worker() -> str:
    """How a job run names the worker that claimed it: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def period_of(now: datetime, period: timedelta) -> tuple[datetime, datetime]:
    """The period ``[start, end)`` holding ``now``: slices of ``period`` counted from the
    Unix epoch (UTC). ``now`` must be timezone-aware; ``period`` at least one second."""
    if now.tzinfo is None:
        raise ValidationError("now", now.isoformat(), "a timezone-aware datetime")
    if period < timedelta(seconds=1):
        raise ValidationError("period", str(period), "at least one second")
    n = (now.astimezone(UTC) - EPOCH) // period
    start = EPOCH + n * period
    return start, start + period


def claim(engine: Engine, *, job: str, start: datetime, end: datetime, now: datetime,
          lease: timedelta, worker: str) -> JobRun | None:
    """The run of ``job`` for the period starting at ``start`` if this worker gets it: newly
    inserted, or taken over from a run still ``running`` whose ``lease`` has passed since it
    started. ``None`` when another worker holds it or it has ended."""
    values: dict[str, Any] = {
        "job": job, "period_start": start, "period_end": end,
        "state": JobState.RUNNING.value, "worker": worker[:200], "attempt": 1,
        "started_at": now, "outcome": {}, "error": ""}
    with Session(engine) as session:
        inserted = session.execute(insert_or_ignore(session, JobRun).values(**values)
                                   .on_conflict_do_nothing(
            index_elements=["job", "period_start"]).returning(col(JobRun.id))).scalar()
        if inserted is None:
            taken = session.execute(sa.update(JobRun).where(
                col(JobRun.job) == job, col(JobRun.period_start) == start,
                col(JobRun.state) == JobState.RUNNING.value,
                col(JobRun.started_at) < now - lease,
            ).values(worker=worker[:200], attempt=col(JobRun.attempt) + 1, started_at=now))
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                session.rollback()
                return None
        session.commit()
        return session.exec(select(JobRun).where(
            JobRun.job == job, JobRun.period_start == start)).one()


def finish(engine: Engine, run: JobRun, *, state: JobState, outcome: dict[str, Any],
           error: str = "", now: datetime) -> bool:
    """Record how ``run`` ended; False (nothing written) if another worker has taken the
    period over since (this attempt outlived its lease)."""
    with Session(engine) as session:
        done = session.execute(sa.update(JobRun).where(
            col(JobRun.id) == run.id, col(JobRun.attempt) == run.attempt,
            col(JobRun.state) == JobState.RUNNING.value,
        ).values(state=state.value, outcome=outcome, error=error, finished_at=now))
        session.commit()
        return done.rowcount == 1  # type: ignore[attr-defined,no-any-return]


def run_of(engine: Engine, run: JobRun) -> JobRun:
    """``run`` as its row is now."""
    with Session(engine) as session:
        row = session.get(JobRun, run.id)
        assert row is not None  # job runs are never deleted
        return row


def job_runs(engine: Engine, *, job: str | None = None, limit: int = 100) -> list[JobRun]:
    """The newest job runs (of ``job`` if given), newest period first."""
    with Session(engine) as session:
        query = select(JobRun)
        if job is not None:
            query = query.where(JobRun.job == job)
        return list(session.exec(query.order_by(col(JobRun.period_start).desc(),
                                                col(JobRun.id).desc()).limit(limit)).all())
