"""Organisations, users, roles, authorisations and stations (keyword-only services).

Every write checks the caller's role and scope, leaves one audit event and commits. The
events carry what a later cross-check needs to explain each row: the SHA-256 of a stored
password hash, a token's id, the SHA-256 of its stored digest and its expiry, the token ids a
revocation ended (never a password or a token).

A person's organisations are those they hold a role or an authorisation in; an administrator
"over" a person administers every one of them (so an administrator below cannot lock out
someone who also works above), and only the superuser manages a superuser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session, col, select

from labctl.errors import (
    AuthenticationError,
    ConflictError,
    LoginLockedError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from labctl.platform import audit
from labctl.platform.accounts.auth import (
    LoginPolicy,
    Principal,
    authenticate_password,
    check_login_lock,
    check_password,
    clear_login_failures,
    count_login_failure,
    has_role,
    hash_password,
    issue_token,
    needs_rehash,
    require_role,
    require_user,
    revoke_tokens,
    sha256_hex,
    token_digest,
    token_event_data,
    verify_password,
)
from labctl.platform.db import utcnow
from labctl.platform.models.base import LEVEL_RANK, OrgLevel, Role
from labctl.platform.models.org import (
    ApiToken,
    Authorisation,
    AuthorisationCreate,
    AuthorisationPublic,
    Membership,
    MembershipPublic,
    Organisation,
    OrganisationCreate,
    OrganisationPublic,
    Station,
    StationCreate,
    StationToken,
    StationTokenCreate,
    TokenPublic,
    User,
    UserCreate,
    UserPublic,
)


def org_by_code(session: Session, code: str) -> Organisation:
    org = session.exec(select(Organisation).where(Organisation.code == code)).first()
    if org is None:
        raise NotFoundError("organisation", code)
    return org


def org_code(session: Session, organisation_id: int | None) -> str | None:
    if organisation_id is None:
        return None
    org = session.get(Organisation, organisation_id)
    return org.code if org else None


def user_by_username(session: Session, username: str) -> User:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFoundError("user", username)
    return user


def organisation_public(session: Session, org: Organisation) -> OrganisationPublic:
    return OrganisationPublic(
        code=org.code, name=org.name, level=OrgLevel(org.level),
        parent_code=org_code(session, org.parent_id), region=org.region,
        country_code=org.country_code, accreditation=org.accreditation,
    )


def user_public(session: Session, user: User) -> UserPublic:
    rows = session.exec(
        select(Organisation.code, Membership.role)
        .join(Organisation, Organisation.id == Membership.organisation_id)  # type: ignore[arg-type]
        .where(Membership.user_id == user.id)
        .order_by(Organisation.code, Membership.role)
    ).all()
    return UserPublic(
        username=user.username, full_name=user.full_name, email=user.email,
        is_active=user.is_active,
        roles=[MembershipPublic(organisation_code=c, role=Role(r)) for c, r in rows],
    )


def _user_event_data(user: User) -> dict[str, Any]:
    return {"user_id": user.id, "full_name": user.full_name, "email": user.email,
            "is_active": user.is_active, "is_superuser": user.is_superuser,
            "password_hash_sha256": sha256_hex(user.password_hash)}


def user_organisation_ids(session: Session, user_id: int) -> set[int]:
    """The organisations a person holds a role or an authorisation in."""
    orgs = set(session.exec(select(Membership.organisation_id)
                            .where(Membership.user_id == user_id)).all())
    orgs |= set(session.exec(select(Authorisation.organisation_id)
                             .where(Authorisation.user_id == user_id)).all())
    return orgs


def require_admin_over(session: Session, principal: Principal, user: User, *,
                       action: str) -> None:
    """403 unless the caller administers every organisation of ``user`` (see module doc)."""
    if principal.is_superuser:
        return
    assert user.id is not None
    if user.is_superuser:
        raise PermissionDeniedError(action, "only the superuser manages the superuser")
    orgs = user_organisation_ids(session, user.id)
    if not orgs:
        raise PermissionDeniedError(action, f"{user.username} belongs to no organisation: "
                                            "only the superuser manages them")
    for org_id in sorted(orgs):
        require_role(session, principal, Role.ADMIN, org_id, action=action)


def _check_unique_code(session: Session, code: str) -> None:
    if session.exec(select(Organisation.id).where(Organisation.code == code)).first():
        raise ConflictError(f"organisation code {code!r} is already taken")


def create_organisation(session: Session, *, principal: Principal,
                        data: OrganisationCreate) -> Organisation:
    """A new organisation below ``data.parent_code`` (admins of the parent, or above).

    A top-level organisation (no parent) may be created only by the superuser. A child is never
    higher in the hierarchy than its parent.
    """
    parent: Organisation | None = None
    if data.parent_code is None:
        if not principal.is_superuser:
            raise PermissionDeniedError("organisation.create",
                                        "only the superuser creates top-level organisations")
    else:
        parent = org_by_code(session, data.parent_code)
        assert parent.id is not None
        require_role(session, principal, Role.ADMIN, parent.id, action="organisation.create")
        if LEVEL_RANK[data.level] < LEVEL_RANK[OrgLevel(parent.level)]:
            raise ValidationError("level", data.level.value,
                                  f"no higher than the parent's level {parent.level!r}")
    _check_unique_code(session, data.code)
    org = Organisation(
        code=data.code, name=data.name, level=data.level.value,
        parent_id=parent.id if parent else None, region=data.region,
        country_code=data.country_code, address=data.address, accreditation=data.accreditation,
    )
    session.add(org)
    session.flush()
    audit.record(session, actor=principal.actor, action="organisation.create",
                 entity_type="organisation", entity_id=org.code, organisation_id=org.id,
                 data=data.model_dump(mode="json"))
    session.commit()
    return org


def create_user(session: Session, *, principal: Principal, organisation_code: str,
                data: UserCreate) -> User:
    """A person in an organisation, with initial roles there (admins of it, or above)."""
    check_password(data.password, username=data.username)
    # argon2 first: ~0.1 s that must not be spent inside the write transaction
    password_hash = hash_password(data.password)
    org = org_by_code(session, organisation_code)
    assert org.id is not None
    require_role(session, principal, Role.ADMIN, org.id, action="user.create")
    if session.exec(select(User.id).where(User.username == data.username)).first():
        raise ConflictError(f"username {data.username!r} is already taken")
    user = User(username=data.username, full_name=data.full_name, email=data.email,
                password_hash=password_hash)
    session.add(user)
    session.flush()
    memberships = [Membership(user_id=user.id, organisation_id=org.id, role=role.value,  # type: ignore[arg-type]
                              granted_by_id=principal.user_id)
                   for role in dict.fromkeys(data.roles)]
    session.add_all(memberships)
    session.flush()
    audit.record(session, actor=principal.actor, action="user.create", entity_type="user",
                 entity_id=user.username, organisation_id=org.id,
                 data={"organisation": org.code, "roles": [r.value for r in data.roles],
                       "membership_ids": [m.id for m in memberships],
                       **_user_event_data(user)})
    session.commit()
    return user


def grant_role(session: Session, *, principal: Principal, username: str, organisation_code: str,
               role: Role) -> None:
    org = org_by_code(session, organisation_code)
    assert org.id is not None
    require_role(session, principal, Role.ADMIN, org.id, action="role.grant")
    user = user_by_username(session, username)
    exists = session.exec(select(Membership.id).where(
        Membership.user_id == user.id, Membership.organisation_id == org.id,
        Membership.role == role.value)).first()
    if exists:
        raise ConflictError(f"{username} already holds {role.value!r} in {org.code}")
    row = Membership(user_id=user.id, organisation_id=org.id, role=role.value,  # type: ignore[arg-type]
                     granted_by_id=principal.user_id)
    session.add(row)
    session.flush()
    audit.record(session, actor=principal.actor, action="role.grant", entity_type="user",
                 entity_id=username, organisation_id=org.id,
                 data={"organisation": org.code, "role": role.value, "membership_id": row.id,
                       "user_id": user.id})
    session.commit()


def revoke_role(session: Session, *, principal: Principal, username: str, organisation_code: str,
                role: Role) -> None:
    org = org_by_code(session, organisation_code)
    assert org.id is not None
    require_role(session, principal, Role.ADMIN, org.id, action="role.revoke")
    user = user_by_username(session, username)
    row = session.exec(select(Membership).where(
        Membership.user_id == user.id, Membership.organisation_id == org.id,
        Membership.role == role.value)).first()
    if row is None:
        raise NotFoundError("role", f"{username}/{org.code}/{role.value}")
    session.delete(row)
    audit.record(session, actor=principal.actor, action="role.revoke", entity_type="user",
                 entity_id=username, organisation_id=org.id,
                 data={"organisation": org.code, "role": role.value, "membership_id": row.id,
                       "user_id": user.id})
    session.commit()


def add_authorisation(session: Session, *, principal: Principal, username: str,
                      organisation_code: str, data: AuthorisationCreate) -> Authorisation:
    """Authorise a person to calibrate ``quantity`` (by ``procedure``) between two dates."""
    org = org_by_code(session, organisation_code)
    assert org.id is not None
    require_role(session, principal, Role.ADMIN, org.id, action="authorisation.create")
    if data.valid_until < data.valid_from:
        raise ValidationError("valid_until", data.valid_until.isoformat(),
                              f"on or after valid_from {data.valid_from.isoformat()}")
    user = user_by_username(session, username)
    row = Authorisation(user_id=user.id, organisation_id=org.id, quantity=data.quantity,  # type: ignore[arg-type]
                        procedure=data.procedure, valid_from=data.valid_from,
                        valid_until=data.valid_until, granted_by_id=principal.user_id)
    session.add(row)
    session.flush()
    audit.record(session, actor=principal.actor, action="authorisation.create",
                 entity_type="authorisation", entity_id=str(row.id), organisation_id=org.id,
                 data={"user": username, "user_id": user.id, **data.model_dump(mode="json")})
    session.commit()
    return row


def authorisation_public(session: Session, row: Authorisation) -> AuthorisationPublic:
    user = session.get(User, row.user_id)
    assert row.id is not None and user is not None
    return AuthorisationPublic(
        id=row.id, username=user.username,
        organisation_code=org_code(session, row.organisation_id) or "",
        quantity=row.quantity, procedure=row.procedure, valid_from=row.valid_from,
        valid_until=row.valid_until,
    )


#: Who may read a person's authorisations in an organisation, besides the person: its
#: administrators (and those above), and the staff who check and issue the work it authorises.
AUTHORISATION_READERS = (Role.ADMIN, Role.CHECKER, Role.APPROVER)


def list_authorisations(session: Session, *, principal: Principal,
                        username: str) -> list[AuthorisationPublic]:
    """A person's authorisations, as far as the caller may see them.

    The person sees all of theirs; others see those in the organisations where they hold one
    of ``AUTHORISATION_READERS`` over the person. Anyone else (a station included) gets the
    same 404 as for a username that does not exist: usernames cannot be enumerated here.
    """
    user = user_by_username(session, username)
    assert user.id is not None
    rows = session.exec(select(Authorisation).where(Authorisation.user_id == user.id)
                        .order_by(col(Authorisation.id))).all()
    if principal.kind != "user" or principal.user_id != user.id:
        visible = {org for org in user_organisation_ids(session, user.id)
                   if any(has_role(session, principal, role, org)
                          for role in AUTHORISATION_READERS)}
        if not visible:
            raise NotFoundError("user", username)
        rows = [r for r in rows if r.organisation_id in visible]
    return [authorisation_public(session, r) for r in rows]


def is_authorised(session: Session, *, user_id: int, organisation_id: int, quantity: str,
                  procedure: str, on: date) -> bool:
    """Whether the person held an authorisation for the quantity/procedure on that day."""
    rows = session.exec(select(Authorisation).where(
        Authorisation.user_id == user_id, Authorisation.organisation_id == organisation_id,
        Authorisation.quantity == quantity)).all()
    return any(r.valid_from <= on <= r.valid_until and r.procedure in ("", procedure)
               for r in rows)


def create_station(session: Session, *, principal: Principal, organisation_code: str,
                   data: StationCreate) -> StationToken:
    """A bench that posts results; the token is shown once (only its hash is kept)."""
    org = org_by_code(session, organisation_code)
    assert org.id is not None
    require_role(session, principal, Role.ADMIN, org.id, action="station.create")
    station = Station(organisation_id=org.id, name=data.name, created_by_id=principal.user_id)
    session.add(station)
    session.flush()
    token, row = issue_token(session, station=station,
                                     lifetime=timedelta(days=data.valid_days))
    audit.record(session, actor=principal.actor, action="station.create", entity_type="station",
                 entity_id=str(station.id), organisation_id=org.id,
                 data={"name": data.name, **token_event_data(row)})
    session.commit()
    assert station.id is not None and row.expires_at is not None
    return StationToken(station_id=station.id, name=station.name, organisation_code=org.code,
                        access_token=token, expires_at=row.expires_at)


def _station(session: Session, principal: Principal, station_id: int, *,
             action: str) -> Station:
    station = session.get(Station, station_id)
    if station is None:
        raise NotFoundError("station", station_id)
    require_role(session, principal, Role.ADMIN, station.organisation_id, action=action)
    return station


def administered_station(session: Session, principal: Principal, station_id: int, *,
                         action: str) -> Station:
    """The station, if the caller administers its organisation (404 if there is none, else
    403): what a page asks before it shows or hands out anything of a station's."""
    return _station(session, principal, station_id, action=action)


