"""Routes: tokens, organisations, users, roles, authorisations, stations, audit verification."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from labctl.errors import PermissionDeniedError
from labctl.platform import audit, auth, organisations
from labctl.platform.auth import require_user
from labctl.platform.db import read_engine
from labctl.platform.models.audit import AuditVerification
from labctl.platform.models.base import Role
from labctl.platform.models.org import (
    AuthorisationCreate,
    AuthorisationPublic,
    Organisation,
    OrganisationCreate,
    OrganisationPublic,
    RoleGrant,
    StationCreate,
    StationToken,
    TokenPublic,
    TokenRequest,
    User,
    UserCreate,
    UserPublic,
)
from labctl.platform.routes.deps import (
    AUTHED,
    PUBLIC,
    R401,
    R422,
    WRITE,
    PrincipalDep,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
    bearer,
    get_engine,
)

router = APIRouter(prefix="/api/v1")


@router.post("/auth/token", response_model=TokenPublic, tags=["auth"],
             responses={**R401, **R422})
def create_token(body: TokenRequest, session: SessionDep, read_session: ReadSessionDep,
                 settings: SettingsDep) -> TokenPublic:
    """Exchange a username and password for a bearer token (expires)."""
    return organisations.login(session, username=body.username, password=body.password,
                               lifetime=settings.user_token_lifetime, read_session=read_session)


@router.delete("/auth/token", status_code=204, tags=["auth"], responses={**R401, **R422})
def revoke_token(principal: PrincipalDep, session: SessionDep,
                 credentials: Annotated[HTTPAuthorizationCredentials | None,
                                        Depends(bearer)]) -> Response:
    """Revoke the bearer token this request carries (logout, or a station retiring its key)."""
    assert credentials is not None  # get_principal already refused a missing token
    auth.revoke_token(session, credentials.credentials)
    audit.record(session, actor=principal.actor, action="auth.revoke", entity_type=principal.kind,
                 entity_id=principal.name)
    session.commit()
    return Response(status_code=204)


@router.get("/users/me", response_model=UserPublic, tags=["users"], responses=AUTHED)
def read_me(principal: PrincipalDep, session: ReadSessionDep) -> UserPublic:
    """The calling user with their roles per organisation."""
    user_id = require_user(principal, action="users.me")
    user = session.get(User, user_id)
    assert user is not None
    return organisations.user_public(session, user)


@router.get("/organisations", response_model=list[OrganisationPublic], tags=["organisations"],
            responses=PUBLIC)
def list_organisations(session: ReadSessionDep) -> list[OrganisationPublic]:
    """Every organisation of the hierarchy (public)."""
    rows = session.exec(select(Organisation).order_by(Organisation.code)).all()
    return [organisations.organisation_public(session, o) for o in rows]


@router.get("/organisations/{code}", response_model=OrganisationPublic, tags=["organisations"],
            responses=PUBLIC)
def read_organisation(code: str, session: ReadSessionDep) -> OrganisationPublic:
    """One organisation (public)."""
    return organisations.organisation_public(session, organisations.org_by_code(session, code))


@router.post("/organisations", response_model=OrganisationPublic, status_code=201,
             tags=["organisations"], responses=WRITE)
def create_organisation(body: OrganisationCreate, principal: PrincipalDep,
                        session: SessionDep) -> OrganisationPublic:
    """Create an organisation below one the caller administers."""
    org = organisations.create_organisation(session, principal=principal, data=body)
    return organisations.organisation_public(session, org)


@router.post("/organisations/{code}/users", response_model=UserPublic, status_code=201,
             tags=["users"], responses=WRITE)
def create_user(code: str, body: UserCreate, principal: PrincipalDep,
                session: SessionDep) -> UserPublic:
    """Create a person in an organisation the caller administers, with roles there."""
    user = organisations.create_user(session, principal=principal, organisation_code=code,
                                     data=body)
    return organisations.user_public(session, user)


@router.post("/users/{username}/roles", status_code=204, tags=["users"], responses=WRITE)
def grant_role(username: str, body: RoleGrant, principal: PrincipalDep,
               session: SessionDep) -> Response:
    """Give a person a role in an organisation the caller administers."""
    organisations.grant_role(session, principal=principal, username=username,
                             organisation_code=body.organisation_code, role=body.role)
    return Response(status_code=204)


@router.delete("/users/{username}/roles/{organisation_code}/{role}", status_code=204,
               tags=["users"], responses=WRITE)
def revoke_role(username: str, organisation_code: str, role: Role, principal: PrincipalDep,
                session: SessionDep) -> Response:
    """Take a role away."""
    organisations.revoke_role(session, principal=principal, username=username,
                              organisation_code=organisation_code, role=role)
    return Response(status_code=204)


@router.post("/organisations/{code}/users/{username}/authorisations",
             response_model=AuthorisationPublic, status_code=201, tags=["users"],
             responses=WRITE)
def create_authorisation(code: str, username: str, body: AuthorisationCreate,
                         principal: PrincipalDep, session: SessionDep) -> AuthorisationPublic:
    """Authorise a person to calibrate a quantity (by a procedure) between two dates."""
    row = organisations.add_authorisation(session, principal=principal, username=username,
                                          organisation_code=code, data=body)
    return organisations.authorisation_public(session, row)


@router.get("/users/{username}/authorisations", response_model=list[AuthorisationPublic],
            tags=["users"], responses=AUTHED)
def read_authorisations(username: str, principal: PrincipalDep,
                        session: ReadSessionDep) -> list[AuthorisationPublic]:
    """A person's authorisations (the person, or an admin of each organisation)."""
    return organisations.list_authorisations(session, principal=principal, username=username)


@router.post("/organisations/{code}/stations", response_model=StationToken, status_code=201,
             tags=["stations"], responses=WRITE)
def create_station(code: str, body: StationCreate, principal: PrincipalDep,
                   session: SessionDep) -> StationToken:
    """Register a bench; its bearer token is returned once."""
    return organisations.create_station(session, principal=principal, organisation_code=code,
                                        data=body)


@router.get("/audit/verify", response_model=AuditVerification, tags=["audit"], responses=AUTHED)
def verify_audit(principal: PrincipalDep, settings: SettingsDep,
                 engine: Annotated[Engine, Depends(get_engine)]) -> AuditVerification:
    """Check the audit trail (administrators): the hash chain, the events' seals, every row of
    the checked tables against the events that wrote it, and the stored signed checkpoints.

    Only the superuser sees the rows' values in the findings (they span every organisation);
    other administrators see which rows and columns are unexplained.
    """
    if principal.kind != "user" or not (
        principal.is_superuser or any(r is Role.ADMIN for _, r in principal.roles)
    ):
        raise PermissionDeniedError("audit.verify", "only administrators verify the audit chain")
    with Session(read_engine(engine)) as session:  # its own snapshot, see audit.verify
        result = audit.verify(session, keys_dir=settings.keys_dir)
    if not principal.is_superuser:
        result = result.model_copy(update={"rows": [
            f.model_copy(update={"row_value": None, "event_value": None})
            for f in result.rows]})
    return result
