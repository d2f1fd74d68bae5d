"""The laboratory's service-desk pages: the order queue (``/staff/orders``) and each order's
steps, the complaints queue (``/staff/complaints``) and each complaint's handling.

Each button is offered from the same checks the service makes (``desk.allowed_steps``,
the policy's ``may_*``); a step the person may not take is shown disabled with the reason,
and a forged request is refused by the service itself (nothing changes). A complaint's
handler must have taken no part in the work: those who did are listed, unable to be chosen,
with what they did.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError as InputError

from labctl.errors import ConflictError, PermissionDeniedError, ValidationError
from labctl.platform import desk
from labctl.platform.accounts import policy
from labctl.platform.db import utcnow
from labctl.platform.desk import complaints as desk_complaints
from labctl.platform.desk import orders as desk_orders
from labctl.platform.models.base import CertificateStatus
from labctl.platform.models.desk import (
    AnswerIn,
    AssignIn,
    ComplaintStatus,
    EndIn,
    LinkCertificateIn,
    NoteIn,
    OrderKind,
    OrderStatus,
    PaymentIn,
    QuoteIn,
    ReceiptIn,
)
from labctl.platform.models.org import Organisation
from labctl.platform.pages.forms import (
    CALIBRATION_PATH,
    COMPLAINT_PATH,
    INFORMATION_PATH,
    ROLE_NAMES,
    field_errors,
    participation,
    steps_view,
)
from labctl.platform.pages.my import LABELS
from labctl.platform.pages.render import N_, gettext_for, page_count, render
from labctl.platform.pages.session import CsrfDep, PageUser, PageUserDep
from labctl.platform.results.records import users_by_id
from labctl.platform.routes.deps import ReadSessionDep, SessionDep

router = APIRouter()

PAGE_SIZE = 25
OrderId = Annotated[int, Path(ge=1, le=2**31 - 1)]

#: The queue's tabs: (status, label). ``None``: every order.
ORDER_QUEUES: tuple[tuple[str | None, str], ...] = (
    ("requested", N_("To quote")),
    ("quoted", N_("Waiting for the customer")),
    ("confirmed", N_("To receive payment")),
    ("payment_received", N_("To receive the item")),
    ("item_received", N_("To start")),
    ("in_progress", N_("In progress")),
    ("completed", N_("Completed")),
    ("cancelled", N_("Cancelled")),
    ("rejected", N_("Rejected")),
    (None, N_("All")),
)

#: The laboratory's steps offered in each state (the service decides whether each is allowed).
STEPS_IN_STATE: dict[str, tuple[str, ...]] = {
    "requested": ("quote", "answer", "reject", "cancel"),
    "quoted": ("quote", "reject", "cancel"),
    "confirmed": ("payment", "cancel"),
    "payment_received": ("receive", "cancel"),
    "item_received": ("start", "certificate", "cancel"),
    "in_progress": ("certificate", "complete", "cancel"),
}

#: What each laboratory step's button says.
STEP_BUTTONS: dict[str, str] = {
    "quote": N_("Send the quote"), "answer": N_("Send the answer"),
    "reject": N_("Reject the request"), "cancel": N_("Cancel the order"),
    "payment": N_("Record the payment"), "receive": N_("Record receipt of the item"),
    "start": N_("Start the calibration"), "certificate": N_("Link the certificate"),
    "complete": N_("Complete the order"),
}

#: What a person is told when a field of a step's form is refused (English; translated).
STEP_ADVICE: dict[str, str] = {
    "amount": N_("Please give a price above 0 with at most two decimals."),
    "currency": N_("Please give the currency as three capital letters, such as CNY or EUR."),
    "valid_until": N_("Please choose a date from today up to one year ahead."),
    "reference": N_("Please give the payment's reference (up to 100 characters)."),
    "condition": N_("Please describe the item's condition on receipt."),
    "received_on": N_("The date of receipt cannot be in the future or before the order."),
    "certificate_number": N_("Please give the number of a draft certificate of this "
                             "laboratory for the order's quantity."),
    "reason": N_("Please give the reason (up to 1000 characters)."),
    "answer": N_("Please write the answer."),
    "note": N_("The note is too long."),
    "handler": N_("Please choose a person who took no part in the work."),
}
STEP_FALLBACK = N_("Please check this value.")


def _roles_reason(_: Any, step: str) -> str:
    roles = policy.ORDER_STEP_ROLES.get("quote" if step == "cancel" else step, ())
    names = " / ".join(_(ROLE_NAMES[r.value]) for r in roles)
    return str(_("Only a person with the role %(roles)s in the laboratory may do this.",
                 roles=names))


def _staff_labs(session: Any, user: PageUser) -> list[Organisation]:
    ids = policy.staff_laboratories(session, user.principal)
    rows = [session.get(Organisation, i) for i in ids]
    return [o for o in rows if o is not None]


# --- orders ------------------------------------------------------------------------------------


@router.get("/staff/orders")
def order_queue(request: Request, user: PageUserDep, session: ReadSessionDep,
                status: Annotated[str, Query(max_length=32)] = "requested",
                kind: Annotated[str, Query(max_length=32)] = "",
                laboratory: Annotated[str, Query(max_length=32)] = "",
                page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:
    """The laboratory's orders by state (the queue a laboratory works from), newest first."""
    labs = _staff_labs(session, user)
    chosen = status if status in {s.value for s in OrderStatus} else None
    kind_value = OrderKind(kind) if kind in {k.value for k in OrderKind} else None
    lab_code = laboratory if laboratory in {o.code for o in labs} else None
    counts: dict[str | None, int] = {}
    if labs:
        if kind_value is None:  # one grouped count (desk.queue_counts)
            by_state = desk_orders.queue_counts(session, principal=user.principal,
                                                laboratory_code=lab_code)
            counts = {s.value: n for s, n in by_state.items()}
            counts[None] = sum(by_state.values())
        else:
            for value, _label in ORDER_QUEUES:
                counts[value] = desk.list_orders(
                    session, principal=user.principal, laboratory_code=lab_code,
                    status=OrderStatus(value) if value else None, kind=kind_value,
                    limit=1).total
        rows = desk.list_orders(session, principal=user.principal, laboratory_code=lab_code,
                                status=OrderStatus(chosen) if chosen else None,
                                kind=kind_value, offset=(page - 1) * PAGE_SIZE,
                                limit=PAGE_SIZE)
        lab_ids = {o.code for o in labs}
        items = [o for o in rows.items if o.laboratory_code in lab_ids]
        total = rows.total
    else:
        items, total = [], 0
    return render(request, "desk/orders.html", {
        "labs": labs, "queues": ORDER_QUEUES, "counts": counts, "status": chosen,
        "kind": kind_value.value if kind_value else "", "laboratory": lab_code or "",
        "orders": items, "total": total, "page": page,
        "pages": page_count(total, PAGE_SIZE), **LABELS}, title=N_("Orders"))


