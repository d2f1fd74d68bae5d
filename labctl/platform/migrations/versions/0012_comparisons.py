"""comparisons: key / supplementary / interlaboratory comparisons and proficiency tests

``comparison`` (what is compared, the pilot, the state, how the reference value is formed,
who created and published it) and ``comparison_result`` (one per participant organisation:
value, standard uncertainty, degrees of freedom, coverage factor, the standard used, who
entered it). New tables only: nothing existing changes. Their rows are checked by the audit
trail (``audit.CHECKED``); a database upgraded to this revision has none to adopt.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 12:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "comparison",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("quantity", sa.String(length=100), nullable=False),
        sa.Column("measurand", sa.String(length=2000), nullable=False),
        sa.Column("nominal_value", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("pilot_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reference_method", sa.String(length=24), nullable=False),
        sa.Column("assigned_value", sa.String(length=64), nullable=True),
        sa.Column("assigned_u", sa.String(length=64), nullable=True),
        sa.Column("sigma_pt", sa.String(length=64), nullable=True),
        sa.Column("en_limit", sa.String(length=64), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by_id", sa.Integer(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["pilot_id"], ["organisation.id"]),
        sa.ForeignKeyConstraint(["published_by_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_comparison_identifier"), "comparison", ["identifier"],
                    unique=True)
    op.create_index(op.f("ix_comparison_pilot_id"), "comparison", ["pilot_id"])
    op.create_table(
        "comparison_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("comparison_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("standard_id", sa.Integer(), nullable=True),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("u", sa.String(length=64), nullable=False),
        sa.Column("dof", sa.Integer(), nullable=True),
        sa.Column("coverage_factor", sa.String(length=64), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entered_by_id", sa.Integer(), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["comparison_id"], ["comparison.id"]),
        sa.ForeignKeyConstraint(["entered_by_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["participant_id"], ["organisation.id"]),
        sa.ForeignKeyConstraint(["standard_id"], ["standard.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("comparison_id", "participant_id"),
    )
    op.create_index(op.f("ix_comparison_result_comparison_id"), "comparison_result",
                    ["comparison_id"])
    op.create_index(op.f("ix_comparison_result_participant_id"), "comparison_result",
                    ["participant_id"])
    op.create_index(op.f("ix_comparison_result_standard_id"), "comparison_result",
                    ["standard_id"])


def downgrade() -> None:
    op.drop_table("comparison_result")
    op.drop_table("comparison")
