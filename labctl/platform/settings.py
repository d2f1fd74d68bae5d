"""Platform settings: where the database and the laboratory keys live, read from the environment.

``LABCTL_DATABASE_URL`` names the database (SQLAlchemy URL): ``sqlite:///path/labctl.db`` (the
embedded default, a file in the user's data directory) or
``postgresql+psycopg://user@host:5432/name``. ``LABCTL_KEYS_DIR`` is where each laboratory's
signing key and X.509 certificate are kept: outside the database rows they sign, so whoever
can edit a row cannot also re-sign it. ``LABCTL_PUBLIC_URL`` is the base URL printed in the
QR code of every certificate (it opens the public verification page).

Due notices are mailed through the SMTP server named by ``LABCTL_SMTP_HOST`` (with
``LABCTL_SMTP_PORT``, ``LABCTL_SMTP_USER``/``LABCTL_SMTP_PASSWORD`` when it wants a login,
``LABCTL_SMTP_FROM`` the sender, ``LABCTL_SMTP_TLS`` one of ``none``, ``starttls``, ``ssl``):
:meth:`SmtpConfig.from_env`. Without a host no e-mail is sent (notices stay on the portal).

``LABCTL_SCHEDULER`` (``on``/``off``) runs the background jobs (daily due notices, daily audit
checkpoints; ``labctl.platform.jobs``) in the server's workers, each period once across all of
them: off by default for a process built in code (tests, ``labctl demo``), on by default for
``labctl serve``. ``LABCTL_DUE_NOTICE_DAYS`` (default 30) is how far the due notices look ahead.
``labctl serve --workers N`` runs N worker processes: PostgreSQL only (SQLite is one process's
database), and not with ``LABCTL_BENCHES`` (benches a server drives live in one process).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import platformdirs

from labctl.errors import ValidationError

APP_NAME = "labctl"

#: How an SMTP connection is secured: none, STARTTLS after connecting, or TLS from the start.
SMTP_TLS = ("none", "starttls", "ssl")


def default_data_dir() -> Path:
    """The per-user data directory (``~/.local/share/labctl`` on Linux)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_database_url() -> str:
    """A SQLite file in the user's data directory: zero set-up, the embedded default."""
    return f"sqlite:///{default_data_dir() / 'labctl.db'}"


def on_off(name: str, text: str) -> bool:
    """A switch from the environment: on/off (also true/false, yes/no, 1/0), any case."""
    value = text.strip().lower()
    if value in ("on", "true", "yes", "1"):
        return True
    if value in ("off", "false", "no", "0"):
        return False
    raise ValidationError(name, text, "on or off")


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
    #: They live in one process's memory: a server with them runs one worker.
    benches_file: Path | None = None
    #: Run the background jobs (due notices, audit checkpoints: ``platform.jobs``) in this
    #: process, each period once across all workers (``LABCTL_SCHEDULER=on|off``). Off here
    #: (tests, ``labctl demo``, a process built in code); ``labctl serve`` turns it on unless
    #: ``LABCTL_SCHEDULER=off`` (e.g. when cron runs ``labctl notices run`` instead).
    scheduler: bool = False
    #: Seconds between the scheduler's looks at its jobs (0 < tick <= 3600).
    scheduler_tick: float = 60.0
    #: How far ahead the daily due notices look (days, 0-366; ``LABCTL_DUE_NOTICE_DAYS``).
    due_notice_days: int = 30

    def __post_init__(self) -> None:
        if not self.database_url.startswith(("sqlite", "postgresql")):
            raise ValidationError(
                "LABCTL_DATABASE_URL", self.database_url,
                "a sqlite:///… or postgresql+psycopg://… URL",
            )
        if not 0 < self.scheduler_tick <= 3600:  # also refuses NaN
            raise ValidationError("scheduler_tick", self.scheduler_tick, "0 < seconds <= 3600")
        if isinstance(self.due_notice_days, bool) or not isinstance(self.due_notice_days, int) \
                or not 0 <= self.due_notice_days <= 366:
            raise ValidationError("LABCTL_DUE_NOTICE_DAYS", self.due_notice_days,
                                  "a whole number of days, 0 to 366")

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
        if env.get("LABCTL_SCHEDULER"):
            kwargs["scheduler"] = on_off("LABCTL_SCHEDULER", env["LABCTL_SCHEDULER"])
        if env.get("LABCTL_DUE_NOTICE_DAYS"):
            text = env["LABCTL_DUE_NOTICE_DAYS"].strip()
            try:
                kwargs["due_notice_days"] = int(text)
            except ValueError:
                raise ValidationError("LABCTL_DUE_NOTICE_DAYS", text,
                                      "a whole number of days, 0 to 366") from None
        if env.get("LABCTL_MIGRATE_ON_START"):
            kwargs["migrate_on_start"] = on_off("LABCTL_MIGRATE_ON_START",
                                                env["LABCTL_MIGRATE_ON_START"])
        return cls(**kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how due notices are mailed (``LABCTL_SMTP_*``, see the module).

    ``timeout`` (seconds, 0 < t ≤ 120) bounds every connect, command and reply, so an SMTP
    server that stops answering cannot hang the daily job.
    """

    host: str
    port: int = 25
    sender: str = "labctl@localhost"
    tls: str = "none"  # one of SMTP_TLS
    user: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if not self.host:
            raise ValidationError("LABCTL_SMTP_HOST", self.host, "a host name or address")
        if not 0 < self.port < 65536:
            raise ValidationError("LABCTL_SMTP_PORT", self.port, "1 to 65535")
        if self.tls not in SMTP_TLS:
            raise ValidationError("LABCTL_SMTP_TLS", self.tls, " or ".join(SMTP_TLS))
        if "@" not in self.sender:
            raise ValidationError("LABCTL_SMTP_FROM", self.sender, "an e-mail address")
        if not 0 < self.timeout <= 120:  # also refuses NaN
            raise ValidationError("timeout", self.timeout, "0 < seconds <= 120")
        if bool(self.user) != bool(self.password):
            raise ValidationError("LABCTL_SMTP_USER", self.user,
                                  "user and password both set, or neither")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> SmtpConfig | None:
        """The configuration from ``LABCTL_SMTP_*``, or None when no host is set."""
        env = os.environ if environ is None else environ
        host = env.get("LABCTL_SMTP_HOST", "").strip()
        if not host:
            return None
        tls = env.get("LABCTL_SMTP_TLS", "none").strip().lower() or "none"
        default_port = {"none": 25, "starttls": 587, "ssl": 465}.get(tls, 25)
        port_text = env.get("LABCTL_SMTP_PORT", "").strip()
        try:
            port = int(port_text) if port_text else default_port
        except ValueError:
            raise ValidationError("LABCTL_SMTP_PORT", port_text, "1 to 65535") from None
        return cls(host=host, port=port, tls=tls,
                   sender=env.get("LABCTL_SMTP_FROM", "").strip() or f"labctl@{host}",
                   user=env.get("LABCTL_SMTP_USER", ""),
                   password=env.get("LABCTL_SMTP_PASSWORD", ""))
