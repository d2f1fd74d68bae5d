"""Orders: a customer books a calibration (or asks for information); the laboratory quotes,
the customer accepts, the laboratory records the payment, receives the item, performs the
work, links the certificate and completes the order once the certificate is issued.

The rules (who: :mod:`labctl.platform.accounts.policy`; what, here):

* a calibration is booked against a published CMC of the laboratory; the item's range lies
  within the CMC's, in its unit. An information request names the laboratory (or a CMC) and
  is answered without quote or payment ("information is free");
* a calibration needs a quote (amount, currency, validity) the customer accepts while it is
  valid, then the payment, **before** the laboratory takes the item in: the laboratory takes
  custody of an item only for paid work (a laboratory giving credit records the payment as
  "on account" with the reference of the invoice);
* work starts only on a received item; the run's draft certificate is linked to the order
  while it is a draft (the draft gets the order's customer, address, item and date of
  receipt, through the certificate workflow's own draft edit); the order completes only once
  its certificate is issued;
* the customer cancels until the work starts; the laboratory cancels (with a reason) until
  the order is completed, and rejects a request it has not had accepted;
* each step is one transaction: every check first, then the order, its step row and the
  audit event (a refused step changes nothing). A step out of turn is a 409 saying which
  state the step needs; an order the caller may not read is a 404, as if unknown.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from labctl.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from labctl.platform import audit, certificates, registry
from labctl.platform.accounts import policy
from labctl.platform.accounts.auth import Principal
from labctl.platform.accounts.organisations import org_by_code
from labctl.platform.db import utcnow
from labctl.platform.models.base import (
    DATE_SKEW,
    EARLIEST_DATE,
    CertificateStatus,
    ReviewState,
    check_key,
    request_digest,
)
from labctl.platform.models.certificates import Certificate, CertificateUpdate
from labctl.platform.models.desk import (
    MAX_QUOTE_DAYS,
    ORDER_FINAL,
    AnswerIn,
    EndIn,
    Evaluation,
    LinkCertificateIn,
    NoteIn,
    OrderCreate,
    OrderEvent,
    OrderKind,
    OrderPublic,
    OrderStatus,
    OrderStep,
    Page,
    PaymentIn,
    QuoteIn,
    ReceiptIn,
    ServiceOrder,
    StepPublic,
)
from labctl.platform.models.org import Organisation
from labctl.platform.models.registry import Capability
from labctl.platform.results.records import users_by_id

#: Listing bounds (a page of a queue).
MAX_LIMIT = 200

S = OrderStatus
#: Before these, the customer may still cancel (the work has not started).
CUSTOMER_CANCELS = frozenset({S.REQUESTED, S.QUOTED, S.CONFIRMED, S.PAYMENT_RECEIVED,
                              S.ITEM_RECEIVED})


# --- reading --------------------------------------------------------------------------------


def order_by_id(session: Session, principal: Principal, order_id: int, *,
                lock: bool = False) -> ServiceOrder:
    """The order if the caller may read it (its customer's people, the laboratory's staff);
    otherwise 404, the same answer as for an order that does not exist. ``lock``: the row is
    locked until the transaction ends (PostgreSQL ``FOR UPDATE``; SQLite's writers are
    serialised already), so two steps taken at once cannot both pass the state check."""
    order = session.get(ServiceOrder, order_id, with_for_update=lock or None)
    if order is None or not policy.can_read_order(session, principal, order):
        raise NotFoundError("order", order_id)
    return order


def order_steps(session: Session, order: ServiceOrder) -> list[StepPublic]:
    """The order's history, oldest first, each step with its person."""
    rows = session.exec(select(OrderEvent).where(OrderEvent.order_id == order.id)
                        .order_by(col(OrderEvent.id))).all()
    people = users_by_id(session, *(r.by_id for r in rows))
    return [StepPublic(step=r.step, status=r.status, at=r.at, by=people[r.by_id].username,
                       by_name=people[r.by_id].full_name, note=r.note, data=r.data)
            for r in rows]


