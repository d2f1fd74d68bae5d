"""FastAPI dependencies: the database session, the caller, and the documented error answers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Header, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel
from sqlalchemy.engine import Engine
from sqlmodel import Session

from labctl.errors import AuthenticationError
from labctl.platform.accounts.auth import Principal, principal_for_token
from labctl.platform.db import read_engine
from labctl.platform.models.base import KEY_ALLOWED, KEY_PATTERN
from labctl.platform.settings import Settings

#: A table row's id in a path: a positive 32-bit integer (larger ones are no row, and some
#: databases cannot even compare them).
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class FieldError(BaseModel):
    """One refused input: where (``body.points.0.unit``, ``query.limit``,
    ``header.idempotency-key``), the value given (shortened; secrets are never shown), what
    is allowed, and the rule's machine-readable name (``string_too_long``,
    ``uncertainty_not_positive``, ``limits_paired``, ...)."""

    field: str
    value: Any = None
    allowed: str
    rule: str | None = None


class ErrorBody(BaseModel):
    """Every error answer (4xx and 5xx): a stable ``error`` class name, the message, and
    structured fields: ``field``/``value``/``allowed`` for refused input (the first of
    ``errors`` when the request had several), ``rule``/``details`` for a laboratory rule, a
    conflict with the stored state (its reason: ``order_state``, ``quote_expired``, …) or the
    kind of permission rule that refused (``role``, ``separation``, …)."""

    error: str
    detail: str
    field: str | None = None
    value: Any = None
    allowed: str | None = None
    rule: str | None = None
    details: dict[str, Any] | None = None
    errors: list[FieldError] | None = None


Responses = dict[int | str, dict[str, Any]]


def _resp(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


R401: Responses = {401: _resp("No, unknown, revoked or expired bearer token; or bad credentials")}
R403: Responses = {403: _resp("Authenticated, but role, scope or separation of duties forbid it")}
R404: Responses = {404: _resp("No such record (or not visible to the caller)")}
R409: Responses = {409: _resp("Contradicts the stored state (duplicate; issued is immutable)")}
R422: Responses = {422: _resp("Invalid input, or a laboratory rule refuses it (see `rule`)")}
R429: Responses = {429: _resp("Login locked after too many failed attempts (for the username or "
                              "the client address): `Retry-After` gives the seconds left")}
#: Documented on every operation (``labctl.api`` adds it to each router): answers any
#: request can get before or outside its handler.
COMMON: Responses = {
    400: _resp("Malformed request (the body cannot be read as the declared content type)"),
    422: _resp("Invalid input: `field`, `value` and `allowed` say which, what and what is "
               "allowed (`errors` lists them all); non-finite JSON numbers and text with a NUL "
               "(U+0000) are refused everywhere"),
    431: _resp("The request line and headers are too large"),
    500: _resp("Internal error (the server log has the details)"),
}
AUTHED: Responses = {**R401, **R403, **R404, **R422}
WRITE: Responses = {**AUTHED, **R409}
PUBLIC: Responses = {**R404, **R422}
#: Public, but a token may be sent to see more: a bad token is still a 401.
PUBLIC_OPT: Responses = {**R401, **R404, **R422}


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


def get_session(request: Request) -> Iterator[Session]:
    with Session(get_engine(request), expire_on_commit=False) as session:
        yield session


def get_read_session(request: Request) -> Iterator[Session]:
    """A session for read-only requests (never queues behind writers on SQLite)."""
    with Session(read_engine(get_engine(request)), expire_on_commit=False) as session:
        yield session


bearer = HTTPBearer(auto_error=False, description="User or station bearer token")


def _caller(session: Session, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationError("a bearer token is required")
    return principal_for_token(session, credentials.credentials)


def get_principal(
    session: Annotated[Session, Depends(get_read_session)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The authenticated caller of a request that only reads; 401 (not 403) when there is
    no valid token."""
    return _caller(session, credentials)


def get_writer(
    session: Annotated[Session, Depends(get_session)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The authenticated caller of a request that writes, looked up in the request's own
    write session (the handler's :data:`SessionDep`, the same object): the request holds one
    connection and one transaction, not a read session besides, open until the answer is
    sent. 401 (not 403) when there is no valid token."""
    return _caller(session, credentials)


def get_optional_principal(
    session: Annotated[Session, Depends(get_read_session)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal | None:
    """The caller if a token was sent (public endpoints show more to people in scope)."""
    if credentials is None:
        return None
    return principal_for_token(session, credentials.credentials)


SessionDep = Annotated[Session, Depends(get_session)]
ReadSessionDep = Annotated[Session, Depends(get_read_session)]
#: The caller, for a route that only reads (with :data:`ReadSessionDep`, or no session).
PrincipalDep = Annotated[Principal, Depends(get_principal)]
#: The caller, for a route that writes (with :data:`SessionDep`): one session per request.
WriterDep = Annotated[Principal, Depends(get_writer)]
OptionalPrincipalDep = Annotated[Principal | None, Depends(get_optional_principal)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def _idempotency_key(value: str) -> str:
    if re.fullmatch(KEY_PATTERN, value) is None:
        raise ValueError(KEY_ALLOWED)
    return value


IdempotencyKeyHeader = Annotated[str, Header(
    json_schema_extra={"pattern": KEY_PATTERN, "minLength": 1, "maxLength": 200},
    description="Client-chosen key (" + KEY_ALLOWED + "); a retry with the same key "
                "and body creates nothing and returns the first answer"),
    AfterValidator(_idempotency_key)]
