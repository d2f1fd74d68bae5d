"""runs on benches behind station agents: benches, the run request queue, runs, events, points

``bench`` (a bench a station agent announced), ``bench_run`` (a run as the platform knows it),
``run_request`` (the queue the agents claim from, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL),
``run_event`` and ``run_point`` (what the agent posted, numbered as its journal numbers them:
the replay source for ``Last-Event-ID``). New tables only.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 19:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bench",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("laboratory_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("simulated_time", sa.Boolean(), nullable=False),
        sa.Column("announced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["laboratory_id"], ["organisation.id"]),
        sa.ForeignKeyConstraint(["station_id"], ["station.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_bench_laboratory_id", "bench", ["laboratory_id"])
    op.create_index("ix_bench_name", "bench", ["name"], unique=True)
    op.create_index("ix_bench_station_id", "bench", ["station_id"])
    op.create_table(
        "bench_run",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("bench_id", sa.Integer(), nullable=False),
        sa.Column("laboratory_id", sa.Integer(), nullable=False),
        sa.Column("procedure_id", sa.String(length=64), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("dut", sa.JSON(), nullable=False),
        sa.Column("operator", sa.String(length=100), nullable=False),
        sa.Column("checker", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("points_done", sa.Integer(), nullable=False),
        sa.Column("stop_requested", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["bench_id"], ["bench.id"]),
        sa.ForeignKeyConstraint(["laboratory_id"], ["organisation.id"]),
        sa.PrimaryKeyConstraint("run_id"),
    )
    op.create_index("ix_bench_run_bench_id", "bench_run", ["bench_id"])
    op.create_index("ix_bench_run_laboratory_id", "bench_run", ["laboratory_id"])
    for table in ("run_event", "run_point"):
        op.create_table(
            table,
            sa.Column("run_id", sa.String(length=32), nullable=False),
            sa.Column("seq", sa.Integer(), nullable=False),
            *([sa.Column("kind", sa.String(length=32), nullable=False)] if table == "run_event"
              else [sa.Column("key", sa.String(length=200), nullable=False)]),
            sa.Column("data", sa.JSON(), nullable=False),
            sa.ForeignKeyConstraint(["run_id"], ["bench_run.run_id"]),
            sa.PrimaryKeyConstraint("run_id", "seq"),
        )
    op.create_table(
        "run_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("bench_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("resumed_by", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["bench_id"], ["bench.id"]),
        sa.ForeignKeyConstraint(["run_id"], ["bench_run.run_id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_run_request_bench_state", "run_request", ["bench_id", "state", "id"])
    op.create_index("ix_run_request_run_id", "run_request", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_run_request_run_id", table_name="run_request")
    op.drop_index("ix_run_request_bench_state", table_name="run_request")
    op.drop_table("run_request")
    op.drop_table("run_point")
    op.drop_table("run_event")
    op.drop_index("ix_bench_run_laboratory_id", table_name="bench_run")
    op.drop_index("ix_bench_run_bench_id", table_name="bench_run")
    op.drop_table("bench_run")
    op.drop_index("ix_bench_station_id", table_name="bench")
    op.drop_index("ix_bench_name", table_name="bench")
    op.drop_index("ix_bench_laboratory_id", table_name="bench")
    op.drop_table("bench")
