"""What processes outside the server do to the platform's database: the command line's
``labctl admin create``, ``labctl admin unlock``, ``labctl audit verify / checkpoint /
baseline``, ``labctl db upgrade``, and ``labctl run`` delivering into the embedded database.

Each takes the database URL, defaulting to :class:`~labctl.platform.settings.Settings` from
the environment (``LABCTL_DATABASE_URL``, else a SQLite file in the user's data directory),
and migrates the database first. Audit events written here are sealed with the platform's
audit key, as the server's are (:func:`open_platform`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from labctl.errors import ValidationError
from labctl.platform import audit, db
from labctl.platform.accounts.organisations import create_admin as _create
from labctl.platform.accounts.organisations import unlock_login as _unlock
from labctl.platform.audit import use_key
from labctl.platform.db import make_engine, read_engine
from labctl.platform.documents.check_report import check_report_pdf
from labctl.platform.documents.signing import SigningIdentity
from labctl.platform.jobs import PLATFORM_JOBS, job_runs
from labctl.platform.models.audit import AuditVerification
from labctl.platform.models.base import OrgLevel
from labctl.platform.models.jobs import JobRun
from labctl.platform.models.quality import StandardChecks
from labctl.platform.notices import DueRun, SendReport, daily_due_notices, send_pending
from labctl.platform.quality import check_report, standard_checks
from labctl.platform.settings import Settings, SmtpConfig

__all__ = ["audit_baseline", "audit_checkpoint", "create_admin", "job_history",
           "migrate_database", "open_platform", "run_due_notices", "unlock_login",
           "verify_audit"]


def _url(database_url: str | None) -> str:
    return database_url or Settings.from_env().database_url


def _keys_dir(keys_dir: str | Path | None) -> str | Path:
    return keys_dir if keys_dir is not None else Settings.from_env().keys_dir


@contextmanager
def open_platform(database_url: str | None = None, *, keys_dir: str | Path | None = None,
                  migrate: bool = True) -> Iterator[tuple[sa.Engine, SigningIdentity]]:
    """The platform's database (migrated first, unless ``migrate`` is False) as a process
    outside the server writes to it: every audit event written through the engine is sealed
    with the audit key from ``keys_dir`` (default ``LABCTL_KEYS_DIR``), as the server's are.
    Yields the engine and the audit identity; disposes of the engine on the way out."""
    engine = make_engine(_url(database_url))
    try:
        if migrate:
            db.migrate(engine)
        yield engine, use_key(engine, _keys_dir(keys_dir))
    finally:
        engine.dispose()


def migrate_database(database_url: str | None = None) -> None:
    """Bring the database schema to the newest alembic revision."""
    engine = make_engine(_url(database_url))
    try:
        db.migrate(engine)
    finally:
        engine.dispose()


def create_admin(*, username: str, password: str, full_name: str, organisation_code: str,
                 organisation_name: str, level: str = "national", country_code: str = "",
                 email: str = "", database_url: str | None = None,
                 keys_dir: str | Path | None = None) -> None:
    """Create the first superuser and the top-level organisation it administers.

    Raises :class:`~labctl.errors.ConflictError` if the username exists and
    :class:`~labctl.errors.ValidationError` for a short password or a bad code / level.
    """


    try:
        org_level = OrgLevel(level)
    except ValueError:
        raise ValidationError("level", level, ", ".join(lv.value for lv in OrgLevel)) from None
    with open_platform(database_url, keys_dir=keys_dir) as (engine, _), Session(engine) as session:
        _create(session, username=username, password=password, full_name=full_name,
                organisation_code=organisation_code, organisation_name=organisation_name,
                level=org_level, email=email, country_code=country_code)


def verify_audit(database_url: str | None = None, *, keys_dir: str | Path | None = None,
                 checkpoints: Sequence[tuple[str, dict[str, Any]]] = (),
                 checkpoint_if_clean: bool = False) -> AuditVerification:
    """Check the audit trail: the hash chain, the events' seals, every row of the checked
    tables against the events that wrote it, and the signed checkpoints (stored, and the
    exported ``checkpoints`` given as ``(name, document)``). ``.ok`` False says what is wrong.

    ``checkpoint_if_clean``: when everything holds, sign the head as a new checkpoint
    (``.new_checkpoint_id``). ``keys_dir``: the platform keys (default ``LABCTL_KEYS_DIR``).
    """


    keys = _keys_dir(keys_dir)
    engine = make_engine(_url(database_url))
    try:
        with Session(read_engine(engine)) as session:
            result = audit.verify(session, keys_dir=keys, checkpoint_files=checkpoints)
        if result.ok and checkpoint_if_clean and result.head_id is not None:
            identity = audit.use_key(engine, keys)
            with Session(engine) as session:
                row = audit.make_checkpoint(session, identity, created_by="system:verify")
                result = result.model_copy(update={"new_checkpoint_id": row.id})
        return result
    finally:
        engine.dispose()


def audit_checkpoint(database_url: str | None = None, *, keys_dir: str | Path | None = None
                     ) -> dict[str, Any]:
    """Sign the audit chain's head now with the platform's audit key, store the checkpoint
    and return its exportable form (keep a copy outside the database)."""


    with (open_platform(database_url, keys_dir=keys_dir, migrate=False) as (engine, identity),
          Session(engine, expire_on_commit=False) as session):
        return audit.checkpoint_json(audit.make_checkpoint(session, identity))


def audit_baseline(database_url: str | None = None, *, reason: str, actor: str = "system:cli",
                   tables: Sequence[str] | None = None,
                   keys_dir: str | Path | None = None) -> dict[str, int]:
    """Adopt the rows of the checked tables that no audit event explains (once per table:
    after upgrading a database whose events predate the row cross-check), in sealed
    ``audit.baseline`` events with the reason. ``{table: rows adopted}``."""


    with open_platform(database_url, keys_dir=keys_dir) as (engine, _), Session(engine) as session:
        return audit.baseline(session, actor=actor, reason=reason, tables=tables)


def unlock_login(*, username: str | None = None, address: str | None = None,
                 reason: str = "", database_url: str | None = None,
                 keys_dir: str | Path | None = None) -> list[dict[str, object]]:
    """Lift the failed-login lock of a username and/or a client address (audited as
    ``system:cli``, sealed like the server's events: whoever can run this can also edit the
    database). What was cleared."""


    with open_platform(database_url, keys_dir=keys_dir) as (engine, _), Session(engine) as session:
        return _unlock(session, actor="system:cli", username=username, address=address,
                       reason=reason)


def standard_checks_report(identifier: str, database_url: str | None = None
                           ) -> StandardChecks:
    """A standard's checks per point, evaluated, with its drift and events (``labctl
    checks``: reading the database on the platform's own machine, no sign-in)."""
    engine = make_engine(_url(database_url))
    try:
        with Session(engine) as session:
            return standard_checks(session, identifier, None)
    finally:
        engine.dispose()


