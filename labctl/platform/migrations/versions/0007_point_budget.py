"""a posted point's degrees of freedom and uncertainty budget

``result_point.dof``: the effective degrees of freedom of the point's U (null: infinite);
``result_point.budget``: its uncertainty budget as posted (JSON lines, numbers as exact
decimal text; null: none posted). Both nullable: points posted before stay as they were.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("result_point", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dof", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("budget", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("result_point", schema=None) as batch_op:
        batch_op.drop_column("budget")
        batch_op.drop_column("dof")