@dataclass(frozen=True)
class StationState:
    """A station as its administrators see it: its tokens are never shown again, only how
    many are live and until when the last one runs."""

    station: Station
    organisation_code: str
    live_tokens: int
    expires_at: datetime | None


def list_stations(session: Session, principal: Principal) -> list[StationState]:
    """The stations of every organisation the caller administers (and those below), by
    organisation and name."""
    now = utcnow()
    out = []
    orgs = {o.id: o for o in session.exec(select(Organisation)).all()}
    for station in session.exec(select(Station).order_by(col(Station.organisation_id),
                                                         col(Station.name))).all():
        if not has_role(session, principal, Role.ADMIN, station.organisation_id):
            continue
        live = [t for t in session.exec(select(ApiToken).where(
            ApiToken.station_id == station.id, col(ApiToken.revoked_at).is_(None))).all()
            if t.expires_at is not None and t.expires_at > now]
        org = orgs.get(station.organisation_id)
        out.append(StationState(station, org.code if org else "", len(live),
                                max((t.expires_at for t in live if t.expires_at),
                                    default=None)))
    return out


def new_station_token(session: Session, *, principal: Principal, station_id: int,
                      data: StationTokenCreate) -> StationToken:
    """Another token for a bench (its old ones stay valid until they expire or are revoked:
    revoke them once the bench uses the new one)."""
    station = _station(session, principal, station_id, action="station.token")
    token, row = issue_token(session, station=station,
                                     lifetime=timedelta(days=data.valid_days))
    audit.record(session, actor=principal.actor, action="station.token", entity_type="station",
                 entity_id=str(station_id), organisation_id=station.organisation_id,
                 data=token_event_data(row))
    session.commit()
    assert row.expires_at is not None
    return StationToken(station_id=station_id, name=station.name,
                        organisation_code=org_code(session, station.organisation_id) or "",
                        access_token=token, expires_at=row.expires_at)


