"""separation of duties: contributors, reviewed external calibrations

Certificates and registry entries remember every person who contributed content (performed,
posted or discarded results, entered or edited), none of whom may check, issue or review it.
A calibration recorded from outside the platform waits for review by another person before it
counts; calibrations already stored (and those made on the platform) are published.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 15:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("certificate", "standard", "capability"):
        op.add_column(table, sa.Column("contributor_ids", sa.JSON(), nullable=False,
                                       server_default="[]"))
    op.add_column("standard_calibration", sa.Column(
        "review_state", sa.String(length=16), nullable=False, server_default="published"))
    for column in ("recorded_by_id", "reviewed_by_id"):
        if op.get_context().dialect.name == "sqlite":
            # SQLite adds a column with its foreign key in place (no table rebuild, which
            # would have to drop and re-point the keys that refer to this table)
            op.execute(f"ALTER TABLE standard_calibration ADD COLUMN {column} INTEGER "
                       "REFERENCES user_account (id)")
        else:
            op.add_column("standard_calibration", sa.Column(column, sa.Integer(),
                                                            nullable=True))
            op.create_foreign_key(f"standard_calibration_{column}_fkey",
                                  "standard_calibration", "user_account", [column], ["id"])


def downgrade() -> None:
    # standard_calibration has no triggers: rebuilding it (SQLite) drops its foreign keys
    with op.batch_alter_table("standard_calibration") as batch:
        batch.drop_column("reviewed_by_id")
        batch.drop_column("recorded_by_id")
        batch.drop_column("review_state")
    for table in ("certificate", "standard", "capability"):
        # in place (SQLite >= 3.35): a rebuild would drop the full-text triggers of 0002
        op.execute(f"ALTER TABLE {table} DROP COLUMN contributor_ids")