def order_public(session: Session, order: ServiceOrder) -> OrderPublic:
    """What both sides see of an order, with every step."""
    assert order.id is not None
    lab = session.get(Organisation, order.laboratory_id)
    customer = session.get(Organisation, order.customer_organisation_id)
    assert lab is not None and customer is not None
    evaluated = session.exec(select(Evaluation.id).where(
        Evaluation.order_id == order.id)).first() is not None
    return OrderPublic(
        id=order.id, kind=OrderKind(order.kind), status=OrderStatus(order.status),
        laboratory_code=lab.code, laboratory_name=lab.name, customer_code=customer.code,
        customer_name=order.customer_name, customer_address=order.customer_address,
        capability_id=order.capability_id, item_description=order.item_description,
        item_manufacturer=order.item_manufacturer, item_model=order.item_model,
        item_serial_number=order.item_serial_number, quantity=order.quantity,
        unit=order.unit,
        range_min=None if order.range_min is None else str(order.range_min),
        range_max=None if order.range_max is None else str(order.range_max),
        preferred_date=order.preferred_date, notes=order.notes,
        quote_amount=None if order.quote_amount is None else f"{order.quote_amount:.2f}",
        quote_currency=order.quote_currency, quote_valid_until=order.quote_valid_until,
        quote_note=order.quote_note, payment_reference=order.payment_reference,
        received_on=order.received_on, condition_on_receipt=order.condition_on_receipt,
        certificate_number=order.certificate_number, answer=order.answer,
        end_reason=order.end_reason, created_at=order.created_at,
        updated_at=order.updated_at, evaluated=evaluated, steps=order_steps(session, order))


def _page_bounds(offset: int, limit: int) -> None:
    if not 0 <= offset <= 2**31 - 1:
        raise ValidationError("offset", offset, "0 … 2147483647")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError("limit", limit, f"1 … {MAX_LIMIT}")


def list_orders(session: Session, *, principal: Principal, laboratory_code: str | None = None,
                customer_code: str | None = None, status: OrderStatus | None = None,
                kind: OrderKind | None = None, offset: int = 0,
                limit: int = 50) -> Page[OrderPublic]:
    """The orders the caller may read, newest first: a customer's organisation's, a
    laboratory's (its queue: filter by ``status``). Filters narrow; they never widen what the
    caller sees (a laboratory or customer outside it gives an empty page)."""
    _page_bounds(offset, limit)
    labs = policy.staff_laboratories(session, principal)
    customers = policy.customer_organisations(principal)
    visible = sa.or_(col(ServiceOrder.laboratory_id).in_(labs),
                     col(ServiceOrder.customer_organisation_id).in_(customers))
    query = select(ServiceOrder).where(visible)
    if laboratory_code is not None:
        query = query.where(ServiceOrder.laboratory_id == org_by_code(
            session, laboratory_code).id)
    if customer_code is not None:
        query = query.where(ServiceOrder.customer_organisation_id == org_by_code(
            session, customer_code).id)
    if status is not None:
        query = query.where(ServiceOrder.status == status.value)
    if kind is not None:
        query = query.where(ServiceOrder.kind == kind.value)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(ServiceOrder.id).desc())
                        .offset(offset).limit(limit)).all()
    return Page[OrderPublic](items=[order_public(session, o) for o in rows], total=total,
                             offset=offset, limit=limit)


def queue_counts(session: Session, *, principal: Principal,
                 laboratory_code: str | None = None) -> dict[OrderStatus, int]:
    """How many of the orders the caller may read stand in each state (a laboratory's
    queues at a glance: to quote, to confirm, to receive, ...); every state is a key."""
    visible = sa.or_(
        col(ServiceOrder.laboratory_id).in_(policy.staff_laboratories(session, principal)),
        col(ServiceOrder.customer_organisation_id).in_(
            policy.customer_organisations(principal)))
    query = select(ServiceOrder.status, func.count()).where(visible)
    if laboratory_code is not None:
        query = query.where(ServiceOrder.laboratory_id == org_by_code(
            session, laboratory_code).id)
    found = dict(session.exec(query.group_by(col(ServiceOrder.status))).all())
    return {s: int(found.get(s.value, 0)) for s in OrderStatus}