def revoke_station_tokens(session: Session, *, principal: Principal, station_id: int) -> list[int]:
    """Revoke every live token of a bench (administrators of its organisation, or above)."""
    station = _station(session, principal, station_id, action="station.revoke_tokens")
    ids = revoke_tokens(session, station_id=station_id)
    audit.record(session, actor=principal.actor, action="station.revoke_tokens",
                 entity_type="station", entity_id=str(station_id),
                 organisation_id=station.organisation_id, data={"token_ids": ids})
    session.commit()
    return ids


def login(session: Session, *, username: str, password: str, lifetime: timedelta,
          read_session: Session | None = None, address: str | None = None,
          policy: LoginPolicy | None = None) -> TokenPublic:
    """A bearer token for a username and password.

    A locked username or client ``address`` is refused (:class:`LoginLockedError`) before the
    password is looked at. A failure is counted (and audited) whether or not the username
    exists, with the same answer and about the same time either way. With ``read_session``
    the (deliberately slow) argon2 check runs there, so it never holds the write transaction
    (on SQLite: the database's single write lock).
    """
    reader = read_session or session
    check_login_lock(reader, username=username, address=address)
    try:
        user = authenticate_password(reader, username=username, password=password)
    except AuthenticationError:
        if read_session is not None:
            read_session.rollback()  # end the read transaction before queueing for the write
        record_login_failure(session, username=username, address=address, policy=policy)
        raise
    # hashed with other parameters than the server's now: store a new hash (made here, with
    # the password at hand and outside the write transaction); the event records it
    rehashed = hash_password(password) if needs_rehash(user.password_hash) else None
    clear_login_failures(session, username=username)
    if rehashed is not None:
        stored = session.get(User, user.id)
        if stored is not None and stored.password_hash == user.password_hash:
            stored.password_hash = rehashed
            session.add(stored)
        else:  # changed meanwhile (a password change): leave that one
            rehashed = None
    token, row = issue_token(session, user=user, lifetime=lifetime)
    audit.record(session, actor=f"user:{user.username}", action="auth.login",
                 entity_type="user", entity_id=user.username,
                 data={"address": address, **token_event_data(row),
                       **({"password_rehashed": True, "password_hash_sha256":
                           sha256_hex(rehashed)} if rehashed is not None else {})})
    session.commit()
    return TokenPublic(access_token=token, expires_at=row.expires_at)