def standard_check_report_pdf(identifier: str, database_url: str | None = None) -> bytes:
    """``labctl checks --pdf``: the standard's check report as a PDF (the platform's own
    database, no sign-in)."""
    engine = make_engine(_url(database_url))
    try:
        with Session(engine) as session:
            return check_report_pdf(check_report(session, identifier, None,
                                                 produced_by="labctl checks"))
    finally:
        engine.dispose()


def run_due_notices(database_url: str | None = None, *, today: date, within_days: int,
                    smtp: SmtpConfig | None, send: bool = True,
                    ) -> tuple[DueRun, SendReport | None]:
    """``labctl notices run``: write the day's due notices, then (``send`` and an SMTP
    configuration given) mail every pending one, the earlier days' failures included."""
    with open_platform(database_url) as (engine, _), Session(engine) as session:
        run = daily_due_notices(session, today, within_days)
        report = send_pending(session, smtp) if send and smtp is not None else None
    return run, report


def job_history(database_url: str | None = None, *, job: str | None = None,
                limit: int = 20) -> list[JobRun]:
    """``labctl jobs``: the newest runs of the background jobs (of ``job`` if given, one of
    the platform's), newest period first, each with its worker, outcome or error."""
    names = [j.name for j in PLATFORM_JOBS]
    if job is not None and job not in names:
        raise ValidationError("--job", job, " or ".join(names))
    if isinstance(limit, bool) or not 1 <= limit <= 1000:
        raise ValidationError("--limit", limit, "1 to 1000")
    engine = make_engine(_url(database_url))
    try:
        return job_runs(engine, job=job, limit=limit)
    finally:
        engine.dispose()
