"""Engines, sessions, column types and migrations for the platform database.

Nothing here runs at import time: :func:`make_engine` builds an engine from a URL when the app
(or a test, or the CLI) asks for one.

SQLite is the embedded default: WAL (readers never wait for the writer), foreign keys on, a
busy timeout, and every write transaction opened with ``BEGIN IMMEDIATE`` so two writers queue
for the lock instead of failing half-way (the audit hash chain needs its appends serialised).
Read-only work (public search) uses :func:`read_engine`, whose transactions stay deferred.
The SQLite file holds password hashes and token digests: it is created 0600 in a 0700
directory (SQLite gives its ``-wal`` and ``-shm`` files the main file's mode), and an existing
file readable by others is made private when an engine is built on it.
PostgreSQL is reached through psycopg 3 (``postgresql+psycopg://``); there the audit chain
serialises its appends with a transaction-scoped advisory lock.
"""

from __future__ import annotations

import enum
import logging
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from labctl.errors import ValidationError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_READONLY = "labctl_readonly"


# --- column types ------------------------------------------------------------------------


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    PostgreSQL keeps ``timestamptz``; SQLite keeps naive text, so values are converted to UTC
    before they are stored and read back with ``tzinfo=UTC``: the one place where naive
    datetimes are normalised. Naive input is refused (its zone would be a guess).
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValidationError("datetime", value.isoformat(), "a timezone-aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class DecimalText(sa.types.TypeDecorator[Decimal]):
    """An exact decimal stored as its text (``"10.000012"``), never as a binary float.

    SQLite has no exact decimal type; text keeps every digit the laboratory reported on both
    backends. Range queries use the float shadow columns next to these (see the models).
    """

    impl = sa.String(64)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> str | None:
        if value is None:
            return None
        try:
            d = value if isinstance(value, Decimal) else Decimal(str(value))
        except InvalidOperation:
            raise ValidationError("decimal", value, "a decimal number") from None
        if not d.is_finite():
            raise ValidationError("decimal", str(d), "a finite decimal number")
        return str(d)

    def process_result_value(self, value: str | None, dialect: sa.Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


def utcnow() -> datetime:
    """Now, timezone-aware UTC, microsecond resolution (what both backends keep)."""
    return datetime.now(UTC)


# --- what the two backends write differently ---------------------------------------------


def insert_or_ignore(session: Session | sa.Connection, model: Any) -> Any:
    """``INSERT`` into ``model``'s table in the backend's own dialect, whose
    ``on_conflict_do_nothing()`` lets writers racing to create the same row all succeed (one
    inserts, the others insert nothing)."""
    from sqlalchemy.dialects import postgresql, sqlite

    bind = session if isinstance(session, sa.Connection) else session.get_bind()
    name = bind.dialect.name
    return (postgresql.insert if name == "postgresql" else sqlite.insert)(model)


class LockClass(enum.IntEnum):
    """The classes of two-part advisory-lock keys, one place so no two uses share one.

    When a transaction takes several, it takes them in this order and the audit chain's
    lock (a one-part key, :mod:`labctl.platform.audit.trail`) last, so none waits on
    another in a cycle."""

    RUN_POSTING = 2  # posting a station's run (the key: its run id)
    NUMBERING = 1  # a laboratory's certificate numbers (the key: its id)
    CHECK_FILING = 3  # filing a standard's intermediate checks (the key: its id)


def advisory_xact_lock(session: Session | sa.Connection, *key: int | str) -> None:
    """PostgreSQL: wait for the transaction-scoped advisory lock ``key`` (one number, or a
    class and a number; a string is hashed by ``hashtext``), released at commit or rollback.
    SQLite: nothing (its write transaction, ``BEGIN IMMEDIATE``, serialises writers already).
    """
    if not 1 <= len(key) <= 2:
        raise ValueError("an advisory lock's key is one number or a class and a number")
    bind = session if isinstance(session, sa.Connection) else session.get_bind()
    if bind.dialect.name != "postgresql":
        return
    args = ", ".join(f"hashtext(:k{i})" if isinstance(k, str) else f":k{i}"
                     for i, k in enumerate(key))
    session.execute(sa.text(f"SELECT pg_advisory_xact_lock({args})"),
                    {f"k{i}": k for i, k in enumerate(key)})


# --- engines -------------------------------------------------------------------------------


def is_sqlite(url_or_engine: str | Engine) -> bool:
    url = url_or_engine if isinstance(url_or_engine, str) else str(url_or_engine.url)
    return url.startswith("sqlite")


def _private_sqlite_file(path: Path) -> None:
    """Create the database file 0600 (its directory 0700 if new), or make an existing one so.

    SQLite creates the ``-wal`` and ``-shm`` files with the main file's permissions, so a
    private main file keeps them private; those left by an older, world-readable database are
    tightened too. Only "group" and "other" bits are removed: the owner keeps what it had.
    """
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    for f in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = stat.S_IMODE(f.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            try:
                f.chmod(mode & 0o700)
            except PermissionError:  # another user's file: say so, SQLite will still open it
                log.warning("%s is readable by others (mode %o) and cannot be made private",
                            f, mode)
                continue
            log.warning("%s was readable by others (mode %o): made private (%o)", f, mode,
                        mode & 0o700)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` with the per-backend settings described in the module docstring."""
    if is_sqlite(url):
        sa_url = sa.make_url(url)
        path = sa_url.database
        if path and path != ":memory:" and not path.startswith("file:") and not (
            sa_url.query.get("uri")
        ):
            _private_sqlite_file(Path(path))
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" event decide how a transaction starts (see below).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: sa.Connection) -> None:
            readonly = conn.get_execution_options().get(_READONLY, False)
            conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return sa.create_engine(url, pool_pre_ping=True, **kwargs)


def read_engine(engine: Engine) -> Engine:
    """The same pool, for read-only transactions (deferred on SQLite, so they never queue)."""
    return engine.execution_options(**{_READONLY: True})


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that is rolled back if the block raises (services commit explicitly)."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise


# --- migrations ----------------------------------------------------------------------------


def alembic_config(engine_or_url: Engine | str) -> Any:
    """An alembic ``Config`` pointing at the migrations shipped inside the package."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    url = engine_or_url if isinstance(engine_or_url, str) else str(
        engine_or_url.url.render_as_string(hide_password=False)
    )
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


#: SQLite's free-text indexes: FTS5 trigram tables over ``search_text``, built by migration 0002
#: (the models cannot declare a virtual table), kept in step by triggers on the owner table.
SQLITE_FTS = {"standard": "standard_fts", "capability": "capability_fts"}
_FTS5_SHADOWS = ("", "_data", "_idx", "_docsize", "_content", "_config")


def schema_filter(dialect: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """alembic's ``include_object`` for comparing the models with a ``dialect`` database.

    Leaves out what the models cannot describe for that backend: SQLite's FTS5 tables (and
    the shadow tables FTS5 keeps for each), and indexes the models create on another
    backend only (``Index(...).ddl_if(dialect=...)``). Everything else is compared.
    """
    fts = {name + suffix for name in SQLITE_FTS.values() for suffix in _FTS5_SHADOWS}

    def include(obj: Any, name: str | None, type_: str, reflected: bool,
                compare_to: Any) -> bool:
        if type_ == "table" and reflected and dialect == "sqlite" and name in fts:
            return False
        only = getattr(obj, "_ddl_if", None)
        return not (type_ == "index" and only is not None and only.dialect is not None
                    and only.dialect != dialect)

    return include


#: The advisory lock (PostgreSQL) that lets one process at a time migrate: N API workers
#: starting together would otherwise each create the same tables and clash.
MIGRATION_LOCK_KEY = 0x6C6162_6D6967  # "lab" "mig"


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` with alembic (the real migrations, not ``create_all``).

    On PostgreSQL the migration's transaction first takes an advisory lock, so processes
    migrating at once (API workers starting together) go one after the other: the first
    upgrades, the others find the schema current and do nothing. (On SQLite the migration's
    ``BEGIN IMMEDIATE`` already serialises them.)"""
    from alembic import command

    cfg = alembic_config(engine)
    with engine.begin() as conn:
        advisory_xact_lock(conn, MIGRATION_LOCK_KEY)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def contains_pattern(text: str) -> str:
    """A ``LIKE`` pattern matching ``text`` anywhere, its own ``%``, ``_`` and ``\\`` taken
    literally (use with ``escape="\\"``)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