def record_login_failure(session: Session, *, username: str | None, address: str | None,
                         policy: LoginPolicy | None = None) -> str | None:
    """Count and audit one failed login; the lock's end (ISO text) if it now locks."""
    data = count_login_failure(session, username=username, address=address,
                               policy=policy or LoginPolicy())
    audit.record(session, actor="anonymous", action="auth.login_failed", entity_type="user",
                 entity_id=username or "", data=data)
    session.commit()
    return data["locked_until"]  # type: ignore[no-any-return]


def unlock_login(session: Session, *, actor: str, username: str | None = None,
                 address: str | None = None, reason: str = "") -> list[dict[str, Any]]:
    """Lift the failed-login count and lock of a username and/or a client address (audited).

    For the command line and for :func:`unlock_user`; the caller has checked who may.
    """
    if not username and not address:
        raise ValidationError("username", "", "a username or a client address to unlock")
    gone = clear_login_failures(session, username=username, address=address)
    audit.record(session, actor=actor, action="auth.unlock",
                 entity_type="user" if username else "address",
                 entity_id=username or address or "", reason=reason,
                 data={"username": username, "address": address, "cleared": gone})
    session.commit()
    return gone


def unlock_user(session: Session, *, principal: Principal, username: str) -> None:
    """An administrator over the person lifts their login lock."""
    user = user_by_username(session, username)
    require_admin_over(session, principal, user, action="user.unlock")
    unlock_login(session, actor=principal.actor, username=username)


