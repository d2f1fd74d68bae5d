"""Routes: tokens, organisations, users, roles, authorisations, stations, audit verification."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from labctl.errors import PermissionDeniedError
from labctl.platform import audit
from labctl.platform.accounts import auth, organisations
from labctl.platform.accounts.auth import LoginPolicy, require_user, token_event_data
from labctl.platform.db import read_engine
from labctl.platform.models.audit import AuditVerification
from labctl.platform.models.base import Role
from labctl.platform.models.org import (
    AuthorisationCreate,
    AuthorisationPublic,
    Organisation,
    OrganisationCreate,
    OrganisationPublic,
    PasswordChange,
    RoleGrant,
    StationCreate,
    StationToken,
    StationTokenCreate,
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
    R429,
    WRITE,
    PrincipalDep,
    ReadSessionDep,
    RowId,
    SessionDep,
    SettingsDep,
    WriterDep,
    bearer,
    get_engine,
)

router = APIRouter(prefix="/api/v1")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _policy(settings: SettingsDep) -> LoginPolicy:
    return LoginPolicy.from_settings(settings)


def _address(request: Request) -> str | None:
    """The client's address as the server sees it (behind a proxy: the proxy's, unless
    uvicorn is told to trust its forwarded headers)."""
    return request.client.host if request.client else None


@router.post("/auth/token", response_model=TokenPublic, tags=["auth"],
             responses={**R401, **R422, **R429})
def create_token(body: TokenRequest, request: Request, session: SessionDep,
                 read_session: ReadSessionDep, settings: SettingsDep) -> TokenPublic:
    """Exchange a username and password for a bearer token (expires).

    After too many failed logins for the username (or from the client's address) within a
    window, further attempts are refused (401, "locked", with the time it ends) without the
    password being checked, until the lock ends or an administrator unlocks
    (`POST /users/{username}/unlock`). Unknown usernames are answered and locked alike."""
    return organisations.login(session, username=body.username, password=body.password,
                               lifetime=settings.user_token_lifetime, read_session=read_session,
                               address=_address(request), policy=_policy(settings))


@router.delete("/auth/token", status_code=204, tags=["auth"], responses={**R401, **R422})
def revoke_token(principal: WriterDep, session: SessionDep,
                 credentials: Credentials) -> Response:
    """Revoke the bearer token this request carries (logout, or a station retiring its key)."""
    assert credentials is not None  # get_principal already refused a missing token
    row = auth.revoke_token(session, credentials.credentials)
    audit.record(session, actor=principal.actor, action="auth.revoke", entity_type=principal.kind,
                 entity_id=principal.name, data=token_event_data(row))
    session.commit()
    return Response(status_code=204)


@router.post("/users/me/password", status_code=204, tags=["users"],
             responses={**WRITE, **R429})
def change_password(body: PasswordChange, request: Request, principal: WriterDep,
                    session: SessionDep, read_session: ReadSessionDep, settings: SettingsDep,
                    credentials: Credentials) -> Response:
    """Change the caller's password (the current one required). Every other token of the
    caller is revoked; the one this request carries stays valid."""
    assert credentials is not None
    organisations.change_password(session, principal=principal, token=credentials.credentials,
                                  current_password=body.current_password,
                                  new_password=body.new_password, read_session=read_session,
                                  address=_address(request), policy=_policy(settings))
    return Response(status_code=204)


@router.post("/users/{username}/unlock", status_code=204, tags=["users"], responses=WRITE)
def unlock_user(username: str, principal: WriterDep, session: SessionDep) -> Response:
    """Lift a person's login lock (administrators over every organisation of the person)."""
    organisations.unlock_user(session, principal=principal, username=username)
    return Response(status_code=204)


@router.post("/users/{username}/deactivate", status_code=204, tags=["users"], responses=WRITE)
def deactivate_user(username: str, principal: WriterDep, session: SessionDep) -> Response:
    """Deactivate a person: their tokens are revoked at once and they cannot log in."""
    organisations.set_user_active(session, principal=principal, username=username,
                                  active=False)
    return Response(status_code=204)


@router.post("/users/{username}/activate", status_code=204, tags=["users"], responses=WRITE)
def activate_user(username: str, principal: WriterDep, session: SessionDep) -> Response:
    """Reactivate a person (they log in again; old tokens stay revoked)."""
    organisations.set_user_active(session, principal=principal, username=username, active=True)
    return Response(status_code=204)


@router.delete("/users/{username}/tokens", status_code=204, tags=["users"], responses=WRITE)
def revoke_user_tokens(username: str, principal: WriterDep, session: SessionDep) -> Response:
    """Revoke every token of a person (administrators over the person)."""
    organisations.revoke_user_tokens(session, principal=principal, username=username)
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
def create_organisation(body: OrganisationCreate, principal: WriterDep,
                        session: SessionDep) -> OrganisationPublic:
    """Create an organisation below one the caller administers."""
    org = organisations.create_organisation(session, principal=principal, data=body)
    return organisations.organisation_public(session, org)


@router.post("/organisations/{code}/users", response_model=UserPublic, status_code=201,
             tags=["users"], responses=WRITE)
def create_user(code: str, body: UserCreate, principal: WriterDep,
                session: SessionDep) -> UserPublic:
    """Create a person in an organisation the caller administers, with roles there."""
    user = organisations.create_user(session, principal=principal, organisation_code=code,
                                     data=body)
    return organisations.user_public(session, user)


@router.post("/users/{username}/roles", status_code=204, tags=["users"], responses=WRITE)
def grant_role(username: str, body: RoleGrant, principal: WriterDep,
               session: SessionDep) -> Response:
    """Give a person a role in an organisation the caller administers."""
    organisations.grant_role(session, principal=principal, username=username,
                             organisation_code=body.organisation_code, role=body.role)
    return Response(status_code=204)


@router.delete("/users/{username}/roles/{organisation_code}/{role}", status_code=204,
               tags=["users"], responses=WRITE)
def revoke_role(username: str, organisation_code: str, role: Role, principal: WriterDep,
                session: SessionDep) -> Response:
    """Take a role away."""
    organisations.revoke_role(session, principal=principal, username=username,
                              organisation_code=organisation_code, role=role)
    return Response(status_code=204)


@router.post("/organisations/{code}/users/{username}/authorisations",
             response_model=AuthorisationPublic, status_code=201, tags=["users"],
             responses=WRITE)
def create_authorisation(code: str, username: str, body: AuthorisationCreate,
                         principal: WriterDep, session: SessionDep) -> AuthorisationPublic:
    """Authorise a person to calibrate a quantity (by a procedure) between two dates."""
    row = organisations.add_authorisation(session, principal=principal, username=username,
                                          organisation_code=code, data=body)
    return organisations.authorisation_public(session, row)


@router.get("/users/{username}/authorisations", response_model=list[AuthorisationPublic],
            tags=["users"], responses=AUTHED)
def read_authorisations(username: str, principal: PrincipalDep,
                        session: ReadSessionDep) -> list[AuthorisationPublic]:
    """A person's authorisations: for the person, and for administrators, checkers and
    approvers of the person's organisations (those organisations' entries only). Anyone else
    gets the same 404 as for a username that does not exist."""
    return organisations.list_authorisations(session, principal=principal, username=username)


@router.post("/organisations/{code}/stations", response_model=StationToken, status_code=201,
             tags=["stations"], responses=WRITE)
def create_station(code: str, body: StationCreate, principal: WriterDep,
                   session: SessionDep) -> StationToken:
    """Register a bench; its bearer token (expiring after `valid_days`) is returned once."""
    return organisations.create_station(session, principal=principal, organisation_code=code,
                                        data=body)


@router.post("/stations/{station_id}/tokens", response_model=StationToken, status_code=201,
             tags=["stations"], responses=WRITE)
def create_station_token(station_id: RowId, body: StationTokenCreate, principal: WriterDep,
                         session: SessionDep) -> StationToken:
    """Another token for a bench (e.g. before the old one expires); returned once."""
    return organisations.new_station_token(session, principal=principal, station_id=station_id,
                                           data=body)


@router.delete("/stations/{station_id}/tokens", status_code=204, tags=["stations"],
               responses=WRITE)
def revoke_station_tokens(station_id: RowId, principal: WriterDep,
                          session: SessionDep) -> Response:
    """Revoke every token of a bench (administrators of its organisation, or above)."""
    organisations.revoke_station_tokens(session, principal=principal, station_id=station_id)
    return Response(status_code=204)


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
