"""The customer's pages: registration, the dashboard ``/my``, their certificates (list,
PDF, DCC, verification link), and — over the service desk — booking, orders, complaints and
evaluations.

Every rule is the services' (``accounts``, ``certificates``, ``desk``): the pages only call
them and say a refusal in words a customer understands. A customer asking for someone else's
order or certificate gets the same "not found" page as for one that does not exist.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError as InputError

from labctl.errors import NotFoundError, PermissionDeniedError, ValidationError
from labctl.platform import desk
from labctl.platform.accounts import organisations, policy
from labctl.platform.accounts.auth import LoginPolicy, count_registration
from labctl.platform.accounts.organisations import CustomerRegistration
from labctl.platform.certificates import views as certificate_views
from labctl.platform.db import utcnow
from labctl.platform.models.base import Role
from labctl.platform.models.desk import (
    ComplaintCreate,
    EndIn,
    EvaluationIn,
    NoteIn,
    OrderCreate,
    OrderKind,
    Page,
)
from labctl.platform.models.org import Organisation
from labctl.platform.pages.forms import (
    CALIBRATION_PATH,
    CERTIFICATE_STATUS,
    COMPLAINT_BADGE,
    COMPLAINT_PATH,
    COMPLAINT_STATUS,
    COMPLAINT_STEP,
    DIMENSIONS,
    INFORMATION_PATH,
    ORDER_BADGE,
    ORDER_STATUS,
    ORDER_STEP,
    SCORES,
    field_errors,
    steps_view,
)
from labctl.platform.pages.render import N_, gettext_for, page_count, render
from labctl.platform.pages.session import (
    CsrfDep,
    OptionalPageUserDep,
    PageUser,
    PageUserDep,
    set_session_cookie,
)
from labctl.platform.registry import entries as registry_entries
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
    client = request.client.host if request.client else None
    count_registration(session, address=client, limit=settings.registration_limit,
                       window=settings.registration_window)
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
        address=client, policy=LoginPolicy.from_settings(settings))
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
    orders = _customer_orders(session, user, 1, 5)
    complaints = _customer_complaints(session, user, 1, 5)
    return render(request, "my/dashboard.html", {
        "organisations": orgs, "certificates": certs, "certificate_total": cert_total,
        "orders": orders.items, "order_total": orders.total,
        "complaints": complaints.items, "complaint_total": complaints.total,
        "welcome": bool(welcome), **_lab_names(session, certs), **LABELS},
        title=N_("My account"))


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
    pages = page_count(total, PAGE_SIZE)
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


def form_key() -> str:
    """The one-time key a booking or complaint form carries (the service's idempotency key:
    a resent form is the same order). Hex, so it always starts with a letter or digit as
    ``models.base.KEY_PATTERN`` requires (``token_urlsafe`` may start with ``-`` or ``_``)."""
    return secrets.token_hex(16)


def plain(value: Decimal) -> str:
    """An exact decimal as a person writes it: no exponent (``2E-7`` → ``0.0000002``)."""
    return format(value, "f")


def laboratory_rating_context(session: Any, laboratory_code: str) -> dict[str, Any]:
    """What a page needs to show a laboratory's public evaluation summary with the macro
    ``rating_table`` of ``templates/my/_rating.html`` (the public organisation page too):
    ``rating`` (:func:`desk.laboratory_rating`) and the dimensions' words."""
    return {"rating": desk.laboratory_rating(session, laboratory_code),
            "DIMENSIONS": DIMENSIONS}


# --- orders ------------------------------------------------------------------------------------

#: What a customer is told when a booking field is refused (English; translated).
BOOKING_ADVICE: dict[str, str] = {
    "item_description": N_("Please describe the item to be calibrated (or give its model)."),
    "item_manufacturer": N_("The manufacturer may have up to 100 characters."),
    "item_model": N_("The model may have up to 100 characters."),
    "item_serial_number": N_("Please give the item's serial number: the certificate "
                             "identifies the item by it."),
    "range_min": N_("Please give a number within the laboratory's range for this service."),
    "range_max": N_("Please give a number within the laboratory's range for this service, "
                    "not below the lower end."),
    "preferred_date": N_("Please choose a date from today up to one year ahead."),
    "notes": N_("The notes are too long."),
    "capability_id": N_("This service can no longer be booked. Please search again."),
    "customer_code": N_("Please choose the organisation you book for."),
}
BOOKING_FALLBACK = N_("Please check this value.")
BOOKING_FIELDS = ("item_description", "item_manufacturer", "item_model", "item_serial_number",
                  "range_min", "range_max", "preferred_date", "notes")