def set_user_active(session: Session, *, principal: Principal, username: str,
                    active: bool) -> None:
    """Deactivate (tokens revoked at once, no login) or reactivate a person (audited).

    Reactivation does not bring old tokens back: the person logs in again.
    """
    user = user_by_username(session, username)
    action = "user.activate" if active else "user.deactivate"
    require_admin_over(session, principal, user, action=action)
    if not active and principal.kind == "user" and principal.user_id == user.id:
        raise ValidationError("username", username, "another person (administrators cannot "
                              "deactivate themselves)")
    ids = [] if active else revoke_tokens(session, user_id=user.id)
    user.is_active = active
    session.add(user)
    audit.record(session, actor=principal.actor, action=action, entity_type="user",
                 entity_id=username, data={"user_id": user.id, "is_active": active,
                                           "revoked_token_ids": ids})
    session.commit()


def revoke_user_tokens(session: Session, *, principal: Principal, username: str) -> list[int]:
    """End every session of a person (a lost laptop, a leaked token)."""
    user = user_by_username(session, username)
    if principal.user_id != user.id:
        require_admin_over(session, principal, user, action="user.revoke_tokens")
    ids = revoke_tokens(session, user_id=user.id)
    audit.record(session, actor=principal.actor, action="user.revoke_tokens",
                 entity_type="user", entity_id=username,
                 data={"user_id": user.id, "token_ids": ids})
    session.commit()
    return ids


