"""primary-standards ledger: a record per national primary standard and its core components

``primary_standard_profile`` (metrology area, ledger status, self-reliance class, risk notes,
actions under way; one per standard) and ``primary_standard_component`` (name, role, origin,
supplier and its country, whether a domestic alternative exists). New tables only: nothing
existing changes. Their rows are checked by the audit trail (``audit.CHECKED``); a database
upgraded to this revision has none to adopt.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 12:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "primary_standard_profile",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("standard_id", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("self_reliance", sa.String(length=16), nullable=False),
        sa.Column("risk_notes", sa.String(length=2000), nullable=False),
        sa.Column("actions", sa.String(length=2000), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["standard_id"], ["standard.id"]),
        sa.ForeignKeyConstraint(["updated_by_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("standard_id")
    )
    op.create_index(op.f("ix_primary_standard_profile_domain"), "primary_standard_profile",
                    ["domain"])
    op.create_table(
        "primary_standard_component",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=200), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("supplier", sa.String(length=200), nullable=False),
        sa.Column("supplier_country", sa.String(length=2), nullable=False),
        sa.Column("domestic_alternative", sa.String(length=16), nullable=False),
        sa.Column("notes", sa.String(length=2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["profile_id"], ["primary_standard_profile.id"]),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_primary_standard_component_profile_id"),
                    "primary_standard_component", ["profile_id"])


def downgrade() -> None:
    op.drop_table("primary_standard_component")
    op.drop_table("primary_standard_profile")