def _booking(request: Request, session: Any, user: PageUser, cmc: Any,
             values: dict[str, str], errors: dict[str, str], key: str,
             status_code: int = 200) -> Response:
    public = registry_entries.capability_public(session, cmc)
    shown = public.model_copy(update={
        "range_min": plain(cmc.range_min), "range_max": plain(cmc.range_max),
        "uncertainty_relative": plain(cmc.uncertainty_relative),
        "uncertainty_absolute": plain(cmc.uncertainty_absolute)})
    return render(request, "my/book.html", {
        "cmc": shown, "values": values,
        **laboratory_rating_context(session, public.organisation_code),
        "errors": errors, "key": key, "organisations": customer_organisations(session, user),
        "today": utcnow().date().isoformat()},
        status_code=status_code, title=N_("Book a calibration"))


@router.get("/my/orders/new")
def booking_form(request: Request, user: PageUserDep, session: ReadSessionDep,
                 capability: Annotated[int, Query(ge=1, le=2**31 - 1)]) -> Response:
    """The booking form for one published CMC, its quantity, unit and range prefilled."""
    cmc = registry_entries.visible_capability(session, capability, user.principal)
    values = {f: "" for f in BOOKING_FIELDS}
    values.update(range_min=plain(cmc.range_min), range_max=plain(cmc.range_max))
    return _booking(request, session, user, cmc, values, {}, form_key())


@router.post("/my/orders/new", dependencies=[CsrfDep])
def book(request: Request, user: PageUserDep, session: SessionDep,
         capability: Annotated[int, Form(ge=1, le=2**31 - 1)],
         key: Annotated[str, Form(min_length=1, max_length=100)],
         item_description: Annotated[str, Form(max_length=2000)] = "",
         item_manufacturer: Annotated[str, Form(max_length=2000)] = "",
         item_model: Annotated[str, Form(max_length=2000)] = "",
         item_serial_number: Annotated[str, Form(max_length=2000)] = "",
         range_min: Annotated[str, Form(max_length=100)] = "",
         range_max: Annotated[str, Form(max_length=100)] = "",
         preferred_date: Annotated[str, Form(max_length=20)] = "",
         notes: Annotated[str, Form(max_length=20_000)] = "",
         customer_code: Annotated[str, Form(max_length=32)] = "",
         kind: Annotated[str, Form(max_length=20)] = "calibration",
         question: Annotated[str, Form(max_length=20_000)] = "") -> Response:
    """Books through :func:`desk.book_order` (the form's one-time key makes a double click
    or a resent form the same order, not two). ``kind=information``: a question about the
    service, free (no quote, no payment), answered by the laboratory."""
    _ = gettext_for(request)
    if kind == OrderKind.INFORMATION.value:
        return _ask(request, session, user, capability, key, question)
    values = {"item_description": item_description, "item_manufacturer": item_manufacturer,
              "item_model": item_model, "item_serial_number": item_serial_number,
              "range_min": range_min, "range_max": range_max,
              "preferred_date": preferred_date, "notes": notes,
              "customer_code": customer_code}
    try:
        data = OrderCreate.model_validate({
            "customer_code": customer_code or None,
            "kind": OrderKind.CALIBRATION, "capability_id": capability,
            "item_description": item_description.strip(),
            "item_manufacturer": item_manufacturer.strip(), "item_model": item_model.strip(),
            "item_serial_number": item_serial_number.strip(),
            "range_min": range_min.strip() or None, "range_max": range_max.strip() or None,
            "preferred_date": preferred_date or None, "notes": notes.strip()})
        order, _replayed = desk.book_order(session, principal=user.principal, data=data,
                                           idempotency_key=key)
    except (InputError, ValidationError) as exc:
        session.rollback()
        cmc = registry_entries.visible_capability(session, capability, user.principal)
        return _booking(request, session, user, cmc, values,
                        field_errors(exc, BOOKING_ADVICE, _, BOOKING_FALLBACK), key,
                        status_code=422)
    return RedirectResponse(f"/my/orders/{order.id}?booked=1", status_code=303)


QUESTION_ADVICE: dict[str, str] = {
    "notes": N_("Please write your question (up to 10000 characters)."),
    "capability_id": BOOKING_ADVICE["capability_id"],
}


