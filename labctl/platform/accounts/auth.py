"""Who is calling and what they may do: passwords, bearer tokens, roles and scope.

Passwords are argon2id-hashed (argon2-cffi defaults, RFC 9106 second recommendation). Bearer
tokens are 256-bit random secrets; only their SHA-256 is stored (a fast hash is right for
high-entropy secrets and keeps every request cheap). Every token expires (users' after
``Settings.user_token_lifetime``, stations' after the 1-730 days set when issued) and can be
revoked; a token row without an expiry is refused (the platform never makes one).

Failed logins are counted per username (whether or not an account has it) and per client
address in the database (:class:`~labctl.platform.models.org.LoginThrottle`); past a limit
within a window further attempts are refused without looking at the password, until the lock
ends or an administrator unlocks. A successful login clears its username's count only (one
valid account must not reset an address that is guessing others' passwords).

Scope: a role held in an organisation applies to that organisation; the admin role also applies
to every organisation below it. The bootstrap superuser is admin everywhere. Technical roles
never come from admin: an administrator who also calibrates needs the technician role too
(ISO/IEC 17025 6.2.5 authorisations are given per person and function).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from argon2 import Parameters, PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select

from labctl.errors import (
    AuthenticationError,
    LoginLockedError,
    PermissionDeniedError,
    RateLimitedError,
    ValidationError,
)
from labctl.platform.db import insert_or_ignore, utcnow
from labctl.platform.models.base import Role
from labctl.platform.models.org import (
    PASSWORD_RULES,
    ApiToken,
    LoginThrottle,
    Membership,
    Organisation,
    Station,
    User,
)
from labctl.platform.settings import Settings

#: ``LABCTL_PASSWORD_HASHING``: the argon2id parameters new password hashes get. Stored hashes
#: carry their own parameters and verify whatever this says.
PASSWORD_HASHING: dict[str, Parameters] = {
    # RFC 9106's second recommendation (t=3, m=64 MiB, p=4), argon2-cffi's default
    "rfc9106-low-memory": profiles.RFC_9106_LOW_MEMORY,
    # a test suite's: t=1, m=8 KiB, a 4-byte hash -- never for real passwords
    "insecure-fast-for-tests": profiles.CHEAPEST,
}


def password_hasher(env: Mapping[str, str]) -> PasswordHasher:
    """The hasher ``LABCTL_PASSWORD_HASHING`` names (default ``rfc9106-low-memory``)."""
    name = env.get("LABCTL_PASSWORD_HASHING", "").strip() or "rfc9106-low-memory"
    if name not in PASSWORD_HASHING:
        raise ValidationError("LABCTL_PASSWORD_HASHING", name, " or ".join(PASSWORD_HASHING))
    return PasswordHasher.from_parameters(PASSWORD_HASHING[name])


_hasher = password_hasher(os.environ)
# Verifying against this keeps "no such user" as slow as "wrong password" (no user probing).
_DUMMY_HASH = _hasher.hash("labctl-no-such-user")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def needs_rehash(password_hash: str) -> bool:
    """Whether a stored hash was made with other parameters than ``LABCTL_PASSWORD_HASHING``
    names now (a sign-in then stores a new one: parameters raised later reach every account
    that signs in)."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return False  # not an argon2 hash at all: verify refuses it anyway


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def sha256_hex(text: str) -> str:
    """SHA-256 of ``text`` (UTF-8), in hex: what audit events record of a password hash or a
    token digest, so a cross-check can tell the stored row is the audited one."""
    return hashlib.sha256(text.encode()).hexdigest()


def token_digest(token: str) -> str:
    return sha256_hex(token)