def allowed_steps(session: Session, principal: Principal, order: ServiceOrder) -> list[str]:
    """The steps the caller may take on the order now (what a page offers as buttons):
    names of the service functions' steps, decided by the same checks the steps make."""
    return [step for step, may in _STEP_CHECKS.items() if _allows(may, session, principal, order)]


def _allows(may: Callable[[Session, Principal, ServiceOrder], None], session: Session,
            principal: Principal, order: ServiceOrder) -> bool:
    try:
        may(session, principal, order)
    except (PermissionDeniedError, ConflictError):
        return False
    return True


# --- booking --------------------------------------------------------------------------------



def acting_customer(session: Session, principal: Principal, code: str | None, *,
                    action: str = "order.create", field: str = "customer_code"
                    ) -> Organisation:
    """The organisation a customer acts for (booking, filing a complaint): the one named,
    or the caller's only one."""
    if code is not None:
        org = org_by_code(session, code)
    else:
        mine = policy.customer_organisations(principal)
        if len(mine) != 1:
            if not mine:
                raise PermissionDeniedError(action, f"{principal.actor} is not a customer of "
                                            "any organisation")
            raise ValidationError(field, None, "the code of one of your organisations")
        org = session.get(Organisation, mine[0])  # type: ignore[assignment]
    assert org is not None and org.id is not None
    return org


def service_laboratory(session: Session, code: str, field: str = "laboratory_code"
                       ) -> Organisation:
    """The organisation ``code`` as a laboratory offering services: one with a published CMC
    (a customer's organisation, say, is not asked or complained about as a laboratory)."""
    lab = org_by_code(session, code)
    offers = session.exec(select(Capability.id).where(
        Capability.organisation_id == lab.id,
        Capability.review_state == ReviewState.PUBLISHED.value).limit(1)).first()
    if offers is None:
        raise ValidationError(field, code, "the code of a laboratory with published CMCs")
    return lab


def _within(data: OrderCreate, cmc: Any) -> None:
    """The item's range lies within the CMC's range, in its unit and quantity."""
    if data.quantity and data.quantity != cmc.quantity:
        raise ValidationError("quantity", data.quantity, f"the CMC's quantity {cmc.quantity}")
    if data.unit and data.unit != cmc.unit:
        raise ValidationError("unit", data.unit, f"the CMC's unit {cmc.unit}")
    allowed = f"within the CMC's range {cmc.range_min} … {cmc.range_max} {cmc.unit}"
    for name in ("range_min", "range_max"):
        value = getattr(data, name)
        if value is not None and not cmc.range_min <= value <= cmc.range_max:
            raise ValidationError(name, str(value), allowed)