def _staff_order_page(request: Request, session: Any, user: PageUser, order: Any, *,
                      errors: dict[str, dict[str, str]] | None = None,
                      values: dict[str, dict[str, str]] | None = None,
                      status_code: int = 200) -> Response:
    _ = gettext_for(request)
    public = desk.order_public(session, order)
    if not policy.is_lab_staff(session, user.principal, order.laboratory_id):
        # the customer's own people read it on their side
        return RedirectResponse(f"/my/orders/{order.id}", status_code=303)
    allowed = set(desk.allowed_steps(session, user.principal, order))
    cert = desk.linked_certificate(session, order)
    actions = []
    for step in STEPS_IN_STATE.get(public.status.value, ()):
        if step == "answer" and public.kind != OrderKind.INFORMATION:
            continue
        if step in ("quote", "payment", "receive", "start", "certificate", "complete") and \
                public.kind != OrderKind.CALIBRATION:
            continue
        reason = "" if step in allowed else _roles_reason(_, step)
        if step == "complete" and not reason and (
                cert is None or cert.status != CertificateStatus.ISSUED):
            reason = _("The order is completed once its linked certificate is issued.")
        actions.append({"step": step, "enabled": not reason, "reason": reason,
                        "button": STEP_BUTTONS[step]})
    path = CALIBRATION_PATH if public.kind == OrderKind.CALIBRATION else INFORMATION_PATH
    today = utcnow().date()
    row = desk.evaluation_of(session, principal=user.principal, order_id=order.id) \
        if public.evaluated else None
    evaluation = desk.evaluation_public(session, row) if row is not None else None
    linkable = desk.linkable_certificates(session, order) \
        if any(a["step"] == "certificate" and a["enabled"] for a in actions) else []
    return render(request, "desk/order.html", {
        "order": public, "actions": actions, "certificate": cert, "linkable": linkable,
        "steps": steps_view(public.steps, path, public.status.value),
        "errors": errors or {}, "values": values or {}, "today": today.isoformat(),
        "default_until": (today + timedelta(days=30)).isoformat(), "evaluation": evaluation,
        **LABELS}, status_code=status_code, title=N_("Order"))