def check_password(password: str, *, username: str, field: str = "password") -> None:
    """Refuse a weak password (:class:`ValidationError` naming ``field``, never the value).

    The rules (``PASSWORD_RULES``) follow NIST SP 800-63B's spirit: length over composition
    rules, and nothing guessable from the account itself.
    """
    problem = None
    if not password.strip():
        problem = "it is only whitespace"
    elif not 10 <= len(password) <= 256:
        problem = f"it has {len(password)} characters"
    elif len(set(password)) < 5:
        problem = f"it has only {len(set(password))} different characters"
    elif username and username.casefold() in password.casefold():
        problem = "it contains the username"
    if problem:
        raise ValidationError(field, "<hidden>", PASSWORD_RULES,
                              f"{field} refused: {problem}; expected {PASSWORD_RULES}")


def new_token() -> str:
    return "lct_" + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a user (with roles per organisation) or a station."""

    kind: str  # "user" | "station"
    id: int
    name: str  # username or station name
    roles: frozenset[tuple[int, Role]] = field(default_factory=frozenset)
    station_org_id: int | None = None
    is_superuser: bool = False

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.name}"

    @property
    def user_id(self) -> int | None:
        return self.id if self.kind == "user" else None


def authenticate_password(session: Session, *, username: str, password: str) -> User:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        verify_password(_DUMMY_HASH, password)
        raise AuthenticationError("unknown username or wrong password")
    if not verify_password(user.password_hash, password) or not user.is_active:
        raise AuthenticationError("unknown username or wrong password")
    return user


def issue_token(session: Session, *, lifetime: timedelta, user: User | None = None,
                station: Station | None = None) -> tuple[str, ApiToken]:
    """A new bearer token for ``user`` or for a bench's ``station`` (exactly one), expiring
    after ``lifetime`` (bounded by the caller): the secret, shown once, and its flushed row."""
    if (user is None) == (station is None):
        raise ValueError("a token is for a user or for a station")
    token = new_token()
    row = ApiToken(token_hash=token_digest(token), user_id=user.id if user else None,
                   station_id=station.id if station else None,
                   expires_at=utcnow() + lifetime)
    session.add(row)
    session.flush()
    return token, row


def token_event_data(row: ApiToken) -> dict[str, Any]:
    """What an audit event records of a token: enough to explain its row, never the secret."""
    return {"token_id": row.id, "token_hash_sha256": sha256_hex(row.token_hash),
            "user_id": row.user_id, "station_id": row.station_id,
            "expires_at": row.expires_at.isoformat() if row.expires_at else None}


def revoke_tokens(session: Session, *, user_id: int | None = None,
                  station_id: int | None = None, keep_hash: str | None = None) -> list[int]:
    """Revoke every live token of a user or a station (but ``keep_hash``); their ids."""
    assert (user_id is None) != (station_id is None)
    query = select(ApiToken).where(col(ApiToken.revoked_at).is_(None))
    query = query.where(ApiToken.user_id == user_id) if user_id is not None else query.where(
        ApiToken.station_id == station_id)
    now = utcnow()
    ids = []
    for row in session.exec(query.order_by(col(ApiToken.id))).all():
        if row.token_hash == keep_hash or (row.expires_at is not None and row.expires_at <= now):
            continue
        row.revoked_at = now
        session.add(row)
        assert row.id is not None
        ids.append(row.id)
    return ids


def principal_for_token(session: Session, token: str) -> Principal:
    """The caller behind a bearer token, or :class:`AuthenticationError` (HTTP 401)."""
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == token_digest(token))).first()
    now = utcnow()
    if row is None or row.revoked_at is not None or row.expires_at is None or (
        row.expires_at <= now
    ):
        raise AuthenticationError("bearer token is unknown, revoked or expired")
    if row.station_id is not None:
        station = session.get(Station, row.station_id)
        assert station is not None and station.id is not None
        return Principal(kind="station", id=station.id, name=f"{station.id}:{station.name}",
                         station_org_id=station.organisation_id)
    user = session.get(User, row.user_id)
    if user is None or not user.is_active or user.id is None:
        raise AuthenticationError("the token's user is disabled")
    return principal_for_user(session, user)


def revoke_token(session: Session, token: str) -> ApiToken:
    """Revoke the presented token (logout; a station retiring its own token). Idempotent."""
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == token_digest(token))).first()
    if row is None:
        raise AuthenticationError("bearer token is unknown")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
    return row


# --- login throttling ------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginPolicy:
    """How many failed logins lock a username or an address, within what window, how long."""

    limit: int = 5
    address_limit: int = 50
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginPolicy:
        """The platform's configured policy (the API's token route and the pages' sign-in)."""
        return cls(limit=settings.login_failure_limit,
                   address_limit=settings.login_address_failure_limit,
                   window=settings.login_failure_window, lockout=settings.login_lockout)


