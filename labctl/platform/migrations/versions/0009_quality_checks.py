"""quality control: intermediate checks of standards and the events they open

``check_result`` (one check of a standard at one point: value, u, when, the run; unique per
standard, point and run), ``quality_event`` (a chart rule, a failed En or a check beyond
tolerance: the status it led to, the impact report, its closing). New tables only; the
standard's new status ``under_investigation`` fits the existing column. Their rows are
checked by the audit trail (``audit.CHECKED``); a database upgraded to this revision has
none to adopt.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 12:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "check_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("standard_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("point_key", sa.String(length=64), nullable=False),
        sa.Column("nominal", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("u", sa.String(length=64), nullable=False),
        sa.Column("dof", sa.Float(), nullable=True),
        sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(length=200), nullable=False),
        sa.Column("procedure", sa.String(length=64), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=True),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("operator", sa.String(length=100), nullable=False),
        sa.Column("environment", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisation.id"]),
        sa.ForeignKeyConstraint(["standard_id"], ["standard.id"]),
        sa.ForeignKeyConstraint(["station_id"], ["station.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("standard_id", "point_key", "run_id", name="uq_check_result_run"),
    )
    op.create_index(op.f("ix_check_result_standard_id"), "check_result", ["standard_id"])
    op.create_index(op.f("ix_check_result_organisation_id"), "check_result",
                    ["organisation_id"])
    op.create_index("ix_check_result_series", "check_result",
                    ["standard_id", "point_key", "measured_at"])
    op.create_table(
        "quality_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("standard_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("point_key", sa.String(length=64), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("check_ids", sa.JSON(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_by", sa.String(length=200), nullable=False),
        sa.Column("opened_by_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("standard_status", sa.String(length=24), nullable=False),
        sa.Column("status_change_id", sa.Integer(), nullable=True),
        sa.Column("impact", sa.JSON(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.Column("verification", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["closed_by_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["opened_by_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisation.id"]),
        sa.ForeignKeyConstraint(["standard_id"], ["standard.id"]),
        sa.ForeignKeyConstraint(["status_change_id"], ["standard_status_change.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_quality_event_standard_id"), "quality_event", ["standard_id"])
    op.create_index(op.f("ix_quality_event_organisation_id"), "quality_event",
                    ["organisation_id"])


def downgrade() -> None:
    op.drop_table("quality_event")
    op.drop_index("ix_check_result_series", table_name="check_result")
    op.drop_table("check_result")
