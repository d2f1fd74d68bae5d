"""Platform settings: where the database and the laboratory keys live, read from the environment.

``LABCTL_DATABASE_URL`` names the database (SQLAlchemy URL): ``sqlite:///path/labctl.db`` (the
embedded default, a file in the user's data directory) or
``postgresql+psycopg://user@host:5432/name``. ``LABCTL_KEYS_DIR`` is where each laboratory's
signing key and X.509 certificate are kept: outside the database rows they sign, so whoever
can edit a row cannot also re-sign it. ``LABCTL_PUBLIC_URL`` is the base URL printed in the
QR code of every certificate (it opens the public verification page).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import platformdirs

from labctl.errors import ValidationError

APP_NAME = "labctl"


def default_data_dir() -> Path:
    """The per-user data directory (``~/.local/share/labctl`` on Linux)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_database_url() -> str:
    """A SQLite file in the user's data directory: zero set-up, the embedded default."""
    return f"sqlite:///{default_data_dir() / 'labctl.db'}"


@dataclass(frozen=True)
class Settings:
    """Everything the platform needs to run; build with :meth:`from_env` or directly in tests."""

    database_url: str = field(default_factory=default_database_url)
    keys_dir: Path = field(default_factory=lambda: default_data_dir() / "keys")
    public_url: str = "http://127.0.0.1:8000"  # no trailing slash
    #: How long a user's bearer token is valid (a station's: set when it is issued, 1-730 d).
    user_token_lifetime: timedelta = timedelta(hours=12)
    #: Failed logins for one username within ``login_failure_window`` that lock it.
    login_failure_limit: int = 5
    #: Failed logins from one client address (any usernames) within the window that lock it:
    #: higher than the per-user limit, as a whole laboratory may sit behind one address.
    login_address_failure_limit: int = 50
    login_failure_window: timedelta = timedelta(minutes=15)
    #: How long a lock lasts unless an administrator unlocks sooner.
    login_lockout: timedelta = timedelta(minutes=15)
    #: Customer self-registrations (``/register``) from one client address within
    #: ``registration_window``: a person registers once; a script filling the registry with
    #: organisations is stopped (HTTP 429), a laboratory's colleagues behind one address not.
    registration_limit: int = 10
    registration_window: timedelta = timedelta(hours=1)
    #: Run ``alembic upgrade head`` when the app starts (off when an operator migrates by hand).
    migrate_on_start: bool = True
    #: Benches this server runs calibrations on (``LABCTL_BENCHES``; see platform.benches).
    benches_file: Path | None = None

    def __post_init__(self) -> None:
        if not self.database_url.startswith(("sqlite", "postgresql")):
            raise ValidationError(
                "LABCTL_DATABASE_URL", self.database_url,
                "a sqlite:///… or postgresql+psycopg://… URL",
            )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Settings from ``LABCTL_*`` environment variables, defaults for the rest."""
        env = os.environ if environ is None else environ
        kwargs: dict[str, object] = {}
        if env.get("LABCTL_DATABASE_URL"):
            kwargs["database_url"] = env["LABCTL_DATABASE_URL"]
        if env.get("LABCTL_KEYS_DIR"):
            kwargs["keys_dir"] = Path(env["LABCTL_KEYS_DIR"])
        if env.get("LABCTL_PUBLIC_URL"):
            kwargs["public_url"] = env["LABCTL_PUBLIC_URL"].rstrip("/")
        if env.get("LABCTL_BENCHES"):
            kwargs["benches_file"] = Path(env["LABCTL_BENCHES"])
        if env.get("LABCTL_MIGRATE_ON_START"):
            kwargs["migrate_on_start"] = env["LABCTL_MIGRATE_ON_START"].lower() not in (
                "0", "false", "no",
            )
        return cls(**kwargs)  # type: ignore[arg-type]
