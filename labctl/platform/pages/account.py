"""Sign in, sign out and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from labctl.errors import AuthenticationError, LoginLockedError
from labctl.platform import audit
from labctl.platform.accounts import auth, organisations
from labctl.platform.accounts.auth import LoginPolicy
from labctl.platform.pages.render import LANGUAGE_COOKIE, LANGUAGES, N_, gettext_for, render
from labctl.platform.pages.session import (
    CsrfDep,
    OptionalPageUserDep,
    clear_session_cookie,
    safe_next,
    set_session_cookie,
)
from labctl.platform.routes.deps import ReadSessionDep, SessionDep, SettingsDep

router = APIRouter()


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.get("/signin")
def signin_page(request: Request, user: OptionalPageUserDep,
                next: Annotated[str, Query(max_length=500)] = "/") -> Response:
    return render(request, "signin.html", {"next": safe_next(next), "error": None,
                                           "username": ""}, title=N_("Sign in"))


@router.post("/signin", dependencies=[CsrfDep])
def signin(request: Request, session: SessionDep, read_session: ReadSessionDep,
           settings: SettingsDep,
           username: Annotated[str, Form(max_length=200)] = "",
           password: Annotated[str, Form(max_length=1000)] = "",
           next: Annotated[str, Form(max_length=500)] = "/") -> Response:
    _ = gettext_for(request)
    try:
        token = organisations.login(
            session, username=username.strip(), password=password,
            lifetime=settings.user_token_lifetime, read_session=read_session,
            address=_address(request),
            policy=LoginPolicy.from_settings(settings))
    except LoginLockedError as exc:
        minutes = max(1, round(exc.retry_after / 60))
        error = _("Too many failed attempts. Please try again in %(minutes)s minutes.",
                  minutes=minutes)
        return render(request, "signin.html", {"next": safe_next(next), "error": error,
                                               "username": username[:200]},
                      status_code=429, title=N_("Sign in"))
    except AuthenticationError:
        error = _("The username or password is not right. Please try again.")
        return render(request, "signin.html", {"next": safe_next(next), "error": error,
                                               "username": username[:200]},
                      status_code=401, title=N_("Sign in"))
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(request, response, token.access_token,
                       int(settings.user_token_lifetime.total_seconds()))
    return response


@router.post("/signout", dependencies=[CsrfDep])
def signout(request: Request, session: SessionDep, user: OptionalPageUserDep) -> Response:
    response = RedirectResponse("/", status_code=303)
    if user is not None:
        row = auth.revoke_token(session, user.token)
        audit.record(session, actor=user.principal.actor, action="auth.revoke",
                     entity_type="user", entity_id=user.username,
                     data=auth.token_event_data(row))
        session.commit()
    clear_session_cookie(request, response)
    return response


@router.get("/lang/{code}")
def switch_language(request: Request, code: str,
                    next: Annotated[str, Query(max_length=500)] = "/") -> Response:
    response = RedirectResponse(safe_next(next), status_code=303)
    if code in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, code, max_age=365 * 86400, samesite="lax",
                            path="/")
    return response