@router.get("/staff/orders/{order_id}")
def staff_order(request: Request, order_id: OrderId, user: PageUserDep,
                session: ReadSessionDep) -> Response:
    order = desk.order_by_id(session, user.principal, order_id)
    return _staff_order_page(request, session, user, order)


def _step_form(request: Request, session: Any, user: PageUser, order_id: int, step: str,
               build: Any, act: Any, values: dict[str, str]) -> Response:
    """Builds the step's input (the API's model), calls the service; a refused field is
    shown next to it on the order page (422), every other refusal is an error page."""
    _ = gettext_for(request)
    try:
        data = build()
        act(session, principal=user.principal, order_id=order_id, data=data)
    except (InputError, ValidationError) as exc:
        session.rollback()
        order = desk.order_by_id(session, user.principal, order_id)
        return _staff_order_page(request, session, user, order, status_code=422,
                                 values={step: values},
                                 errors={step: field_errors(exc, STEP_ADVICE, _,
                                                            STEP_FALLBACK)})
    return RedirectResponse(f"/staff/orders/{order_id}", status_code=303)


@router.post("/staff/orders/{order_id}/quote", dependencies=[CsrfDep])
def quote(request: Request, order_id: OrderId, user: PageUserDep, session: SessionDep,
          amount: Annotated[str, Form(max_length=40)] = "",
          currency: Annotated[str, Form(max_length=10)] = "",
          valid_until: Annotated[str, Form(max_length=20)] = "",
          note: Annotated[str, Form(max_length=20_000)] = "") -> Response:
    values = {"amount": amount, "currency": currency, "valid_until": valid_until,
              "note": note}
    return _step_form(request, session, user, order_id, "quote", lambda: QuoteIn.model_validate(
        {"amount": amount.strip(), "currency": currency.strip().upper(),
         "valid_until": valid_until.strip(), "note": note.strip()}), desk.quote_order, values)


@router.post("/staff/orders/{order_id}/payment", dependencies=[CsrfDep])
def payment(request: Request, order_id: OrderId, user: PageUserDep, session: SessionDep,
            reference: Annotated[str, Form(max_length=1000)] = "",
            note: Annotated[str, Form(max_length=20_000)] = "") -> Response:
    return _step_form(request, session, user, order_id, "payment", lambda: PaymentIn(
        reference=reference.strip(), note=note.strip()), desk.record_payment,
        {"reference": reference, "note": note})


@router.post("/staff/orders/{order_id}/receive", dependencies=[CsrfDep])
def receive(request: Request, order_id: OrderId, user: PageUserDep, session: SessionDep,
            condition: Annotated[str, Form(max_length=20_000)] = "",
            received_on: Annotated[str, Form(max_length=20)] = "") -> Response:
    return _step_form(request, session, user, order_id, "receive",
                      lambda: ReceiptIn.model_validate({"condition": condition.strip(),
                                                        "received_on": received_on or None}),
                      desk.receive_item, {"condition": condition, "received_on": received_on})


@router.post("/staff/orders/{order_id}/start", dependencies=[CsrfDep])
def start(request: Request, order_id: OrderId, user: PageUserDep, session: SessionDep,
          note: Annotated[str, Form(max_length=20_000)] = "") -> Response:
    return _step_form(request, session, user, order_id, "start",
                      lambda: NoteIn(note=note.strip()), desk.start_work, {"note": note})