def _throttle_keys(username: str | None, address: str | None) -> list[tuple[str, str]]:
    keys = []
    if username:
        keys.append(("username", username))
    if address:
        keys.append(("address", address))
    return keys


def check_login_lock(session: Session, *, username: str | None, address: str | None) -> None:
    """Raise :class:`LoginLockedError` if the username or the address is locked now."""
    now = utcnow()
    until = None
    for scope, key in _throttle_keys(username, address):
        row = session.exec(select(LoginThrottle).where(
            LoginThrottle.scope == scope, LoginThrottle.key == key)).first()
        if row is not None and row.locked_until is not None and row.locked_until > now:
            until = row.locked_until if until is None else max(until, row.locked_until)
    if until is not None:
        seconds = max(1, int((until - now).total_seconds() + 0.999))
        raise LoginLockedError(
            f"login locked after too many failed attempts: try again after "
            f"{until.isoformat(timespec='seconds')} ({seconds} s), or ask an administrator "
            "to unlock it", locked_until=until, retry_after=seconds)


def _throttle_row(session: Session, scope: str, key: str, now: datetime) -> LoginThrottle:
    """The row for (scope, key), created if missing, locked for update where the backend can."""
    query = select(LoginThrottle).where(LoginThrottle.scope == scope,
                                        LoginThrottle.key == key).with_for_update()
    row = session.exec(query).first()
    if row is not None:
        return row
    values = {"scope": scope, "key": key, "failures": 0, "window_start": now,
              "last_failure_at": now}
    # two first failures at once: one inserts, the other finds the row (no unique violation)
    session.execute(insert_or_ignore(session, LoginThrottle).values(**values)
                    .on_conflict_do_nothing())
    return session.exec(query).one()


def count_registration(session: Session, *, address: str | None, limit: int,
                       window: timedelta) -> None:
    """Count one self-registration from ``address`` in the caller's transaction (so a refused
    registration, rolled back, does not count); past ``limit`` within ``window`` raise
    :class:`RateLimitedError` before anything is written. Kept in the same table as the login
    throttle (scope ``register``), so the limit holds across restarts and workers."""
    if not address:
        return
    now = utcnow()
    row = _throttle_row(session, "register", address, now)
    if row.window_start <= now - window:
        row.failures, row.window_start = 0, now
    if row.failures >= limit:
        until = row.window_start + window
        seconds = max(1, int((until - now).total_seconds() + 0.999))
        session.rollback()
        raise RateLimitedError(
            f"{limit} registrations from this address within {window}: try again after "
            f"{until.isoformat(timespec='seconds')} ({seconds} s)", retry_after=seconds)
    row.failures += 1
    row.last_failure_at = now
    # "kept until": the login throttle's clean-up leaves a row alone until this has passed
    row.locked_until = row.window_start + window
    session.add(row)


