"""Who is calling and what they may do: passwords, bearer tokens, roles and scope.

Passwords are argon2id-hashed (argon2-cffi defaults, RFC 9106 second recommendation). Bearer
tokens are 256-bit random secrets; only their SHA-256 is stored (a fast hash is right for
high-entropy secrets and keeps every request cheap). User tokens expire; station tokens live
until revoked.

Scope: a role held in an organisation applies to that organisation; the admin role also applies
to every organisation below it. The bootstrap superuser is admin everywhere. Technical roles
never come from admin: an administrator who also calibrates needs the technician role too
(ISO/IEC 17025 6.2.5 authorisations are given per person and function).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from labctl.errors import AuthenticationError, PermissionDeniedError
from labctl.platform.db import utcnow
from labctl.platform.models.base import Role
from labctl.platform.models.org import ApiToken, Membership, Organisation, Station, User

_hasher = PasswordHasher()
# Verifying against this keeps "no such user" as slow as "wrong password" (no user probing).
_DUMMY_HASH = _hasher.hash("labctl-no-such-user")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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


def issue_user_token(session: Session, *, user: User, lifetime: timedelta) -> tuple[str, datetime]:
    token = new_token()
    expires = utcnow() + lifetime
    session.add(ApiToken(token_hash=token_digest(token), user_id=user.id, expires_at=expires))
    return token, expires


def issue_station_token(session: Session, *, station: Station) -> str:
    token = new_token()
    session.add(ApiToken(token_hash=token_digest(token), station_id=station.id))
    return token


def principal_for_token(session: Session, token: str) -> Principal:
    """The caller behind a bearer token, or :class:`AuthenticationError` (HTTP 401)."""
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == token_digest(token))).first()
    now = utcnow()
    if row is None or row.revoked_at is not None or (
        row.expires_at is not None and row.expires_at <= now
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


def revoke_token(session: Session, token: str) -> None:
    """Revoke the presented token (logout; a station retiring its own token). Idempotent."""
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == token_digest(token))).first()
    if row is None:
        raise AuthenticationError("bearer token is unknown")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)


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
                                            f"{role.value!r} for organisation {code}")


def require_any_role(session: Session, principal: Principal, roles: tuple[Role, ...],
                     organisation_id: int, *, action: str) -> None:
    if not any(has_role(session, principal, r, organisation_id) for r in roles):
        org = session.get(Organisation, organisation_id)
        code = org.code if org else organisation_id
        names = ", ".join(r.value for r in roles)
        raise PermissionDeniedError(action, f"{principal.actor} holds none of the roles "
                                            f"({names}) for organisation {code}")


def require_user(principal: Principal, *, action: str) -> int:
    if principal.kind != "user" or principal.user_id is None:
        raise PermissionDeniedError(action, "only a person may do this, not a station")
    return principal.user_id
