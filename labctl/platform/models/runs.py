"""Runs on benches behind station agents: the benches, the run requests queue, the runs as the
platform knows them, their events and points.

A laboratory's bench is driven by a station agent (``labctl station serve``) that connects
outward to the platform; the platform never reaches the bench. So a run is a row here
(:class:`BenchRun`) and a request in a queue (:class:`RunRequest`, claimed with ``FOR UPDATE
SKIP LOCKED`` on PostgreSQL) that the bench's agent takes; the agent runs it with its own
runner and journal and posts back what happened: the run's events numbered as its journal
numbers them (:class:`RunEventRow`, the replay source for ``Last-Event-ID``), its committed
points (:class:`RunPointRow`), its status and, when it ends, its whole result. Every post is
idempotent (keyed by run and sequence number), so an agent that lost its connection simply
posts again. No worker keeps any of this in memory: any API process answers for any run.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from labctl.platform.models.base import str_field, utc_field


class RequestKind(StrEnum):
    """What a run request asks the bench's agent to do."""

    START = "start"  # carry out a new run (journaled by the agent under the platform's id)
    RESUME = "resume"  # continue a paused (or interrupted) run from its next point


class RequestState(StrEnum):
    """Where a run request stands: waiting in the queue, taken by the agent, finished."""

    QUEUED = "queued"
    CLAIMED = "claimed"
    DONE = "done"


class Bench(SQLModel, table=True):
    """A bench a station agent announced: its name (unique on the platform, as in the API's
    ``/benches/{name}``), its laboratory and station, the instrument roles it has."""

    __tablename__ = "bench"
    id: int | None = Field(default=None, primary_key=True)
    name: str = str_field(64, unique=True, index=True)
    laboratory_id: int = Field(foreign_key="organisation.id", index=True)
    station_id: int = Field(foreign_key="station.id", index=True)
    roles: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    description: str = str_field(300, default="")
    simulated_time: bool = False
    announced_at: datetime = utc_field(default_now=True)
    #: When the agent last asked for work or posted progress (its liveness).
    seen_at: datetime = utc_field(default_now=True)


class BenchRun(SQLModel, table=True):
    """A run on an agent's bench as the platform knows it (the agent's journal is the source;
    this is what it has posted so far)."""

    __tablename__ = "bench_run"
    run_id: str = str_field(32, primary_key=True)
    bench_id: int = Field(foreign_key="bench.id", index=True)
    laboratory_id: int = Field(foreign_key="organisation.id", index=True)
    procedure_id: str = str_field(64)
    parameters: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    dut: dict[str, str] = Field(default_factory=dict, sa_type=sa.JSON)
    operator: str = str_field(100)
    checker: str = str_field(100)
    status: str = str_field(16)
    reason: str = Field(default="", sa_type=sa.Text)
    points_done: int = 0
    #: A stop asked for through the API, not yet seen ended by the agent.
    stop_requested: bool = False
    created_at: datetime = utc_field(default_now=True)
    updated_at: datetime = utc_field(default_now=True)
    #: ``RunResult.to_dict()`` as the agent posted it when the run last ended (else NULL).
    result: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON, nullable=True)


class RunRequest(SQLModel, table=True):
    """One piece of work for a bench's agent: start or resume a run."""

    __tablename__ = "run_request"
    __table_args__ = (sa.Index("ix_run_request_bench_state", "bench_id", "state", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: str = str_field(32, foreign_key="bench_run.run_id", index=True)
    bench_id: int = Field(foreign_key="bench.id")
    kind: str = str_field(16)
    #: Who carries a resumed run on (checked by the agent's runner as an operator is).
    resumed_by: str = str_field(100, default="")
    state: str = str_field(16, default=RequestState.QUEUED)
    created_at: datetime = utc_field(default_now=True)
    claimed_at: datetime | None = utc_field(nullable=True, default=None)
    done_at: datetime | None = utc_field(nullable=True, default=None)


class RunEventRow(SQLModel, table=True):
    """A run's event as the agent's journal numbered it (0, 1, …)."""

    __tablename__ = "run_event"
    run_id: str = str_field(32, foreign_key="bench_run.run_id", primary_key=True)
    seq: int = Field(primary_key=True)
    kind: str = str_field(32)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


class RunPointRow(SQLModel, table=True):
    """A run's committed point as the agent's journal numbered it."""

    __tablename__ = "run_point"
    run_id: str = str_field(32, foreign_key="bench_run.run_id", primary_key=True)
    seq: int = Field(primary_key=True)
    key: str = str_field(200)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