def count_login_failure(session: Session, *, username: str | None, address: str | None,
                        policy: LoginPolicy) -> dict[str, Any]:
    """Count one failed login for the username and the address; lock those at their limit.

    Writes inside the caller's transaction. Returns what the audit event records.
    """
    now = utcnow()
    out: dict[str, Any] = {"address": address, "locked_until": None}
    for scope, key in _throttle_keys(username, address):
        limit = policy.limit if scope == "username" else policy.address_limit
        row = _throttle_row(session, scope, key, now)
        if row.window_start <= now - policy.window and not (
            row.locked_until is not None and row.locked_until > now
        ):
            row.failures, row.window_start, row.locked_until = 0, now, None
        row.failures += 1
        row.last_failure_at = now
        if row.failures >= limit:
            row.locked_until = now + policy.lockout
            out["locked_until"] = max(filter(None, (out["locked_until"], row.locked_until)))
            out.setdefault("locked", []).append(scope)
        out[f"{scope}_failures"] = row.failures
        session.add(row)
    # forget what can no longer lock anyone (keeps the table to the last window's guesses)
    horizon = now - max(policy.window, policy.lockout)
    session.execute(sa.delete(LoginThrottle).where(
        col(LoginThrottle.last_failure_at) < horizon,
        sa.or_(col(LoginThrottle.locked_until).is_(None),
               col(LoginThrottle.locked_until) < now)))
    if out["locked_until"] is not None:
        out["locked_until"] = out["locked_until"].isoformat()
    return out


def clear_login_failures(session: Session, *, username: str | None = None,
                         address: str | None = None) -> list[dict[str, Any]]:
    """Delete the counts (and locks) of a username and/or an address; what was deleted."""
    gone = []
    for scope, key in _throttle_keys(username, address):
        row = session.exec(select(LoginThrottle).where(
            LoginThrottle.scope == scope, LoginThrottle.key == key)).first()
        if row is not None:
            gone.append({"scope": scope, "key": key, "failures": row.failures,
                         "locked_until": row.locked_until.isoformat()
                         if row.locked_until else None})
            session.delete(row)
    return gone


def principal_for_user(session: Session, user: User) -> Principal:
    assert user.id is not None
    roles = session.exec(
        select(Membership.organisation_id, Membership.role).where(Membership.user_id == user.id)
    ).all()
    return Principal(kind="user", id=user.id, name=user.username,
                     roles=frozenset((org, Role(role)) for org, role in roles),
                     is_superuser=user.is_superuser)


def ancestors(session: Session, organisation_id: int) -> list[int]:
    """The organisation and every organisation above it, nearest first."""
    chain: list[int] = []
    current: int | None = organisation_id
    while current is not None and current not in chain:
        chain.append(current)
        current = session.exec(
            select(Organisation.parent_id).where(Organisation.id == current)
        ).first()
    return chain


def has_role(session: Session, principal: Principal, role: Role, organisation_id: int) -> bool:
    """Whether ``principal`` holds ``role`` for ``organisation_id`` (admins: also below)."""
    if principal.kind != "user":
        return False
    if role is Role.ADMIN:
        if principal.is_superuser:
            return True
        above = ancestors(session, organisation_id)
        return any((org, Role.ADMIN) in principal.roles for org in above)
    return (organisation_id, role) in principal.roles


def require_role(session: Session, principal: Principal, role: Role, organisation_id: int,
                 *, action: str) -> None:
    """Raise :class:`PermissionDeniedError` (HTTP 403) unless the principal holds the role."""
    if not has_role(session, principal, role, organisation_id):
        org = session.get(Organisation, organisation_id)
        code = org.code if org else organisation_id
        raise PermissionDeniedError(action, f"{principal.actor} does not hold role "
                                            f"{role.value!r} for organisation {code}", rule="role")


def require_any_role(session: Session, principal: Principal, roles: tuple[Role, ...],
                     organisation_id: int, *, action: str) -> None:
    if not any(has_role(session, principal, r, organisation_id) for r in roles):
        org = session.get(Organisation, organisation_id)
        code = org.code if org else organisation_id
        names = ", ".join(r.value for r in roles)
        raise PermissionDeniedError(action, f"{principal.actor} holds none of the roles "
                                            f"({names}) for organisation {code}", rule="role")


def require_user(principal: Principal, *, action: str) -> int:
    if principal.kind != "user" or principal.user_id is None:
        raise PermissionDeniedError(action, "only a person may do this, not a station",
                                    rule="station")
    return principal.user_id