def book_order(session: Session, *, principal: Principal, data: OrderCreate,
               idempotency_key: str | None = None) -> tuple[ServiceOrder, bool]:
    """Book a calibration or ask for information; ``(order, replayed)``.

    The caller is a customer of the organisation booked for. With an ``idempotency_key`` a
    retry with the same body returns the first order (``replayed``) and books nothing; the
    same key with another body is a 409.
    """
    if idempotency_key is not None:
        check_key("Idempotency-Key", idempotency_key)
    customer = acting_customer(session, principal, data.customer_code)
    assert customer.id is not None
    policy.may_book(session, principal, customer.id)
    user_id = principal.user_id
    assert user_id is not None
    digest = request_digest(data)
    if idempotency_key is not None:
        earlier = session.exec(select(ServiceOrder).where(
            ServiceOrder.created_by_id == user_id,
            ServiceOrder.idempotency_key == idempotency_key)).first()
        if earlier is not None:
            return _replay(earlier, digest), True
    cmc = None
    if data.capability_id is not None:
        cmc = registry.capability_by_id(session, data.capability_id)
        if cmc.review_state != ReviewState.PUBLISHED:
            raise NotFoundError("capability", data.capability_id)  # unpublished: not public
        lab = session.get(Organisation, cmc.organisation_id)
        assert lab is not None
        if data.laboratory_code is not None and data.laboratory_code != lab.code:
            raise ValidationError("laboratory_code", data.laboratory_code,
                                  f"the CMC's laboratory {lab.code} (or omit it)")
        _within(data, cmc)
    elif data.kind is OrderKind.CALIBRATION:
        raise ValidationError("capability_id", None,
                              "the id of a published CMC of the laboratory (a calibration is "
                              "booked against a capability)")
    elif data.laboratory_code is None:
        raise ValidationError("laboratory_code", None,
                              "the laboratory asked (or a capability_id)")
    else:
        lab = service_laboratory(session, data.laboratory_code)
    assert lab.id is not None
    if lab.id == customer.id:
        raise ValidationError("customer_code", customer.code,
                              "an organisation other than the laboratory")
    if data.kind is OrderKind.CALIBRATION:
        if not data.item_description.strip() and not data.item_model.strip():
            raise ValidationError("item_description", data.item_description,
                                  "what is to be calibrated (a description or the model)")
        if not data.item_serial_number.strip():
            raise ValidationError("item_serial_number", data.item_serial_number,
                                  "the item's serial number (the certificate identifies it)")
    elif not data.notes.strip():
        raise ValidationError("notes", data.notes, "the question asked")
    today = utcnow().date()
    if data.preferred_date is not None and not \
            today <= data.preferred_date <= today + timedelta(days=MAX_QUOTE_DAYS):
        raise ValidationError("preferred_date", data.preferred_date.isoformat(),
                              f"{today.isoformat()} … "
                              f"{(today + timedelta(days=MAX_QUOTE_DAYS)).isoformat()}")
    order = ServiceOrder(
        kind=data.kind.value, status=OrderStatus.REQUESTED.value, laboratory_id=lab.id,
        customer_organisation_id=customer.id, capability_id=cmc.id if cmc else None,
        item_description=data.item_description, item_manufacturer=data.item_manufacturer,
        item_model=data.item_model, item_serial_number=data.item_serial_number,
        quantity=data.quantity or (cmc.quantity if cmc else ""),
        unit=data.unit or (cmc.unit if cmc else ""), range_min=data.range_min,
        range_max=data.range_max, preferred_date=data.preferred_date, notes=data.notes,
        customer_name=customer.name,
        customer_address=customer.address if data.customer_address is None
        else data.customer_address,
        created_by_id=user_id, idempotency_key=idempotency_key, request_hash=digest)
    session.add(order)
    try:
        session.flush()
    except sa.exc.IntegrityError:
        # the same key, booked at the same moment by a retry in flight: answer as it did
        session.rollback()
        earlier = session.exec(select(ServiceOrder).where(
            ServiceOrder.created_by_id == user_id,
            ServiceOrder.idempotency_key == idempotency_key)).first()
        if earlier is None:
            raise
        return _replay(earlier, digest), True
    _step(session, principal, order, OrderStep.REQUESTED, note=data.notes,
          data=data.model_dump(mode="json", exclude_none=True))
    session.commit()
    return order, False


def _replay(order: ServiceOrder, digest: str) -> ServiceOrder:
    if order.request_hash != digest:
        raise ConflictError(f"Idempotency-Key {order.idempotency_key!r} was already used for "
                            f"another booking (order {order.id})", reason="key_reused")
    return order


# --- steps ----------------------------------------------------------------------------------