def change_password(session: Session, *, principal: Principal, token: str,
                    current_password: str, new_password: str,
                    read_session: Session | None = None, address: str | None = None,
                    policy: LoginPolicy | None = None) -> list[int]:
    """The calling person's new password; their other tokens are revoked (this one is kept).

    Ending the other sessions is the point of a change after a suspected leak. A wrong
    current password counts as a failed login (a stolen token cannot guess the password).
    Returns the revoked token ids.
    """
    user_id = require_user(principal, action="user.password")
    reader = read_session or session
    user = reader.get(User, user_id)
    assert user is not None
    try:
        check_login_lock(reader, username=user.username, address=address)
    except LoginLockedError as exc:
        raise ValidationError("current_password", "<hidden>", "your current password",
                              str(exc)) from None
    if not verify_password(user.password_hash, current_password):
        if read_session is not None:
            read_session.rollback()
        record_login_failure(session, username=user.username, address=address, policy=policy)
        raise ValidationError("current_password", "<hidden>", "your current password",
                              "current_password is wrong")
    check_password(new_password, username=user.username, field="new_password")
    if new_password == current_password:
        raise ValidationError("new_password", "<hidden>", "a password other than the current")
    new_hash = hash_password(new_password)
    if read_session is not None:
        read_session.rollback()
    row = session.get(User, user_id)
    assert row is not None
    row.password_hash = new_hash
    session.add(row)
    ids = revoke_tokens(session, user_id=user_id, keep_hash=token_digest(token))
    audit.record(session, actor=principal.actor, action="user.password_change",
                 entity_type="user", entity_id=row.username,
                 data={"user_id": user_id, "password_hash_sha256": sha256_hex(new_hash),
                       "revoked_token_ids": ids})
    session.commit()
    return ids


def create_admin(session: Session, *, username: str, password: str, full_name: str,
                 organisation_code: str, organisation_name: str,
                 level: OrgLevel = OrgLevel.NATIONAL, email: str = "",
                 country_code: str = "", region: str = "") -> User:
    """Bootstrap: the first superuser and the top-level organisation it administers.

    Refuses if the username exists. Creates the organisation if its code is new.
    """
    check_password(password, username=username)
    password_hash = hash_password(password)
    if session.exec(select(User.id).where(User.username == username)).first():
        raise ConflictError(f"username {username!r} is already taken")
    org = session.exec(select(Organisation).where(Organisation.code == organisation_code)).first()
    if org is None:
        OrganisationCreate(code=organisation_code, name=organisation_name, level=level,
                           country_code=country_code, region=region)  # validates the fields
        org = Organisation(code=organisation_code, name=organisation_name, level=level.value,
                           country_code=country_code, region=region)
        session.add(org)
        session.flush()
    user = User(username=username, full_name=full_name, email=email,
                password_hash=password_hash, is_superuser=True)
    session.add(user)
    session.flush()
    membership = Membership(user_id=user.id, organisation_id=org.id, role=Role.ADMIN.value)  # type: ignore[arg-type]
    session.add(membership)
    session.flush()
    audit.record(session, actor="system:cli", action="user.create_admin", entity_type="user",
                 entity_id=username, organisation_id=org.id,
                 data={"organisation": org.code, "roles": [Role.ADMIN.value],
                       "membership_ids": [membership.id],
                       **_user_event_data(user)})
    session.commit()
    return user


# --- self-registration of customers ---------------------------------------------------------

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.@-]{3,64}$")


@dataclass(frozen=True)
class CustomerRegistration:
    """What a person from a company states to open a customer account (the portal's
    registration form): their organisation and themselves."""

    organisation_name: str
    address: str
    contact_name: str
    email: str
    username: str
    password: str
    country_code: str = ""