def _ask(request: Request, session: Any, user: PageUser, capability: int, key: str,
         question: str) -> Response:
    _ = gettext_for(request)
    try:
        data = OrderCreate(kind=OrderKind.INFORMATION, capability_id=capability,
                           notes=question.strip())
        order, _replayed = desk.book_order(session, principal=user.principal, data=data,
                                           idempotency_key=f"{key}-q")
    except (InputError, ValidationError) as exc:
        session.rollback()
        cmc = registry_entries.visible_capability(session, capability, user.principal)
        errors = {"question" if k == "notes" else k: v for k, v in field_errors(
            exc, QUESTION_ADVICE, _, QUESTION_ADVICE["notes"]).items()}
        values = {f: "" for f in BOOKING_FIELDS}
        values.update(range_min=plain(cmc.range_min), range_max=plain(cmc.range_max),
                      question=question)
        return _booking(request, session, user, cmc, values, errors, key, status_code=422)
    return RedirectResponse(f"/my/orders/{order.id}?asked=1", status_code=303)


@router.get("/my/orders")
def my_orders(request: Request, user: PageUserDep, session: ReadSessionDep,
              page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:
    orders = _customer_orders(session, user, page)
    return render(request, "my/orders.html", {
        "orders": orders.items, "total": orders.total, "page": page,
        "pages": page_count(orders.total, PAGE_SIZE),
        "organisations": customer_organisations(session, user), **LABELS},
        title=N_("My orders"))


def _customer_orders(session: Any, user: PageUser, page: int = 1,
                     limit: int = PAGE_SIZE) -> Any:
    """The orders of the person's customer organisations (as a customer, not as staff)."""
    orgs = customer_organisations(session, user)
    if not orgs:
        return _EMPTY
    return desk.list_orders(session, principal=user.principal,
                            customer_code=orgs[0].code if len(orgs) == 1 else None,
                            offset=(page - 1) * limit, limit=limit)


def _order_page(request: Request, session: Any, user: PageUser, order: Any, *,
                errors: dict[str, dict[str, str]] | None = None, values: dict[str, Any] |
                None = None, status_code: int = 200, flash: str = "") -> Response:
    public = desk.order_public(session, order)
    allowed = desk.allowed_steps(session, user.principal, order)
    evaluation = None
    if public.evaluated:
        row = desk.evaluation_of(session, principal=user.principal, order_id=public.id)
        evaluation = desk.evaluation_public(session, row) if row is not None else None
    may_evaluate = False
    if public.status == "completed" and not public.evaluated:
        try:
            policy.may_evaluate(session, user.principal, order)
            may_evaluate = True
        except PermissionDeniedError:
            pass
    cert = desk.linked_certificate(session, order)
    path = CALIBRATION_PATH if public.kind == "calibration" else INFORMATION_PATH
    return render(request, "my/order.html", {
        "order": public, "steps": steps_view(public.steps, path, public.status),
        "allowed": allowed, "evaluation": evaluation, "may_evaluate": may_evaluate,
        "certificate": cert if cert is not None and cert.status in policy.ISSUED_STATES
        else None, "errors": errors or {}, "values": values or {}, "flash": flash,
        "quote_expired": public.quote_valid_until is not None and
        public.quote_valid_until < utcnow().date(), **LABELS}, status_code=status_code,
        title=N_("Order"))


@router.get("/my/orders/{order_id}")
def order_page(request: Request, order_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
               user: PageUserDep, session: ReadSessionDep,
               booked: Annotated[int, Query(ge=0, le=1)] = 0,
               asked: Annotated[int, Query(ge=0, le=1)] = 0) -> Response:
    """One order as its customer sees it: every step dated and by whom, the quote, the
    certificate, the evaluation. Another customer's order is the "not found" page."""
    order = desk.order_by_id(session, user.principal, order_id)
    _ = gettext_for(request)
    return _order_page(request, session, user, order,
                       flash=_("Thank you. Your order is placed; the laboratory will review "
                               "it and send a quote.") if booked else
                       _("Thank you. Your question is sent; the laboratory's answer will "
                         "appear here.") if asked else "")


@router.get("/my/orders/{order_id}/progress")
def order_progress(request: Request, order_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
                   user: PageUserDep, session: ReadSessionDep) -> Response:
    """The order's timeline alone: the order page refreshes it while the order is open, so
    a customer watching sees the laboratory's steps as they are taken."""
    order = desk.order_by_id(session, user.principal, order_id)
    public = desk.order_public(session, order)
    path = CALIBRATION_PATH if public.kind == "calibration" else INFORMATION_PATH
    return render(request, "my/_progress.html", {
        "steps": steps_view(public.steps, path, public.status), **LABELS})


@router.post("/my/orders/{order_id}/accept", dependencies=[CsrfDep])
def accept(order_id: Annotated[int, Path(ge=1, le=2**31 - 1)], user: PageUserDep,
           session: SessionDep) -> Response:
    desk.accept_quote(session, principal=user.principal, order_id=order_id, data=NoteIn())
    return RedirectResponse(f"/my/orders/{order_id}", status_code=303)


@router.post("/my/orders/{order_id}/cancel", dependencies=[CsrfDep])
def cancel(request: Request, order_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
           user: PageUserDep, session: SessionDep,
           reason: Annotated[str, Form(max_length=5000)] = "") -> Response:
    _ = gettext_for(request)
    try:
        data = EndIn(reason=reason.strip())
    except InputError:
        order = desk.order_by_id(session, user.principal, order_id)
        return _order_page(request, session, user, order, status_code=422,
                           errors={"cancel": {"reason": _(
                               "Please say briefly why you cancel (up to 1000 characters).")}})
    desk.cancel_order(session, principal=user.principal, order_id=order_id, data=data)
    return RedirectResponse(f"/my/orders/{order_id}", status_code=303)


@router.post("/my/orders/{order_id}/evaluate", dependencies=[CsrfDep])
async def evaluate(request: Request, order_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
                   user: PageUserDep, session: SessionDep) -> Response:
    """The five-dimension evaluation (once per order: a second is refused by the service)."""
    form = await request.form()
    _ = gettext_for(request)
    values: dict[str, Any] = {}
    for name in (*DIMENSIONS, *(f"{d}_comment" for d in DIMENSIONS), "comment"):
        raw = form.get(name, "")
        values[name] = raw.strip()[:20_000] if isinstance(raw, str) else ""
    try:
        data = EvaluationIn(**{k: v for k, v in values.items() if v != ""})
    except InputError as exc:
        order = desk.order_by_id(session, user.principal, order_id)
        return _order_page(request, session, user, order, status_code=422, values=values,
                           errors={"evaluate": field_errors(exc, EVALUATION_ADVICE, _,
                                                            EVALUATION_ADVICE["score"])})
    desk.evaluate_order(session, principal=user.principal, order_id=order_id, data=data)
    return RedirectResponse(f"/my/orders/{order_id}#evaluation", status_code=303)


EVALUATION_ADVICE: dict[str, str] = {
    **{d: N_("Please choose a score from 1 to 5.") for d in DIMENSIONS},
    "score": N_("Please choose a score from 1 to 5."),
    **{f"{d}_comment": N_("A comment may have up to 1000 characters.") for d in DIMENSIONS},
    "comment": N_("The comment is too long."),
}


# --- complaints --------------------------------------------------------------------------------

COMPLAINT_ADVICE: dict[str, str] = {
    "subject": N_("Please give a short subject (up to 200 characters)."),
    "description": N_("Please describe what went wrong."),
    "order_id": N_("Please choose the order or the laboratory the complaint is about."),
    "laboratory_code": N_("Please choose the order or the laboratory the complaint is about."),
}


def _complaint_form(request: Request, session: Any, user: PageUser, *, order: Any,
                    laboratory: str, values: dict[str, str], errors: dict[str, str],
                    key: str, status_code: int = 200) -> Response:
    labs = _laboratories_of(session, user)
    return render(request, "my/complaint_new.html", {
        "order": desk.order_public(session, order) if order is not None else None,
        "laboratory": laboratory, "laboratories": labs, "values": values, "errors": errors,
        "key": key}, status_code=status_code, title=N_("File a complaint"))


def _laboratories_of(session: Any, user: PageUser) -> list[tuple[str, str]]:
    """The laboratories the customer has orders with (code, name): whom they may complain
    about without naming an order."""
    orders = _customer_orders(session, user, 1, 200)
    return sorted({(o.laboratory_code, o.laboratory_name) for o in orders.items},
                  key=lambda x: x[1])


@router.get("/my/complaints/new")
def complaint_form(request: Request, user: PageUserDep, session: ReadSessionDep,
                   order: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
                   laboratory: Annotated[str, Query(max_length=32)] = "") -> Response:
    row = desk.order_by_id(session, user.principal, order) if order is not None else None
    return _complaint_form(request, session, user, order=row, laboratory=laboratory,
                           values={"subject": "", "description": ""}, errors={},
                           key=form_key())


@router.post("/my/complaints/new", dependencies=[CsrfDep])
def file_complaint(request: Request, user: PageUserDep, session: SessionDep,
                   key: Annotated[str, Form(min_length=1, max_length=100)],
                   order: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None,
                   laboratory: Annotated[str, Form(max_length=32)] = "",
                   subject: Annotated[str, Form(max_length=5000)] = "",
                   description: Annotated[str, Form(max_length=50_000)] = "") -> Response:
    _ = gettext_for(request)
    values = {"subject": subject, "description": description}
    try:
        data = ComplaintCreate(order_id=order, laboratory_code=None if order else
                               (laboratory or None), subject=subject.strip(),
                               description=description.strip())
        complaint, _replayed = desk.file_complaint(session, principal=user.principal,
                                                   data=data, idempotency_key=key)
    except (InputError, ValidationError) as exc:
        session.rollback()
        row = desk.order_by_id(session, user.principal, order) if order else None
        return _complaint_form(request, session, user, order=row, laboratory=laboratory,
                               values=values, key=key, status_code=422,
                               errors=field_errors(exc, COMPLAINT_ADVICE, _,
                                                   COMPLAINT_ADVICE["description"]))
    return RedirectResponse(f"/my/complaints/{complaint.id}?filed=1", status_code=303)


@router.get("/my/complaints")
def my_complaints(request: Request, user: PageUserDep, session: ReadSessionDep,
                  page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:
    rows = _customer_complaints(session, user, page)
    return render(request, "my/complaints.html", {
        "complaints": rows.items, "total": rows.total, "page": page,
        "pages": page_count(rows.total, PAGE_SIZE),
        "organisations": customer_organisations(session, user), **LABELS},
        title=N_("My complaints"))


def _customer_complaints(session: Any, user: PageUser, page: int = 1,
                         limit: int = PAGE_SIZE) -> Any:
    """The complaints of the person's customer organisations (someone who is also staff of
    a laboratory sees that laboratory's complaints under /staff/complaints, not here)."""
    if not customer_organisations(session, user):
        return _EMPTY
    mine = {o.code for o in customer_organisations(session, user)}
    rows = desk.list_complaints(session, principal=user.principal,
                                offset=(page - 1) * limit, limit=limit)
    rows.items = [c for c in rows.items if c.customer_code in mine]
    return rows


@router.get("/my/complaints/{complaint_id}")
def complaint_page(request: Request, complaint_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
                   user: PageUserDep, session: ReadSessionDep,
                   filed: Annotated[int, Query(ge=0, le=1)] = 0) -> Response:
    complaint = desk.complaint_by_id(session, user.principal, complaint_id)
    public = desk.complaint_public(session, complaint)
    may_close = False
    if public.status == "answered":
        try:
            policy.may_close_complaint(session, user.principal, complaint)
            may_close = True
        except PermissionDeniedError:
            pass
    _ = gettext_for(request)
    return render(request, "my/complaint.html", {
        "complaint": public, "may_close": may_close,
        "steps": steps_view(public.steps, COMPLAINT_PATH, public.status),
        "flash": _("Your complaint is filed. A person of the laboratory who took no part in "
                   "the work will handle it.") if filed else "", **LABELS},
        title=N_("Complaint"))


@router.post("/my/complaints/{complaint_id}/close", dependencies=[CsrfDep])
def close_complaint(complaint_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
                    user: PageUserDep, session: SessionDep) -> Response:
    desk.close_complaint(session, principal=user.principal, complaint_id=complaint_id,
                         data=NoteIn())
    return RedirectResponse(f"/my/complaints/{complaint_id}", status_code=303)


_EMPTY: Page[Any] = Page[Any](items=[], total=0, offset=0, limit=1)

#: The words for states and steps every desk template gets.
LABELS: dict[str, Any] = {"ORDER_STATUS": ORDER_STATUS, "ORDER_BADGE": ORDER_BADGE,
                          "ORDER_STEP": ORDER_STEP, "COMPLAINT_STATUS": COMPLAINT_STATUS,
                          "COMPLAINT_BADGE": COMPLAINT_BADGE, "COMPLAINT_STEP": COMPLAINT_STEP,
                          "DIMENSIONS": DIMENSIONS, "SCORES": SCORES,
                          "CERTIFICATE_STATUS": CERTIFICATE_STATUS}