@router.post("/staff/orders/{order_id}/certificate", dependencies=[CsrfDep])
def certificate(request: Request, order_id: OrderId, user: PageUserDep, session: SessionDep,
                certificate_number: Annotated[str, Form(max_length=200)] = "") -> Response:
    return _step_form(request, session, user, order_id, "certificate",
                      lambda: LinkCertificateIn(certificate_number=certificate_number.strip()),
                      desk.link_certificate, {"certificate_number": certificate_number})


@router.post("/staff/orders/{order_id}/complete", dependencies=[CsrfDep])
def complete(request: Request, order_id: OrderId, user: PageUserDep, session: SessionDep,
             note: Annotated[str, Form(max_length=20_000)] = "") -> Response:
    return _step_form(request, session, user, order_id, "complete",
                      lambda: NoteIn(note=note.strip()), desk.complete_order, {"note": note})


@router.post("/staff/orders/{order_id}/answer", dependencies=[CsrfDep])
def answer(request: Request, order_id: OrderId, user: PageUserDep, session: SessionDep,
           answer: Annotated[str, Form(max_length=20_000)] = "") -> Response:
    return _step_form(request, session, user, order_id, "answer",
                      lambda: AnswerIn(answer=answer.strip()), desk.answer_request,
                      {"answer": answer})


@router.post("/staff/orders/{order_id}/reject", dependencies=[CsrfDep])
def reject(request: Request, order_id: OrderId, user: PageUserDep, session: SessionDep,
           reason: Annotated[str, Form(max_length=5000)] = "") -> Response:
    return _step_form(request, session, user, order_id, "reject",
                      lambda: EndIn(reason=reason.strip()), desk.reject_order,
                      {"reason": reason})


@router.post("/staff/orders/{order_id}/cancel", dependencies=[CsrfDep])
def cancel(request: Request, order_id: OrderId, user: PageUserDep, session: SessionDep,
           reason: Annotated[str, Form(max_length=5000)] = "") -> Response:
    return _step_form(request, session, user, order_id, "cancel",
                      lambda: EndIn(reason=reason.strip()), desk.cancel_order,
                      {"reason": reason})


# --- complaints --------------------------------------------------------------------------------