def _step(session: Session, principal: Principal, order: ServiceOrder, step: OrderStep, *,
          note: str = "", data: dict[str, Any] | None = None, reason: str = "") -> None:
    """Write the order, its step row and the step's audit event (the caller commits)."""
    assert principal.user_id is not None
    order.updated_at = utcnow()
    session.add(order)
    session.flush()
    session.add(OrderEvent(order_id=order.id, step=step.value,  # type: ignore[arg-type]
                           status=order.status, by_id=principal.user_id, note=note,
                           data=data or {}))
    audit.record(session, actor=principal.actor, action=f"order.{step.value}",
                 entity_type="order", entity_id=str(order.id),
                 organisation_id=order.laboratory_id, reason=reason,
                 data={"status": order.status, "note": note, **(data or {})})


def _in_state(order: ServiceOrder, states: frozenset[OrderStatus] | set[OrderStatus],
              what: str) -> None:
    if OrderStatus(order.status) not in states:
        raise ConflictError(f"order {order.id} is {order.status.replace('_', ' ')}; {what}",
                            reason="order_state", order=order.id, status=order.status)


def _calibration(order: ServiceOrder, what: str) -> None:
    if order.kind != OrderKind.CALIBRATION:
        raise ConflictError(f"order {order.id} is a request for information: {what}",
                            reason="order_kind", order=order.id, kind=order.kind)


def _lab_step(step: str, states: set[OrderStatus], what: str, *,
              calibration: bool = True) -> Callable[[Session, Principal, ServiceOrder], None]:
    def may(session: Session, principal: Principal, order: ServiceOrder) -> None:
        policy.may_order_step(session, principal, order, step)
        if calibration:
            _calibration(order, "it has no " + step)
        _in_state(order, states, what)
    return may


_may_quote = _lab_step("quote", {S.REQUESTED, S.QUOTED},
                       "a request is quoted (or re-quoted before it is accepted)")
_may_pay = _lab_step("payment", {S.CONFIRMED}, "payment is recorded once the quote is accepted")
_may_receive = _lab_step("receive", {S.PAYMENT_RECEIVED},
                         "the item is received once the payment is recorded")
_may_start = _lab_step("start", {S.ITEM_RECEIVED}, "work starts on a received item")
_may_link = _lab_step("certificate", {S.ITEM_RECEIVED, S.IN_PROGRESS},
                      "a certificate is linked to an order being worked on")
_may_complete = _lab_step("complete", {S.IN_PROGRESS}, "an order in progress is completed")
_may_answer = _lab_step("answer", {S.REQUESTED}, "a request is answered once",
                        calibration=False)
_may_reject = _lab_step("reject", {S.REQUESTED, S.QUOTED},
                        "a request is rejected before its quote is accepted",
                        calibration=False)


def _may_accept(session: Session, principal: Principal, order: ServiceOrder) -> None:
    policy.may_accept_quote(session, principal, order)
    _calibration(order, "there is no quote to accept")
    _in_state(order, {S.QUOTED}, "a quoted order is accepted")
    assert order.quote_valid_until is not None
    if order.quote_valid_until < utcnow().date():
        raise ConflictError(f"the quote of order {order.id} expired on "
                            f"{order.quote_valid_until.isoformat()}: ask the laboratory for a "
                            "new one", reason="quote_expired", order=order.id,
                            date=order.quote_valid_until.isoformat())


def _may_cancel(session: Session, principal: Principal, order: ServiceOrder) -> None:
    side = policy.may_cancel_order(session, principal, order)
    if side == "customer":
        _in_state(order, CUSTOMER_CANCELS,
                  "the customer cancels until the work starts (ask the laboratory)")
    else:
        _in_state(order, set(OrderStatus) - ORDER_FINAL, "a completed or ended order stays")


