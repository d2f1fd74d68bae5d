"""The customer's pages: registration, the dashboard ``/my``, their certificates (list,
PDF, DCC, verification link), and — over the service desk — booking, orders, complaints and
evaluations.

Every rule is the services' (``accounts``, ``certificates``, ``desk``): the pages only call
them and say a refusal in words a customer understands. A customer asking for someone else's
order or certificate gets the same "not found" page as for one that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from labctl.errors import NotFoundError, ValidationError
from labctl.platform.accounts import organisations
from labctl.platform.accounts.auth import LoginPolicy
from labctl.platform.accounts.organisations import CustomerRegistration
from labctl.platform.certificates import views as certificate_views
from labctl.platform.models.base import Role
from labctl.platform.models.org import Organisation
from labctl.platform.pages.render import N_, gettext_for, render
from labctl.platform.pages.session import (
    CsrfDep,
    OptionalPageUserDep,
    PageUser,
    PageUserDep,
    set_session_cookie,
)
from labctl.platform.routes.deps import ReadSessionDep, SessionDep, SettingsDep

router = APIRouter()

PAGE_SIZE = 25

#: The registration form's fields, in order (name → label, English).
REGISTRATION_FIELDS = ("organisation_name", "address", "contact_name", "email", "username",
                       "password", "password_again")

#: What a customer is told when a registration field is refused (English; translated).
REGISTRATION_ADVICE: dict[str, str] = {
    "organisation_name": N_("Please enter your organisation's name (up to 200 characters)."),
    "address": N_("The address may have up to 500 characters."),
    "contact_name": N_("Please enter your name (up to 200 characters)."),
    "email": N_("Please enter a valid e-mail address, such as name@example.com."),
    "username": N_("Choose a username of 3 to 64 letters, digits or the signs . _ @ -."),
    "username_taken": N_("This username is already taken. Please choose another one."),
    "password": N_("The password needs 10 to 256 characters with at least 5 different ones, "
                   "and must not contain your username."),
    "password_again": N_("The two passwords are not the same."),
}


def customer_organisations(session: Any, user: PageUser) -> list[Organisation]:
    """The organisations the signed-in person is a customer of (their roles, nothing else)."""
    ids = sorted({org for org, role in user.principal.roles if role == Role.CUSTOMER})
    return [o for o in (session.get(Organisation, i) for i in ids) if o is not None]


# --- registration -----------------------------------------------------------------------------


def _registration(request: Request, values: dict[str, str], errors: dict[str, str],
                  status_code: int = 200) -> Response:
    return render(request, "my/register.html", {"values": values, "errors": errors},
                  status_code=status_code, title=N_("Register as a customer"))


@router.get("/register")
def register_page(request: Request, user: OptionalPageUserDep) -> Response:
    return _registration(request, {f: "" for f in REGISTRATION_FIELDS}, {})


@router.post("/register", dependencies=[CsrfDep])
def register(request: Request, session: SessionDep, read_session: ReadSessionDep,
             settings: SettingsDep,
             organisation_name: Annotated[str, Form(max_length=1000)] = "",
             address: Annotated[str, Form(max_length=2000)] = "",
             contact_name: Annotated[str, Form(max_length=1000)] = "",
             email: Annotated[str, Form(max_length=1000)] = "",
             username: Annotated[str, Form(max_length=1000)] = "",
             password: Annotated[str, Form(max_length=1000)] = "",
             password_again: Annotated[str, Form(max_length=1000)] = "") -> Response:
    """Opens the account (:func:`organisations.register_customer`) and signs the person in
    at once (the same login as the sign-in form); a refused field is said next to it and
    every other value is kept (never the passwords)."""
    _ = gettext_for(request)
    values = {"organisation_name": organisation_name, "address": address,
              "contact_name": contact_name, "email": email, "username": username,
              "password": "", "password_again": ""}
    if password != password_again:
        return _registration(request, values,
                             {"password_again": _(REGISTRATION_ADVICE["password_again"])},
                             status_code=422)
    try:
        organisations.register_customer(session, data=CustomerRegistration(
            organisation_name=organisation_name, address=address, contact_name=contact_name,
            email=email, username=username, password=password))
    except ValidationError as exc:
        session.rollback()
        key = exc.field
        if key == "username" and "nobody has yet" in exc.allowed:
            key = "username_taken"
        field = "username" if key == "username_taken" else exc.field
        advice = REGISTRATION_ADVICE.get(key, REGISTRATION_ADVICE["organisation_name"])
        return _registration(request, values, {field: _(advice)}, status_code=422)
    token = organisations.login(
        session, username=username.strip(), password=password,
        lifetime=settings.user_token_lifetime, read_session=read_session,
        address=request.client.host if request.client else None,
        policy=LoginPolicy.from_settings(settings))
    response = RedirectResponse("/my?welcome=1", status_code=303)
    set_session_cookie(request, response, token.access_token,
                       int(settings.user_token_lifetime.total_seconds()))
    return response


# --- dashboard and certificates ------------------------------------------------------------


@router.get("/my")
def dashboard(request: Request, user: PageUserDep, session: ReadSessionDep,
              welcome: Annotated[int, Query(ge=0, le=1)] = 0) -> Response:
    orgs = customer_organisations(session, user)
    certs, cert_total = certificate_views.customer_certificates(session, user.principal,
                                                                limit=5)
    return render(request, "my/dashboard.html", {
        "organisations": orgs, "certificates": certs, "certificate_total": cert_total,
        "welcome": bool(welcome), **_lab_names(session, certs)}, title=N_("My account"))


def _lab_names(session: Any, certs: list[Any]) -> dict[str, Any]:
    labs: dict[int, str] = {}
    for c in certs:
        if c.organisation_id not in labs:
            org = session.get(Organisation, c.organisation_id)
            labs[c.organisation_id] = org.name if org else ""
    return {"labs": labs}


@router.get("/my/certificates")
def my_certificates(request: Request, user: PageUserDep, session: ReadSessionDep,
                    page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:
    certs, total = certificate_views.customer_certificates(
        session, user.principal, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    pages = max(1, -(-total // PAGE_SIZE))
    return render(request, "my/certificates.html", {
        "certificates": certs, "total": total, "page": page, "pages": pages,
        "organisations": customer_organisations(session, user),
        **_lab_names(session, certs)}, title=N_("My certificates"))


def _document(session: Any, user: PageUser, number: str, revision: int | None,
              kind: str) -> bytes:
    """The stored document, by the same read rule as ``GET /api/v1/certificates/{n}/pdf``."""
    cert = certificate_views.readable(session, user.principal, number, revision)
    data = cert.pdf if kind == "pdf" else cert.dcc
    if data is None:
        raise NotFoundError(f"{kind} of certificate",
                                              f"{number} rev {cert.revision}")
    return data


@router.get("/my/certificates/{number}/pdf")
def certificate_pdf(number: str, user: PageUserDep, session: ReadSessionDep,
                    revision: Annotated[int | None, Query(ge=0, le=10_000)] = None) -> Response:
    return Response(_document(session, user, number[:64], revision, "pdf"),
                    media_type="application/pdf", headers={
                        "Content-Disposition": f'attachment; filename="{_safe(number)}.pdf"'})


@router.get("/my/certificates/{number}/dcc")
def certificate_dcc(number: str, user: PageUserDep, session: ReadSessionDep,
                    revision: Annotated[int | None, Query(ge=0, le=10_000)] = None) -> Response:
    return Response(_document(session, user, number[:64], revision, "dcc"),
                    media_type="application/xml", headers={
                        "Content-Disposition":
                            f'attachment; filename="{_safe(number)}.dcc.xml"'})


def _safe(number: str) -> str:
    return "".join(c for c in number if c.isalnum() or c in "-_.")[:64] or "certificate"
