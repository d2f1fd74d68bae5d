"""status labels and due notices: a standard's restrictions, the notice outbox

``standard.restrictions`` (its limits of use, printed on its label; NULL for none, so rows
audited before stay explained) and ``notice`` (the due-notice outbox: one message per day,
laboratory and responsible person, its delivery state). The notice rows are checked by the
audit trail (``audit.CHECKED``); a database upgraded to this revision has none to adopt.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ALTER TABLE (not a batch copy): a copy of "standard" on SQLite would drop the
    # full-text search triggers 0002 put on it
    op.add_column("standard", sa.Column("restrictions", sa.String(length=300), nullable=True))
    op.create_table(
        "notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("standard_ids", sa.JSON(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisation.id"]),
        sa.ForeignKeyConstraint(["recipient_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )
    op.create_index("ix_notice_organisation_id", "notice", ["organisation_id"])
    op.create_index("ix_notice_recipient_id", "notice", ["recipient_id"])


def downgrade() -> None:
    op.drop_index("ix_notice_recipient_id", table_name="notice")
    op.drop_index("ix_notice_organisation_id", table_name="notice")
    op.drop_table("notice")
    op.drop_column("standard", "restrictions")  # SQLite >= 3.35 drops a column in place