def _may_answer_information(session: Session, principal: Principal,
                            order: ServiceOrder) -> None:
    _may_answer(session, principal, order)
    if order.kind != OrderKind.INFORMATION:
        raise ConflictError(f"order {order.id} is a calibration: it is quoted, not answered",
                            reason="order_kind", order=order.id, kind=order.kind)


_STEP_CHECKS: dict[str, Callable[[Session, Principal, ServiceOrder], None]] = {
    "quote": _may_quote, "accept": _may_accept, "payment": _may_pay, "receive": _may_receive,
    "start": _may_start, "certificate": _may_link, "complete": _may_complete,
    "answer": _may_answer_information, "reject": _may_reject, "cancel": _may_cancel,
}


def check_step(session: Session, principal: Principal, order: ServiceOrder, step: str) -> None:
    """Raises what taking ``step`` on ``order`` now would meet (403, 409), before another
    service does work that the step would then refuse (a run's draft made for an order)."""
    _STEP_CHECKS[step](session, principal, order)


def _acted(session: Session, principal: Principal, order_id: int,
           may: Callable[[Session, Principal, ServiceOrder], None]) -> ServiceOrder:
    """The order (404 if unreadable), after the step's checks (403, 409)."""
    order = order_by_id(session, principal, order_id, lock=True)
    may(session, principal, order)
    return order


def quote_order(session: Session, *, principal: Principal, order_id: int,
                data: QuoteIn) -> ServiceOrder:
    """The laboratory's quote (approver or admin): amount, currency, valid until (today …
    a year on). A quote not yet accepted may be replaced."""
    order = _acted(session, principal, order_id, _may_quote)
    today = utcnow().date()
    latest = today + timedelta(days=MAX_QUOTE_DAYS)
    if not today <= data.valid_until <= latest:
        raise ValidationError("valid_until", data.valid_until.isoformat(),
                              f"{today.isoformat()} … {latest.isoformat()}")
    order.quote_amount = data.amount
    order.quote_currency = data.currency
    order.quote_valid_until = data.valid_until
    order.quote_note = data.note
    order.quoted_by_id = principal.user_id
    order.status = S.QUOTED.value
    _step(session, principal, order, OrderStep.QUOTED, note=data.note,
          data={"amount": str(data.amount), "currency": data.currency,
                "valid_until": data.valid_until.isoformat()})
    session.commit()
    return order


def accept_quote(session: Session, *, principal: Principal, order_id: int,
                 data: NoteIn) -> ServiceOrder:
    """The customer accepts the quote while it is valid: the order is confirmed."""
    order = _acted(session, principal, order_id, _may_accept)
    order.accepted_by_id = principal.user_id
    order.status = S.CONFIRMED.value
    _step(session, principal, order, OrderStep.ACCEPTED, note=data.note,
          data={"amount": str(order.quote_amount), "currency": order.quote_currency})
    session.commit()
    return order


def record_payment(session: Session, *, principal: Principal, order_id: int,
                   data: PaymentIn) -> ServiceOrder:
    """The laboratory records the payment of the accepted quote (approver or admin)."""
    order = _acted(session, principal, order_id, _may_pay)
    order.payment_reference = data.reference
    order.payment_by_id = principal.user_id
    order.status = S.PAYMENT_RECEIVED.value
    _step(session, principal, order, OrderStep.PAYMENT_RECEIVED, note=data.note,
          data={"reference": data.reference})
    session.commit()
    return order


def receive_item(session: Session, *, principal: Principal, order_id: int,
                 data: ReceiptIn) -> ServiceOrder:
    """A technician takes the item in and records its condition (ISO/IEC 17025 7.4.3); the
    date of receipt is today (UTC) unless given: the laboratory's own date, which may be a
    day either side of the UTC date (:data:`DATE_SKEW`), never before the day of booking."""
    order = _acted(session, principal, order_id, _may_receive)
    today = utcnow().date()
    on = data.received_on or today
    earliest = max(order.created_at.date() - DATE_SKEW, EARLIEST_DATE)
    latest = today + DATE_SKEW
    if not earliest <= on <= latest:
        raise ValidationError("received_on", on.isoformat(),
                              f"{earliest.isoformat()} … {latest.isoformat()}")
    order.received_on = on
    order.condition_on_receipt = data.condition
    order.received_by_id = principal.user_id
    order.status = S.ITEM_RECEIVED.value
    _step(session, principal, order, OrderStep.ITEM_RECEIVED, note=data.condition,
          data={"received_on": on.isoformat()})
    session.commit()
    return order


