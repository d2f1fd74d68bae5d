"""free-text search by substring: trigram indexes replace the word-prefix term tables

PostgreSQL: the pg_trgm extension (trusted since PostgreSQL 13: the database owner may create
it) and a GIN trigram index on ``standard.search_text`` and ``capability.search_text``, which
answers ``search_text LIKE '%word%'``.

SQLite: an FTS5 table with the trigram tokenizer over each ``search_text`` (external content:
the text stays in the owner table only), case-sensitive because the text is stored lower-cased
and the query words are lower-cased the same way, so ``GLOB '*word*'`` on it matches exactly
what PostgreSQL's ``LIKE`` matches. Triggers keep it in step with every insert, update and
delete, whatever the writer; rows written before this revision are indexed here.

A later migration that rebuilds ``standard`` or ``capability`` on SQLite (alembic batch mode
copies the table and drops the old one, and its triggers with it) must create the triggers
again: ``tests/platform/test_registry.py`` checks the index follows writes at head.

The term tables were derived from ``search_text`` and are dropped; a downgrade rebuilds them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 04:30:00
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: owner table → (FTS5 table on SQLite, owner key column of the old term table)
TABLES = {"standard": ("standard_fts", "standard_id"),
          "capability": ("capability_fts", "capability_id")}


def _sqlite_fts(table: str, fts: str) -> list[str]:
    delete = (f"INSERT INTO {fts}({fts}, rowid, search_text) "
              "VALUES ('delete', old.id, old.search_text);")
    insert = f"INSERT INTO {fts}(rowid, search_text) VALUES (new.id, new.search_text);"
    return [
        # columnsize=0: no per-row size table (no ranking is asked of it)
        f"CREATE VIRTUAL TABLE {fts} USING fts5(search_text, content='{table}', "
        "content_rowid='id', tokenize='trigram case_sensitive 1', columnsize=0)",
        f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN {insert} END",
        f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN {delete} END",
        f"CREATE TRIGGER {fts}_update AFTER UPDATE OF id, search_text ON {table} "
        f"BEGIN {delete} {insert} END",
        f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
    ]


#: FTS5's trigram tokenizer came with SQLite 3.34.0.
SQLITE_TRIGRAM = (3, 34, 0)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    else:
        version = op.get_bind().execute(sa.text("SELECT sqlite_version()")).scalar_one()
        if tuple(int(v) for v in str(version).split(".")[:3]) < SQLITE_TRIGRAM:
            raise RuntimeError(
                f"the SQLite library Python uses is {version}; free-text search needs FTS5 "
                f"with the trigram tokenizer, SQLite >= {'.'.join(map(str, SQLITE_TRIGRAM))}: "
                "use a newer Python / SQLite build, or PostgreSQL (LABCTL_DATABASE_URL)")
    for table, (fts, _) in TABLES.items():
        if dialect == "postgresql":
            op.create_index(f"ix_{table}_search_text_trgm", table, ["search_text"],
                            postgresql_using="gin",
                            postgresql_ops={"search_text": "gin_trgm_ops"})
        else:
            for statement in _sqlite_fts(table, fts):
                op.execute(statement)
        op.drop_table(f"{table}_term")


_SPLIT = re.compile(r"[^\w.]+")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table, (fts, owner) in TABLES.items():
        term = op.create_table(
            f"{table}_term",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column(owner, sa.Integer(), nullable=False),
            sa.Column("term", sa.String(length=64), nullable=False),
            sa.ForeignKeyConstraint([owner], [f"{table}.id"]),
            sa.PrimaryKeyConstraint("id"),
        )
        ops = {"term": "text_pattern_ops"}
        op.create_index(f"ix_{table}_term_owner", f"{table}_term", [owner, "term"],
                        postgresql_ops=ops)
        op.create_index(f"ix_{table}_term_term", f"{table}_term", ["term", owner],
                        postgresql_ops=ops)
        rows = op.get_bind().execute(sa.text(f"SELECT id, search_text FROM {table}")).all()
        words = [{owner: i, "term": w} for i, text in rows
                 for w in dict.fromkeys(w[:64] for w in _SPLIT.split(text.lower()) if w)]
        if words:
            op.bulk_insert(term, words)
        if dialect == "postgresql":
            op.drop_index(f"ix_{table}_search_text_trgm", table_name=table,
                          postgresql_using="gin")
        else:
            for suffix in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER {fts}_{suffix}")
            op.execute(f"DROP TABLE {fts}")
