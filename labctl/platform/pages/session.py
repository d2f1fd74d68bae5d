"""Signing in to the pages: a session cookie for people, CSRF-protected forms.

The cookie holds an ordinary user token (``accounts.organisations.login``: the same password
check, throttle and audit as ``POST /api/v1/auth/token``), so signing out, disabling the user
or revoking their tokens ends the page session too. The API never reads this cookie (it
wants a bearer header), so a page session cannot be ridden into the API.

CSRF: every form that changes something carries ``csrf``. Signed in, it is an HMAC of the
session token (only a page served to that session knows it); before sign-in it is a random
value also held in an HttpOnly cookie (double submit). Cookies are ``SameSite=Lax`` (the
session) and ``Strict`` (the CSRF value), and a cross-site ``Origin`` is refused outright.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Form, Request
from fastapi.responses import Response

from labctl.errors import AuthenticationError, PermissionDeniedError
from labctl.platform.accounts.auth import Principal, principal_for_token
from labctl.platform.models.org import User
from labctl.platform.routes.deps import ReadSessionDep

SESSION_COOKIE = "labctl_session"
CSRF_COOKIE = "labctl_csrf"
CSRF_FIELD = "csrf"


@dataclass(frozen=True)
class PageUser:
    """The signed-in person of a page request."""

    principal: Principal
    username: str
    full_name: str
    token: str


def _csrf_of_token(token: str) -> str:
    return hmac.new(token.encode(), b"labctl page form", hashlib.sha256).hexdigest()[:40]


def _https(request: Request) -> bool:
    settings = request.app.state.settings
    return str(settings.public_url).lower().startswith("https://")


def load_page_user(request: Request, session: ReadSessionDep) -> PageUser | None:
    """Resolves the session cookie (router-level dependency of every page): the person, or
    None (a stale cookie is simply ignored: the page shows "sign in")."""
    token = request.cookies.get(SESSION_COOKIE)
    user: PageUser | None = None
    if token and len(token) <= 200:
        try:
            principal = principal_for_token(session, token)
        except AuthenticationError:
            principal = None
        if principal is not None and principal.kind == "user":
            row = session.get(User, principal.id)
            if row is not None:
                user = PageUser(principal, row.username, row.full_name, token)
    request.state.page_user = user
    return user


def page_user(request: Request) -> PageUser | None:
    return getattr(request.state, "page_user", None)


def require_page_user(user: Annotated[PageUser | None, Depends(load_page_user)]) -> PageUser:
    """The signed-in person; otherwise the 401 that the error pages turn into "sign in"."""
    if user is None:
        raise AuthenticationError("please sign in to see this page")
    return user


OptionalPageUserDep = Annotated[PageUser | None, Depends(load_page_user)]
PageUserDep = Annotated[PageUser, Depends(require_page_user)]


def csrf_for(request: Request) -> tuple[str, bool]:
    """The CSRF value forms on this page carry, and whether it is new (cookie to be set)."""
    user = page_user(request)
    if user is not None:
        return _csrf_of_token(user.token), False
    existing = request.cookies.get(CSRF_COOKIE, "")
    if 20 <= len(existing) <= 100:
        return existing, False
    return secrets.token_urlsafe(24), True


def set_csrf_cookie(request: Request, response: Response, value: str) -> None:
    response.set_cookie(CSRF_COOKIE, value, httponly=True, samesite="strict",
                        secure=_https(request), path="/")


def set_session_cookie(request: Request, response: Response, token: str,
                       max_age: int) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, httponly=True, samesite="lax",
                        secure=_https(request), path="/")


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=_https(request))


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None or origin == "null":  # privacy settings hide it: the token decides
        return True
    parts = urlsplit(origin)
    host = request.headers.get("host", "")
    return parts.netloc == host


def check_csrf(request: Request, csrf: Annotated[str, Form(max_length=100)] = "") -> None:
    """Dependency of every page form that changes something: refused (403, nothing changed)
    unless the form carries this page session's CSRF value and comes from this site."""
    if not _same_origin(request):
        raise PermissionDeniedError("send this form", "it was sent from another site", rule="form")
    expected, new = csrf_for(request)
    if new or not csrf or not hmac.compare_digest(csrf, expected):
        raise PermissionDeniedError(
            "send this form", "it has expired or was not sent from this site; reload the "
            "page and try again", rule="form")


CsrfDep = Depends(check_csrf)


def page_context(request: Request) -> dict[str, Any]:
    """What every template may use about the caller."""
    user = page_user(request)
    return {"user": user}


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go on to after a form (never another site: ``//host``, ``\\host``,
    a scheme)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or \
            any(c in target for c in "\r\n\\") or len(target) > 500:
        return default
    return target


__all__ = ["CSRF_FIELD", "CsrfDep", "OptionalPageUserDep", "PageUser", "PageUserDep",
           "check_csrf", "load_page_user", "page_user", "require_page_user",
           "safe_next"]