def start_work(session: Session, *, principal: Principal, order_id: int,
               data: NoteIn) -> ServiceOrder:
    """A technician starts the calibration of the received item."""
    order = _acted(session, principal, order_id, _may_start)
    order.started_by_id = principal.user_id
    order.status = S.IN_PROGRESS.value
    _step(session, principal, order, OrderStep.STARTED, note=data.note)
    session.commit()
    return order


def link_certificate(session: Session, *, principal: Principal, order_id: int,
                     data: LinkCertificateIn) -> ServiceOrder:
    """Link the laboratory's draft certificate to the order (a technician): the draft gets
    the order's customer organisation, name, address, item (maker, model, serial number)
    and date of receipt by the certificate workflow's draft edit (the technician becomes a
    contributor of the draft, as any editor does). Only a draft (or checked) revision of
    this laboratory, not linked to another order, for the order's quantity."""
    order = _acted(session, principal, order_id, _may_link)
    number = data.certificate_number
    try:
        cert = certificates.latest(session, number)
    except NotFoundError:
        raise NotFoundError("certificate", number) from None
    if cert.organisation_id != order.laboratory_id:
        raise NotFoundError("certificate", number)  # another laboratory's: not shown
    if cert.status not in (CertificateStatus.DRAFT, CertificateStatus.CHECKED):
        raise ConflictError(f"certificate {number} is {cert.status}: only a draft takes the "
                            "order's details (an issued certificate is immutable)",
                            reason="certificate_state", number=number, status=cert.status)
    if order.quantity and cert.quantity != order.quantity:
        raise ValidationError("certificate_number", number,
                              f"a certificate of the order's quantity {order.quantity} "
                              f"(this one is of {cert.quantity})")
    other = session.exec(select(ServiceOrder.id).where(
        ServiceOrder.certificate_number == number, ServiceOrder.id != order.id)).first()
    if other is not None:
        raise ConflictError(f"certificate {number} is already linked to order {other}",
                            reason="certificate_linked", number=number, order=other)
    fill: dict[str, Any] = {"customer_name": order.customer_name,
                            "customer_address": order.customer_address,
                            "receipt_date": order.received_on}
    for name in ("item_description", "item_manufacturer", "item_model",
                 "item_serial_number"):
        if getattr(order, name).strip():
            fill[name] = getattr(order, name)
    certificates.update_draft(
        session, principal=principal, number=number,
        data=CertificateUpdate(reason=f"customer, item and receipt from order {order.id}",
                               **fill),
        customer_organisation_id=order.customer_organisation_id, commit=False)
    order.certificate_number = number
    order.linked_by_id = principal.user_id
    _step(session, principal, order, OrderStep.CERTIFICATE_LINKED,
          data={"certificate_number": number})
    session.commit()
    return order


def linkable_certificates(session: Session, order: ServiceOrder, *,
                          limit: int = 50) -> list[Certificate]:
    """The drafts a technician can link to ``order`` (what the order page offers to pick):
    first revisions of the order's laboratory, draft or checked, of the order's quantity, not
    linked to any order; newest first. ``link_certificate`` makes the same checks."""
    linked = select(ServiceOrder.certificate_number).where(
        ServiceOrder.certificate_number != "")
    query = select(Certificate).where(
        Certificate.organisation_id == order.laboratory_id, Certificate.revision == 1,
        col(Certificate.status).in_([CertificateStatus.DRAFT.value,
                                     CertificateStatus.CHECKED.value]),
        col(Certificate.number).not_in(linked))
    if order.quantity:
        query = query.where(Certificate.quantity == order.quantity)
    return list(session.exec(query.order_by(col(Certificate.created_at).desc(),
                                            col(Certificate.id).desc()).limit(limit)).all())


