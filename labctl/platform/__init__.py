"""The calibration platform: storage, registry, traceability, certificates, workflows.

Functions for the command line (``labctl admin create``, ``labctl audit verify``,
``labctl db upgrade``); ``labctl serve`` uses :func:`labctl.api.serve`. Each takes the database
URL, defaulting to :class:`~labctl.platform.settings.Settings` from the environment
(``LABCTL_DATABASE_URL``, else a SQLite file in the user's data directory), and migrates the
database first. Heavy imports stay inside the functions so ``import labctl.platform`` is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labctl.platform.models.audit import AuditVerification

__all__ = ["create_admin", "migrate_database", "unlock_login", "verify_audit"]


def _url(database_url: str | None) -> str:
    from labctl.platform.settings import Settings

    return database_url or Settings.from_env().database_url


def migrate_database(database_url: str | None = None) -> None:
    """Bring the database schema to the newest alembic revision."""
    from labctl.platform.db import make_engine, migrate

    engine = make_engine(_url(database_url))
    try:
        migrate(engine)
    finally:
        engine.dispose()


def create_admin(*, username: str, password: str, full_name: str, organisation_code: str,
                 organisation_name: str, level: str = "national", country_code: str = "",
                 email: str = "", database_url: str | None = None) -> None:
    """Create the first superuser and the top-level organisation it administers.

    Raises :class:`~labctl.errors.ConflictError` if the username exists and
    :class:`~labctl.errors.ValidationError` for a short password or a bad code / level.
    """
    from sqlmodel import Session

    from labctl.errors import ValidationError
    from labctl.platform.db import make_engine, migrate
    from labctl.platform.models.base import OrgLevel
    from labctl.platform.organisations import create_admin as _create

    try:
        org_level = OrgLevel(level)
    except ValueError:
        raise ValidationError("level", level, ", ".join(lv.value for lv in OrgLevel)) from None
    engine = make_engine(_url(database_url))
    try:
        migrate(engine)
        with Session(engine) as session:
            _create(session, username=username, password=password, full_name=full_name,
                    organisation_code=organisation_code, organisation_name=organisation_name,
                    level=org_level, email=email, country_code=country_code)
    finally:
        engine.dispose()


def verify_audit(database_url: str | None = None) -> AuditVerification:
    """Recompute the audit hash chain; ``.ok`` False names the first tampered event."""
    from sqlmodel import Session

    from labctl.platform.audit import verify_chain
    from labctl.platform.db import make_engine, read_engine

    engine = make_engine(_url(database_url))
    try:
        with Session(read_engine(engine)) as session:
            return verify_chain(session)
    finally:
        engine.dispose()


def unlock_login(*, username: str | None = None, address: str | None = None,
                 reason: str = "", database_url: str | None = None) -> list[dict[str, object]]:
    """Lift the failed-login lock of a username and/or a client address (audited as
    ``system:cli``: whoever can run this can also edit the database). What was cleared."""
    from sqlmodel import Session

    from labctl.platform.db import make_engine, migrate
    from labctl.platform.organisations import unlock_login as _unlock

    engine = make_engine(_url(database_url))
    try:
        migrate(engine)
        with Session(engine) as session:
            return _unlock(session, actor="system:cli", username=username, address=address,
                           reason=reason)
    finally:
        engine.dispose()
