"""indexes in the public search's default order (by uncertainty)

A free-text word that most entries contain ("fluke") leaves tens of thousands of rows; sorting
them all for one page of 20 cost 30-45 ms. With an index in the sort order the database walks
it and stops after the page's rows (each checked against the filters).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 05:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_standard_by_u", "standard",
                    ["uncertainty_relative_f", "uncertainty_absolute_f", "identifier"])
    op.create_index("ix_capability_by_u", "capability",
                    ["uncertainty_relative_f", "uncertainty_absolute_f", "id"])


def downgrade() -> None:
    op.drop_index("ix_capability_by_u", table_name="capability")
    op.drop_index("ix_standard_by_u", table_name="standard")