def orders_awaiting_certificate(session: Session, principal: Principal,
                                laboratory_ids: list[int], *,
                                limit: int = 50) -> list[ServiceOrder]:
    """Calibration orders of these laboratories on which the caller may link a certificate
    now (item received or in progress, none linked yet): what a run's "make the draft" form
    offers, so the draft is made for the order and linked in one go."""
    rows = session.exec(select(ServiceOrder).where(
        col(ServiceOrder.laboratory_id).in_(laboratory_ids),
        ServiceOrder.kind == OrderKind.CALIBRATION.value,
        col(ServiceOrder.status).in_([S.ITEM_RECEIVED.value, S.IN_PROGRESS.value]),
        ServiceOrder.certificate_number == "")
        .order_by(col(ServiceOrder.id).desc()).limit(limit)).all()
    return [order for order in rows if _allows(_may_link, session, principal, order)]


def linked_certificate(session: Session, order: ServiceOrder) -> Certificate | None:
    """The latest revision of the order's certificate, if one is linked."""
    if not order.certificate_number:
        return None
    return certificates.latest(session, order.certificate_number)


def complete_order(session: Session, *, principal: Principal, order_id: int,
                   data: NoteIn) -> ServiceOrder:
    """The laboratory completes the order (approver or admin) once its linked certificate
    is issued."""
    order = _acted(session, principal, order_id, _may_complete)
    cert = linked_certificate(session, order)
    if cert is None:
        raise ConflictError(f"order {order.id} has no certificate linked: link the draft, "
                            "issue it, then complete the order", reason="no_certificate",
                            order=order.id)
    if cert.status != CertificateStatus.ISSUED:
        raise ConflictError(f"certificate {cert.number} rev {cert.revision} is {cert.status}: "
                            "the order completes once its certificate is issued",
                            reason="certificate_state", number=cert.number, status=cert.status)
    order.completed_by_id = principal.user_id
    order.status = S.COMPLETED.value
    _step(session, principal, order, OrderStep.COMPLETED, note=data.note,
          data={"certificate_number": cert.number, "revision": cert.revision})
    session.commit()
    return order


def answer_request(session: Session, *, principal: Principal, order_id: int,
                   data: AnswerIn) -> ServiceOrder:
    """The laboratory answers an information request: it is completed (no quote, no
    payment)."""
    order = _acted(session, principal, order_id, _may_answer_information)
    order.answer = data.answer
    order.completed_by_id = principal.user_id
    order.status = S.COMPLETED.value
    _step(session, principal, order, OrderStep.ANSWERED, note=data.answer)
    session.commit()
    return order


def cancel_order(session: Session, *, principal: Principal, order_id: int,
                 data: EndIn) -> ServiceOrder:
    """Cancel with a reason: the customer until the work starts, the laboratory (approver
    or admin) until the order is completed."""
    order = _acted(session, principal, order_id, _may_cancel)
    order.end_reason = data.reason
    order.status = S.CANCELLED.value
    _step(session, principal, order, OrderStep.CANCELLED, note=data.reason,
          reason=data.reason)
    session.commit()
    return order


def reject_order(session: Session, *, principal: Principal, order_id: int,
                 data: EndIn) -> ServiceOrder:
    """The laboratory declines a request (approver or admin), with the reason, before the
    customer has accepted a quote."""
    order = _acted(session, principal, order_id, _may_reject)
    order.end_reason = data.reason
    order.status = S.REJECTED.value
    _step(session, principal, order, OrderStep.REJECTED, note=data.reason,
          reason=data.reason)
    session.commit()
    return order
