"""Organisations, users, roles, authorisations and stations (keyword-only services).

Every write checks the caller's role and scope, leaves one audit event and commits.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import Session, select

from labctl.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from labctl.platform import audit
from labctl.platform.auth import (
    Principal,
    authenticate_password,
    hash_password,
    issue_station_token,
    issue_user_token,
    require_role,
)
from labctl.platform.models.base import LEVEL_RANK, OrgLevel, Role
from labctl.platform.models.org import (
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
    for role in dict.fromkeys(data.roles):
        session.add(Membership(user_id=user.id, organisation_id=org.id, role=role.value,  # type: ignore[arg-type]
                               granted_by_id=principal.user_id))
    audit.record(session, actor=principal.actor, action="user.create", entity_type="user",
                 entity_id=user.username, organisation_id=org.id,
                 data={"organisation": org.code, "roles": [r.value for r in data.roles]})
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
    session.add(Membership(user_id=user.id, organisation_id=org.id, role=role.value,  # type: ignore[arg-type]
                           granted_by_id=principal.user_id))
    audit.record(session, actor=principal.actor, action="role.grant", entity_type="user",
                 entity_id=username, organisation_id=org.id,
                 data={"organisation": org.code, "role": role.value})
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
                 data={"organisation": org.code, "role": role.value})
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
                 data={"user": username, **data.model_dump(mode="json")})
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


def list_authorisations(session: Session, *, principal: Principal,
                        username: str) -> list[AuthorisationPublic]:
    user = user_by_username(session, username)
    rows = session.exec(select(Authorisation).where(Authorisation.user_id == user.id)
                        .order_by(Authorisation.id)).all()  # type: ignore[arg-type]
    if principal.user_id != user.id:
        for r in rows:
            require_role(session, principal, Role.ADMIN, r.organisation_id,
                         action="authorisation.read")
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
    token = issue_station_token(session, station=station)
    audit.record(session, actor=principal.actor, action="station.create", entity_type="station",
                 entity_id=str(station.id), organisation_id=org.id, data={"name": data.name})
    session.commit()
    assert station.id is not None
    return StationToken(station_id=station.id, name=station.name, organisation_code=org.code,
                        access_token=token)


def login(session: Session, *, username: str, password: str, lifetime: timedelta,
          read_session: Session | None = None) -> TokenPublic:
    """A bearer token for a username and password.

    With ``read_session`` the (deliberately slow) argon2 check runs there, so it never holds
    the write transaction (on SQLite: the database's single write lock).
    """
    user = authenticate_password(read_session or session, username=username, password=password)
    token, expires = issue_user_token(session, user=user, lifetime=lifetime)
    audit.record(session, actor=f"user:{user.username}", action="auth.login",
                 entity_type="user", entity_id=user.username)
    session.commit()
    return TokenPublic(access_token=token, expires_at=expires)


def create_admin(session: Session, *, username: str, password: str, full_name: str,
                 organisation_code: str, organisation_name: str,
                 level: OrgLevel = OrgLevel.NATIONAL, email: str = "",
                 country_code: str = "", region: str = "") -> User:
    """Bootstrap: the first superuser and the top-level organisation it administers.

    Refuses if the username exists. Creates the organisation if its code is new.
    """
    if len(password) < 10:
        raise ValidationError("password", "<hidden>", "at least 10 characters")
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
    session.add(Membership(user_id=user.id, organisation_id=org.id, role=Role.ADMIN.value))  # type: ignore[arg-type]
    audit.record(session, actor="system:cli", action="user.create_admin", entity_type="user",
                 entity_id=username, organisation_id=org.id, data={"organisation": org.code})
    session.commit()
    return user