@router.get("/staff/complaints")
def complaint_queue(request: Request, user: PageUserDep, session: ReadSessionDep,
                    status: Annotated[str, Query(max_length=32)] = "",
                    page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:
    labs = _staff_labs(session, user)
    chosen = ComplaintStatus(status) if status in {s.value for s in ComplaintStatus} else None
    items: list[Any] = []
    total = 0
    if labs:
        rows = desk.list_complaints(session, principal=user.principal, status=chosen,
                                    offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
        codes = {o.code for o in labs}
        items = [c for c in rows.items if c.laboratory_code in codes]
        total = rows.total
    return render(request, "desk/complaints.html", {
        "labs": labs, "complaints": items, "total": total, "status": status if chosen else "",
        "statuses": [s.value for s in ComplaintStatus], "page": page,
        "pages": page_count(total, PAGE_SIZE), **LABELS}, title=N_("Complaints"))


def _may(check: Any) -> bool:
    try:
        check()
    except (PermissionDeniedError, ConflictError):
        return False
    return True


def _staff_complaint_page(request: Request, session: Any, user: PageUser, complaint: Any, *,
                          errors: dict[str, dict[str, str]] | None = None,
                          status_code: int = 200) -> Response:
    _ = gettext_for(request)
    if not policy.is_lab_staff(session, user.principal, complaint.laboratory_id):
        return RedirectResponse(f"/my/complaints/{complaint.id}", status_code=303)
    public = desk.complaint_public(session, complaint)
    took_part = desk_complaints.participants(session, complaint)
    people = users_by_id(session, *took_part)
    may_assign = _may(lambda: policy.may_assign_handler(session, user.principal, complaint))
    state = public.status.value
    open_states = ("open", "under_investigation")
    eligible = desk.eligible_handlers(session, user.principal, complaint) \
        if may_assign and state in open_states else []
    work_reason = _("Only the complaint's assigned handler, independent of the work, "
                    "does this.")
    actions = {
        "investigate": state == "open" and complaint.handler_id is not None,
        "answer": state == "under_investigation",
        "close": state == "answered",
    }
    enabled = {
        "investigate": _may(lambda: policy.may_work_complaint(
            session, user.principal, complaint, took_part, "complaint.investigate")),
        "answer": _may(lambda: policy.may_work_complaint(
            session, user.principal, complaint, took_part, "complaint.answer")),
        "close": _may(lambda: policy.may_close_complaint(session, user.principal, complaint)),
    }
    order = desk.order_by_id(session, user.principal, complaint.order_id) \
        if complaint.order_id else None
    return render(request, "desk/complaint.html", {
        "complaint": public, "order": order,
        "steps": steps_view(public.steps, COMPLAINT_PATH, state),
        "may_assign": may_assign and state in open_states,
        "assign_reason": "" if may_assign else _roles_reason(_, "quote"),
        "eligible": eligible,
        "took_part": [(people[uid], participation(what, _)) for uid, what in took_part.items()
                      if uid in people],
        "actions": actions, "enabled": enabled, "work_reason": work_reason,
        "errors": errors or {}, **LABELS}, status_code=status_code, title=N_("Complaint"))


@router.get("/staff/complaints/{complaint_id}")
def staff_complaint(request: Request, complaint_id: OrderId, user: PageUserDep,
                    session: ReadSessionDep) -> Response:
    complaint = desk.complaint_by_id(session, user.principal, complaint_id)
    return _staff_complaint_page(request, session, user, complaint)


def _complaint_step(request: Request, session: Any, user: PageUser, complaint_id: int,
                    step: str, build: Any, act: Any) -> Response:
    _ = gettext_for(request)
    try:
        data = build()
        act(session, principal=user.principal, complaint_id=complaint_id, data=data)
    except (InputError, ValidationError) as exc:
        session.rollback()
        complaint = desk.complaint_by_id(session, user.principal, complaint_id)
        return _staff_complaint_page(request, session, user, complaint, status_code=422,
                                     errors={step: field_errors(exc, STEP_ADVICE, _,
                                                                STEP_FALLBACK)})
    return RedirectResponse(f"/staff/complaints/{complaint_id}", status_code=303)


@router.post("/staff/complaints/{complaint_id}/assign", dependencies=[CsrfDep])
def assign(request: Request, complaint_id: OrderId, user: PageUserDep, session: SessionDep,
           handler: Annotated[str, Form(max_length=200)] = "",
           note: Annotated[str, Form(max_length=20_000)] = "") -> Response:
    return _complaint_step(request, session, user, complaint_id, "assign",
                           lambda: AssignIn(handler=handler.strip(), note=note.strip()),
                           desk.assign_handler)


@router.post("/staff/complaints/{complaint_id}/investigate", dependencies=[CsrfDep])
def investigate(request: Request, complaint_id: OrderId, user: PageUserDep,
                session: SessionDep,
                note: Annotated[str, Form(max_length=20_000)] = "") -> Response:
    return _complaint_step(request, session, user, complaint_id, "investigate",
                           lambda: NoteIn(note=note.strip()), desk.start_investigation)


@router.post("/staff/complaints/{complaint_id}/answer", dependencies=[CsrfDep])
def answer_complaint(request: Request, complaint_id: OrderId, user: PageUserDep,
                     session: SessionDep,
                     answer: Annotated[str, Form(max_length=20_000)] = "") -> Response:
    return _complaint_step(request, session, user, complaint_id, "answer",
                           lambda: AnswerIn(answer=answer.strip()), desk.answer_complaint)


@router.post("/staff/complaints/{complaint_id}/close", dependencies=[CsrfDep])
def close(request: Request, complaint_id: OrderId, user: PageUserDep, session: SessionDep,
          note: Annotated[str, Form(max_length=20_000)] = "") -> Response:
    return _complaint_step(request, session, user, complaint_id, "close",
                           lambda: NoteIn(note=note.strip()), desk.close_complaint)