def _registration_field(value: str, field: str, low: int, high: int) -> str:
    text = value.strip()
    if not low <= len(text) <= high:
        raise ValidationError(field, text[:120], f"{low} to {high} characters",
                              f"{field}: {low} to {high} characters")
    return text


def customer_parent(session: Session) -> Organisation:
    """The organisation self-registered customers are placed below: the platform's root
    (the national institute that heads the hierarchy; the first created if several).

    A customer's organisation is a leaf that only holds certificates issued to it and its
    orders, so it belongs to no laboratory; under the root its people are administered by
    the platform's administrators, who can deactivate an abusive account."""
    root = session.exec(select(Organisation).where(col(Organisation.parent_id).is_(None))
                        .order_by(col(Organisation.id))).first()
    if root is None:
        raise ConflictError("the platform has no organisations yet: registration opens "
                            "once an administrator has set it up")
    return root


def _new_customer_code(session: Session) -> str:
    """``C`` and a number: organisation names may be in any script, codes are ASCII."""
    count = len(session.exec(select(Organisation.id)).all())
    n = count + 1
    while session.exec(select(Organisation.id).where(Organisation.code == f"C{n:05d}")).first():
        n += 1
    return f"C{n:05d}"


def register_customer(session: Session, *, data: CustomerRegistration) -> User:
    """Self-registration: a customer organisation (level ``industry``, below
    :func:`customer_parent`) and its first person, holding the ``customer`` role there.

    The account is usable at once: a customer may only book, follow their own orders,
    complain, evaluate and read what was issued to their organisation, so there is nothing
    for an administrator to approve first (a laboratory reviews every order before work).
    Every field is checked before the first write (a refusal names the field: ``username``
    taken is a :class:`ValidationError` on ``username`` so the form says it next to the
    field); organisation, person and role are one transaction and one audit event.
    """
    org_name = _registration_field(data.organisation_name, "organisation_name", 1, 200)
    address = _registration_field(data.address, "address", 0, 500)
    contact = _registration_field(data.contact_name, "contact_name", 1, 200)
    username = data.username.strip()
    if not USERNAME_PATTERN.fullmatch(username):
        raise ValidationError("username", username[:120],
                              "3 to 64 letters, digits or . _ @ -")
    email_text = data.email.strip()
    try:
        email = validate_email(email_text, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValidationError("email", email_text[:120], "an e-mail address",
                              f"email: {exc}") from None
    if len(email) > 200:
        raise ValidationError("email", email[:120], "at most 200 characters")
    country = data.country_code.strip().upper()
    if country and not re.fullmatch(r"[A-Z]{2}", country):
        raise ValidationError("country_code", country[:120], "two letters (ISO 3166), or empty")
    check_password(data.password, username=username)
    if session.exec(select(User.id).where(User.username == username)).first():
        raise ValidationError("username", username, "a username nobody has yet",
                              f"username {username!r} is already taken")
    password_hash = hash_password(data.password)  # argon2 outside any write lock
    parent = customer_parent(session)
    org = Organisation(code=_new_customer_code(session), name=org_name,
                       level=OrgLevel.INDUSTRY.value, parent_id=parent.id,
                       country_code=country, address=address)
    session.add(org)
    session.flush()
    user = User(username=username, full_name=contact, email=email,
                password_hash=password_hash)
    session.add(user)
    session.flush()
    membership = Membership(user_id=user.id, organisation_id=org.id,  # type: ignore[arg-type]
                            role=Role.CUSTOMER.value)
    session.add(membership)
    session.flush()
    audit.record(session, actor=f"user:{username}", action="customer.register",
                 entity_type="organisation", entity_id=org.code, organisation_id=org.id,
                 reason="self-registration",
                 data={"organisation": {"code": org.code, "name": org_name,
                                        "level": org.level, "parent": parent.code,
                                        "address": address, "country_code": country},
                       "username": username, "roles": [Role.CUSTOMER.value],
                       "membership_ids": [membership.id], **_user_event_data(user)})
    session.commit()
    return user
