"""Routes: the service desk — orders, complaints, evaluations and each laboratory's public
rating (thin: each calls one service of :mod:`labctl.platform.desk`)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from pydantic import AfterValidator

from labctl.errors import NotFoundError
from labctl.platform import desk
from labctl.platform.models.base import KEY_ALLOWED, KEY_PATTERN
from labctl.platform.models.desk import (
    AnswerIn,
    AssignIn,
    ComplaintCreate,
    ComplaintPublic,
    ComplaintStatus,
    EndIn,
    EvaluationIn,
    EvaluationPublic,
    LaboratoryRating,
    LinkCertificateIn,
    NoteIn,
    OrderCreate,
    OrderKind,
    OrderPublic,
    OrderStatus,
    Page,
    PaymentIn,
    QuoteIn,
    ReceiptIn,
)
from labctl.platform.models.org import CODE_PATTERN
from labctl.platform.routes.deps import (
    AUTHED,
    PUBLIC,
    WRITE,
    PrincipalDep,
    ReadSessionDep,
    Responses,
    RowId,
    SessionDep,
    WriterDep,
)

router = APIRouter(prefix="/api/v1")


def _key(value: str | None) -> str | None:
    if value is not None and re.fullmatch(KEY_PATTERN, value) is None:
        raise ValueError(KEY_ALLOWED)
    return value


OptionalKey = Annotated[str | None, Header(
    json_schema_extra={"pattern": KEY_PATTERN, "minLength": 1, "maxLength": 200},
    description="Optional client-chosen key (" + KEY_ALLOWED + "); a retry with the same key "
                "and body creates nothing and returns the first answer (200, "
                "`Idempotent-Replayed: true`); the same key with another body is a 409"),
    AfterValidator(_key)]
Code = Annotated[str | None, Query(pattern=CODE_PATTERN)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=desk.orders.MAX_LIMIT)]


def _created(response: Response, replayed: bool) -> None:
    if replayed:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"


_REPLAY: Responses = {200: {"description": "Replay: the key was used before, same body"}}


# --- orders ---------------------------------------------------------------------------------


@router.post("/orders", response_model=OrderPublic, status_code=201, tags=["service desk"],
             responses={**WRITE, **_REPLAY})
def book_order(body: OrderCreate, principal: WriterDep, session: SessionDep,
               response: Response, idempotency_key: OptionalKey = None) -> OrderPublic:
    """Book a calibration against a published CMC, or ask a laboratory for information
    (a customer of the organisation booked for)."""
    order, replayed = desk.book_order(session, principal=principal, data=body,
                                      idempotency_key=idempotency_key)
    _created(response, replayed)
    return desk.order_public(session, order)


@router.get("/orders", response_model=Page[OrderPublic], tags=["service desk"],
            responses=AUTHED)
def list_orders(principal: PrincipalDep, session: ReadSessionDep, laboratory: Code = None,
                customer: Code = None, status: OrderStatus | None = None,
                kind: OrderKind | None = None, offset: Offset = 0,
                limit: Limit = 50) -> Page[OrderPublic]:
    """The orders the caller may read, newest first (a laboratory's queue: by `status`)."""
    return desk.list_orders(session, principal=principal, laboratory_code=laboratory,
                            customer_code=customer, status=status, kind=kind, offset=offset,
                            limit=limit)


@router.get("/orders/{order_id}", response_model=OrderPublic, tags=["service desk"],
            responses=AUTHED)
def read_order(order_id: RowId, principal: PrincipalDep,
               session: ReadSessionDep) -> OrderPublic:
    """An order with every step (its customer's people and the laboratory's staff; anyone
    else: 404)."""
    return desk.order_public(session, desk.order_by_id(session, principal, order_id))


@router.post("/orders/{order_id}/quote", response_model=OrderPublic, tags=["service desk"],
             responses=WRITE)
def quote_order(order_id: RowId, body: QuoteIn, principal: WriterDep,
                session: SessionDep) -> OrderPublic:
    """The laboratory's quote: amount, currency, valid until (approver or admin)."""
    return desk.order_public(session, desk.quote_order(
        session, principal=principal, order_id=order_id, data=body))


@router.post("/orders/{order_id}/accept", response_model=OrderPublic, tags=["service desk"],
             responses=WRITE)
def accept_quote(order_id: RowId, body: NoteIn, principal: WriterDep,
                 session: SessionDep) -> OrderPublic:
    """The customer accepts the valid quote: the order is confirmed."""
    return desk.order_public(session, desk.accept_quote(
        session, principal=principal, order_id=order_id, data=body))


@router.post("/orders/{order_id}/payment", response_model=OrderPublic, tags=["service desk"],
             responses=WRITE)
def record_payment(order_id: RowId, body: PaymentIn, principal: WriterDep,
                   session: SessionDep) -> OrderPublic:
    """The laboratory records the payment (approver or admin)."""
    return desk.order_public(session, desk.record_payment(
        session, principal=principal, order_id=order_id, data=body))


@router.post("/orders/{order_id}/receive", response_model=OrderPublic, tags=["service desk"],
             responses=WRITE)
def receive_item(order_id: RowId, body: ReceiptIn, principal: WriterDep,
                 session: SessionDep) -> OrderPublic:
    """A technician takes the paid-for item in, with its condition on receipt."""
    return desk.order_public(session, desk.receive_item(
        session, principal=principal, order_id=order_id, data=body))


@router.post("/orders/{order_id}/start", response_model=OrderPublic, tags=["service desk"],
             responses=WRITE)
def start_work(order_id: RowId, body: NoteIn, principal: WriterDep,
               session: SessionDep) -> OrderPublic:
    """A technician starts the calibration."""
    return desk.order_public(session, desk.start_work(
        session, principal=principal, order_id=order_id, data=body))


@router.post("/orders/{order_id}/certificate", response_model=OrderPublic,
             tags=["service desk"], responses=WRITE)
def link_certificate(order_id: RowId, body: LinkCertificateIn, principal: WriterDep,
                     session: SessionDep) -> OrderPublic:
    """Link the laboratory's draft certificate: it gets the order's customer, address, item
    and date of receipt (a technician)."""
    return desk.order_public(session, desk.link_certificate(
        session, principal=principal, order_id=order_id, data=body))


@router.post("/orders/{order_id}/complete", response_model=OrderPublic, tags=["service desk"],
             responses=WRITE)
def complete_order(order_id: RowId, body: NoteIn, principal: WriterDep,
                   session: SessionDep) -> OrderPublic:
    """Complete the order once its certificate is issued (approver or admin)."""
    return desk.order_public(session, desk.complete_order(
        session, principal=principal, order_id=order_id, data=body))


@router.post("/orders/{order_id}/answer", response_model=OrderPublic, tags=["service desk"],
             responses=WRITE)
def answer_request(order_id: RowId, body: AnswerIn, principal: WriterDep,
                   session: SessionDep) -> OrderPublic:
    """Answer an information request (staff of the laboratory): it is completed."""
    return desk.order_public(session, desk.answer_request(
        session, principal=principal, order_id=order_id, data=body))


@router.post("/orders/{order_id}/cancel", response_model=OrderPublic, tags=["service desk"],
             responses=WRITE)
def cancel_order(order_id: RowId, body: EndIn, principal: WriterDep,
                 session: SessionDep) -> OrderPublic:
    """Cancel with a reason (the customer until work starts; the laboratory's approver or
    admin until it is completed)."""
    return desk.order_public(session, desk.cancel_order(
        session, principal=principal, order_id=order_id, data=body))


@router.post("/orders/{order_id}/reject", response_model=OrderPublic, tags=["service desk"],
             responses=WRITE)
def reject_order(order_id: RowId, body: EndIn, principal: WriterDep,
                 session: SessionDep) -> OrderPublic:
    """The laboratory declines a request before a quote is accepted, with the reason."""
    return desk.order_public(session, desk.reject_order(
        session, principal=principal, order_id=order_id, data=body))


@router.post("/orders/{order_id}/evaluation", response_model=EvaluationPublic,
             status_code=201, tags=["service desk"], responses=WRITE)
def evaluate_order(order_id: RowId, body: EvaluationIn, principal: WriterDep,
                   session: SessionDep) -> EvaluationPublic:
    """The customer rates a completed order on five dimensions, 1–5 each, once (409)."""
    return desk.evaluation_public(session, desk.evaluate_order(
        session, principal=principal, order_id=order_id, data=body))


@router.get("/orders/{order_id}/evaluation", response_model=EvaluationPublic,
            tags=["service desk"], responses=AUTHED)
def read_evaluation(order_id: RowId, principal: PrincipalDep,
                    session: ReadSessionDep) -> EvaluationPublic:
    """The order's evaluation (404 if none yet)."""
    row = desk.evaluation_of(session, principal=principal, order_id=order_id)
    if row is None:
        raise NotFoundError("evaluation of order", order_id)
    return desk.evaluation_public(session, row)


@router.get("/laboratories/{code}/rating", response_model=LaboratoryRating,
            tags=["service desk"], responses=PUBLIC)
def laboratory_rating(code: str, session: ReadSessionDep) -> LaboratoryRating:
    """Public: the laboratory's evaluations per dimension (mean, count, distribution)."""
    return desk.laboratory_rating(session, code)


# --- complaints -----------------------------------------------------------------------------


@router.post("/complaints", response_model=ComplaintPublic, status_code=201,
             tags=["service desk"], responses={**WRITE, **_REPLAY})
def file_complaint(body: ComplaintCreate, principal: WriterDep, session: SessionDep,
                   response: Response,
                   idempotency_key: OptionalKey = None) -> ComplaintPublic:
    """A customer complains about one of their orders or about a laboratory."""
    complaint, replayed = desk.file_complaint(session, principal=principal, data=body,
                                              idempotency_key=idempotency_key)
    _created(response, replayed)
    return desk.complaint_public(session, complaint)


@router.get("/complaints", response_model=Page[ComplaintPublic], tags=["service desk"],
            responses=AUTHED)
def list_complaints(principal: PrincipalDep, session: ReadSessionDep,
                    laboratory: Code = None, status: ComplaintStatus | None = None,
                    offset: Offset = 0, limit: Limit = 50) -> Page[ComplaintPublic]:
    """The complaints the caller may read, newest first."""
    return desk.list_complaints(session, principal=principal, laboratory_code=laboratory,
                                status=status, offset=offset, limit=limit)


@router.get("/complaints/{complaint_id}", response_model=ComplaintPublic,
            tags=["service desk"], responses=AUTHED)
def read_complaint(complaint_id: RowId, principal: PrincipalDep,
                   session: ReadSessionDep) -> ComplaintPublic:
    """A complaint with every step and the answer."""
    return desk.complaint_public(session, desk.complaint_by_id(session, principal,
                                                               complaint_id))


@router.post("/complaints/{complaint_id}/assign", response_model=ComplaintPublic,
             tags=["service desk"], responses=WRITE)
def assign_handler(complaint_id: RowId, body: AssignIn, principal: WriterDep,
                   session: SessionDep) -> ComplaintPublic:
    """Name the handler: a person of the laboratory independent of the work (approver or
    admin)."""
    return desk.complaint_public(session, desk.assign_handler(
        session, principal=principal, complaint_id=complaint_id, data=body))


@router.post("/complaints/{complaint_id}/investigate", response_model=ComplaintPublic,
             tags=["service desk"], responses=WRITE)
def start_investigation(complaint_id: RowId, body: NoteIn, principal: WriterDep,
                        session: SessionDep) -> ComplaintPublic:
    """The handler takes the complaint under investigation."""
    return desk.complaint_public(session, desk.start_investigation(
        session, principal=principal, complaint_id=complaint_id, data=body))


@router.post("/complaints/{complaint_id}/answer", response_model=ComplaintPublic,
             tags=["service desk"], responses=WRITE)
def answer_complaint(complaint_id: RowId, body: AnswerIn, principal: WriterDep,
                     session: SessionDep) -> ComplaintPublic:
    """The handler answers; the customer reads the answer."""
    return desk.complaint_public(session, desk.answer_complaint(
        session, principal=principal, complaint_id=complaint_id, data=body))


@router.post("/complaints/{complaint_id}/close", response_model=ComplaintPublic,
             tags=["service desk"], responses=WRITE)
def close_complaint(complaint_id: RowId, body: NoteIn, principal: WriterDep,
                    session: SessionDep) -> ComplaintPublic:
    """The handler or the customer closes an answered complaint."""
    return desk.complaint_public(session, desk.close_complaint(
        session, principal=principal, complaint_id=complaint_id, data=body))
