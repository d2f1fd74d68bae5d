"""accounts: login throttling table; every station token gets an expiry

Failed logins are counted per username and per client address in ``login_throttle`` (the lock
must hold across restarts and between workers, so it lives in the database). Station tokens
were issued without an expiry; a token without one is now refused, so those issued before
this revision are given one year from the upgrade (the longest a new one may have is two).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 15:30:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("scope", "key"),
    )
    expires = datetime.now(UTC) + timedelta(days=365)
    if op.get_bind().dialect.name == "sqlite":
        expires = expires.replace(tzinfo=None)  # SQLite keeps naive UTC (db.UTCDateTime)
    token = sa.table("api_token", sa.column("station_id", sa.Integer()),
                     sa.column("expires_at", sa.DateTime(timezone=True)))
    op.execute(token.update()
               .where(token.c.station_id.is_not(None), token.c.expires_at.is_(None))
               .values(expires_at=expires))


def downgrade() -> None:
    op.drop_table("login_throttle")
