"""covering indexes for the public search at national scale (PostgreSQL)

At 10^6 standards the page of a search was cheap to find but expensive to read: every
candidate row was fetched from the table to test the filters, or to sort it (a quantity and a
value: 15 000 table blocks for 6 000 matches; a frequent maker's name: the table read from
the start to count). Each index below holds, besides its keys, every column the search tests
or sorts by and the row's id, so the search finds a page's ids, and counts its matches up to
the cap, from the index alone (index-only scans, after the table's visibility map is set by
vacuum); only the page's rows are then read (``registry.search._page_ids``). Each replaces
the index with the same leading keys made by an earlier revision (0001, 0003), which the
covering one serves in full:

- ``ix_standard_search_cover`` / ``ix_capability_search_cover``: a quantity and a value in
  the range, the uncertainty tested and sorted on (was ``ix_*_search``);
- ``ix_standard_by_u_cover`` / ``ix_capability_by_u_cover``: the default order, with the
  text: a frequent free-text word walks the order and tests the text in the index, stopping
  after the page (was ``ix_*_by_u``);
- ``ix_standard_domain_u_cover``: a domain (and region, through the holder) in the default
  order, identifier included so the walk gives the whole order (was ``ix_standard_domain_u``,
  whose order stopped at the uncertainty);
- ``ix_standard_org_u``: an organisation's entries in the default order (its page 3 without
  sorting all of them).

A b-tree entry holds at most 2704 bytes: the text is kept to 2400 UTF-8 bytes (as
``registry.text`` now writes it; only a text of some 800 CJK characters was longer), and
any longer text already stored is shortened the same way before the indexes are built.

SQLite keeps the earlier indexes (it has no INCLUDE; its free text is an FTS5 table) and
gets ``ix_*_id_state`` (id, review state): a frequent word's matches, counted from FTS5 up
to the cap, are each checked for publication there rather than in the table's wide rows
(the count of a maker's name at 10^5 standards: 22-24 ms → 9-14 ms).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

U = ["uncertainty_relative_f", "uncertainty_absolute_f"]

#: (name, table, key columns, included columns): the covering indexes
COVERING: list[tuple[str, str, list[str], list[str]]] = [
    ("ix_standard_search_cover", "standard", ["quantity", "range_min_f"],
     ["range_max_f", *U, "review_state", "identifier", "id"]),
    ("ix_capability_search_cover", "capability", ["quantity", "range_min_f"],
     ["range_max_f", *U, "review_state", "id"]),
    ("ix_standard_by_u_cover", "standard", [*U, "identifier"],
     ["review_state", "search_text", "id"]),
    ("ix_capability_by_u_cover", "capability", [*U, "id"], ["review_state", "search_text"]),
    ("ix_standard_domain_u_cover", "standard", ["domain", "review_state", *U, "identifier"],
     ["organisation_id", "id"]),
    ("ix_standard_org_u", "standard", ["organisation_id", "review_state", *U, "identifier"],
     ["id"]),
]

#: (name, table, key columns): the indexes the covering ones replace on PostgreSQL
REPLACED: list[tuple[str, str, list[str]]] = [
    ("ix_standard_search", "standard", ["quantity", "range_min_f", "range_max_f"]),
    ("ix_capability_search", "capability", ["quantity", "range_min_f", "range_max_f"]),
    ("ix_standard_by_u", "standard", [*U, "identifier"]),
    ("ix_capability_by_u", "capability", [*U, "id"]),
    ("ix_standard_domain_u", "standard", ["domain", "review_state", *U, "organisation_id"]),
]


MAX_BYTES = 2400  # registry.text.MAX_BYTES when this revision was written


def _shorten_long_texts() -> None:
    bind = op.get_bind()
    for table in ("standard", "capability"):
        rows = bind.execute(sa.text(f"SELECT id, search_text FROM {table} "
                                    "WHERE octet_length(search_text) > :n"),
                            {"n": MAX_BYTES}).all()
        for row_id, text in rows:
            bind.execute(sa.text(f"UPDATE {table} SET search_text = :t WHERE id = :i"),
                         {"t": text.encode()[:MAX_BYTES].decode(errors="ignore"), "i": row_id})


#: SQLite: (name, table) of an index of each entry's id and review state. A frequent word's
#: matches are counted with FTS5 driving (``registry.search._counted``): each match's state
#: is looked up there instead of in the table's much larger rows.
SQLITE_STATE = [("ix_standard_id_state", "standard"), ("ix_capability_id_state", "capability")]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for name, table in SQLITE_STATE:
            op.create_index(name, table, ["id", "review_state"])
        return
    _shorten_long_texts()
    for name, table, keys, include in COVERING:
        op.create_index(name, table, keys, postgresql_include=include)
    for name, table, _ in REPLACED:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for name, table in SQLITE_STATE:
            op.drop_index(name, table_name=table)
        return
    for name, table, keys in REPLACED:
        op.create_index(name, table, keys)
    for name, table, _, _ in COVERING:
        op.drop_index(name, table_name=table)
