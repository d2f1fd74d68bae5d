"""Complaints (ISO/IEC 17025 7.9): a customer complains about an order or a laboratory; the
laboratory's approver or an admin names a handler who took no part in the work complained
about; the handler investigates and answers; the handler or the customer closes it.

open → under_investigation → answered → closed, each step dated and by whom
(``complaint_event``); the customer sees every step and the answer. The handler's
independence (:func:`labctl.platform.accounts.policy.desk_participants`: nobody who quoted,
took payment for, received, performed, linked or completed the order, and nobody who worked
on, checked or approved any revision of its certificate) is checked when the handler is named
and again at every step they take.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from labctl.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from labctl.platform import audit
from labctl.platform.accounts import policy
from labctl.platform.accounts.auth import Principal
from labctl.platform.accounts.organisations import org_by_code
from labctl.platform.db import utcnow
from labctl.platform.desk.orders import (
    MAX_LIMIT,
    acting_customer,
    order_by_id,
    service_laboratory,
)
from labctl.platform.models.base import Role, check_key, request_digest
from labctl.platform.models.certificates import Certificate
from labctl.platform.models.desk import (
    AnswerIn,
    AssignIn,
    Complaint,
    ComplaintCreate,
    ComplaintEvent,
    ComplaintPublic,
    ComplaintStatus,
    ComplaintStep,
    NoteIn,
    Page,
    ServiceOrder,
    StepPublic,
)
from labctl.platform.models.org import Membership, Organisation, User
from labctl.platform.results.records import users_by_id

C = ComplaintStatus


# --- reading --------------------------------------------------------------------------------


def complaint_by_id(session: Session, principal: Principal, complaint_id: int, *,
                    lock: bool = False) -> Complaint:
    """The complaint if the caller may read it (the complaining organisation's people, the
    laboratory's staff); otherwise 404, as for one that does not exist. ``lock``: as for
    :func:`~labctl.platform.desk.orders.order_by_id`."""
    row = session.get(Complaint, complaint_id, with_for_update=lock or None)
    if row is None or not policy.can_read_complaint(session, principal, row):
        raise NotFoundError("complaint", complaint_id)
    return row


def complaint_steps(session: Session, complaint: Complaint) -> list[StepPublic]:
    rows = session.exec(select(ComplaintEvent).where(
        ComplaintEvent.complaint_id == complaint.id).order_by(col(ComplaintEvent.id))).all()
    people = users_by_id(session, *(r.by_id for r in rows))
    return [StepPublic(step=r.step, status=r.status, at=r.at, by=people[r.by_id].username,
                       by_name=people[r.by_id].full_name, note=r.note) for r in rows]


def complaint_public(session: Session, complaint: Complaint) -> ComplaintPublic:
    assert complaint.id is not None
    lab = session.get(Organisation, complaint.laboratory_id)
    customer = session.get(Organisation, complaint.customer_organisation_id)
    people = users_by_id(session, complaint.filed_by_id, complaint.handler_id)
    handler = people.get(complaint.handler_id) if complaint.handler_id else None
    assert lab is not None and customer is not None
    return ComplaintPublic(
        id=complaint.id, status=ComplaintStatus(complaint.status), laboratory_code=lab.code,
        laboratory_name=lab.name, customer_code=customer.code, order_id=complaint.order_id,
        subject=complaint.subject, description=complaint.description,
        filed_by=people[complaint.filed_by_id].username,
        handler=handler.username if handler else None,
        handler_name=handler.full_name if handler else None, answer=complaint.answer,
        answered_at=complaint.answered_at, closed_at=complaint.closed_at,
        created_at=complaint.created_at, steps=complaint_steps(session, complaint))


def list_complaints(session: Session, *, principal: Principal,
                    laboratory_code: str | None = None, status: ComplaintStatus | None = None,
                    offset: int = 0, limit: int = 50) -> Page[ComplaintPublic]:
    """The complaints the caller may read, newest first (a customer's organisation's; a
    laboratory's staff: the laboratory's, to filter by ``status``)."""
    if not 0 <= offset <= 2**31 - 1:
        raise ValidationError("offset", offset, "0 … 2147483647")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError("limit", limit, f"1 … {MAX_LIMIT}")
    visible = sa.or_(
        col(Complaint.laboratory_id).in_(policy.staff_laboratories(session, principal)),
        col(Complaint.customer_organisation_id).in_(policy.customer_organisations(principal)))
    query = select(Complaint).where(visible)
    if laboratory_code is not None:
        query = query.where(Complaint.laboratory_id == org_by_code(session,
                                                                    laboratory_code).id)
    if status is not None:
        query = query.where(Complaint.status == status.value)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(Complaint.id).desc()).offset(offset)
                        .limit(limit)).all()
    return Page[ComplaintPublic](items=[complaint_public(session, c) for c in rows],
                                 total=total, offset=offset, limit=limit)


def participants(session: Session, complaint: Complaint) -> dict[int, str]:
    """Who took part in the work complained about (user id → what they did)."""
    order = session.get(ServiceOrder, complaint.order_id) if complaint.order_id else None
    revisions: list[Certificate] = []
    if order is not None and order.certificate_number:
        revisions = list(session.exec(select(Certificate).where(
            Certificate.number == order.certificate_number)).all())
    return policy.desk_participants(order, revisions)


def eligible_handlers(session: Session, principal: Principal,
                      complaint: Complaint) -> list[User]:
    """The people the caller may name as handler (empty if the caller may not assign):
    active staff of the laboratory who took no part in the work, by username."""
    try:
        policy.may_assign_handler(session, principal, complaint)
    except PermissionDeniedError:
        return []
    staff = session.exec(select(User).join(Membership, col(Membership.user_id) == col(User.id))
                         .where(Membership.organisation_id == complaint.laboratory_id,
                                col(Membership.role).in_([r.value for r in policy.LAB_ROLES]))
                         .distinct().order_by(col(User.username))).all()
    took_part = participants(session, complaint)
    out = []
    for user in staff:
        try:
            policy.may_handle(session, user, complaint, took_part)
        except PermissionDeniedError:
            continue
        out.append(user)
    return out


# --- filing and the steps -------------------------------------------------------------------



def _step(session: Session, principal: Principal, complaint: Complaint, step: ComplaintStep,
          note: str = "", data: dict[str, object] | None = None) -> None:
    """Write the complaint, its step row and the audit event (the caller commits)."""
    assert principal.user_id is not None
    session.add(complaint)
    session.flush()
    session.add(ComplaintEvent(complaint_id=complaint.id, step=step.value,  # type: ignore[arg-type]
                               status=complaint.status, by_id=principal.user_id, note=note))
    audit.record(session, actor=principal.actor, action=f"complaint.{step.value}",
                 entity_type="complaint", entity_id=str(complaint.id),
                 organisation_id=complaint.laboratory_id,
                 data={"status": complaint.status, "note": note, **(data or {})})


def file_complaint(session: Session, *, principal: Principal, data: ComplaintCreate,
                   idempotency_key: str | None = None) -> tuple[Complaint, bool]:
    """A customer complains about one of their organisation's orders (``order_id``) or about
    a laboratory (``laboratory_code``); ``(complaint, replayed)`` as for a booking."""
    if idempotency_key is not None:
        check_key("Idempotency-Key", idempotency_key)
    if (data.order_id is None) == (data.laboratory_code is None):
        raise ValidationError("order_id", data.order_id,
                              "either an order_id or a laboratory_code (one of the two)")
    order = None
    if data.order_id is not None:
        order = order_by_id(session, principal, data.order_id)
        customer_id = order.customer_organisation_id
        if data.customer_code is not None and \
                org_by_code(session, data.customer_code).id != customer_id:
            raise ValidationError("customer_code", data.customer_code,
                                  "the order's customer (or omit it)")
        lab_id = order.laboratory_id
    else:
        assert data.laboratory_code is not None
        lab_id = service_laboratory(session, data.laboratory_code).id  # type: ignore[assignment]
        customer_id = acting_customer(session, principal, data.customer_code,  # type: ignore[assignment]
                                      action="complaint.create").id
    policy.may_file_complaint(session, principal, customer_id)
    if lab_id == customer_id:
        raise ValidationError("laboratory_code", data.laboratory_code,
                              "a laboratory other than your own organisation")
    user_id = principal.user_id
    assert user_id is not None
    digest = request_digest(data)
    if idempotency_key is not None:
        earlier = session.exec(select(Complaint).where(
            Complaint.filed_by_id == user_id,
            Complaint.idempotency_key == idempotency_key)).first()
        if earlier is not None:
            if earlier.request_hash != digest:
                raise ConflictError(f"Idempotency-Key {idempotency_key!r} was already used "
                                    f"for another complaint ({earlier.id})", reason="key_reused")
            return earlier, True
    complaint = Complaint(laboratory_id=lab_id, customer_organisation_id=customer_id,
                          order_id=order.id if order else None, subject=data.subject,
                          description=data.description, filed_by_id=user_id,
                          idempotency_key=idempotency_key, request_hash=digest)
    _step(session, principal, complaint, ComplaintStep.FILED, note=data.subject,
          data={"order_id": data.order_id, "description": data.description})
    session.commit()
    return complaint, False


def _in_state(complaint: Complaint, states: set[ComplaintStatus], what: str) -> None:
    if ComplaintStatus(complaint.status) not in states:
        raise ConflictError(f"complaint {complaint.id} is "
                            f"{complaint.status.replace('_', ' ')}; {what}",
                            reason="complaint_state", complaint=complaint.id,
                            status=complaint.status)


def assign_handler(session: Session, *, principal: Principal, complaint_id: int,
                   data: AssignIn) -> Complaint:
    """Name (or re-name, before it is answered) the complaint's handler: the laboratory's
    approver or an admin names an independent person of the laboratory."""
    complaint = complaint_by_id(session, principal, complaint_id, lock=True)
    policy.may_assign_handler(session, principal, complaint)
    _in_state(complaint, {C.OPEN, C.UNDER_INVESTIGATION},
              "a handler is named before the complaint is answered")
    handler = session.exec(select(User).where(User.username == data.handler)).first()
    if handler is None:
        raise ValidationError("handler", data.handler, "the username of a person of the "
                              "laboratory's staff")
    policy.may_handle(session, handler, complaint, participants(session, complaint))
    complaint.handler_id = handler.id
    complaint.assigned_by_id = principal.user_id
    _step(session, principal, complaint, ComplaintStep.ASSIGNED, note=data.note,
          data={"handler": handler.username})
    session.commit()
    return complaint


def start_investigation(session: Session, *, principal: Principal, complaint_id: int,
                        data: NoteIn) -> Complaint:
    """The handler starts investigating an open complaint."""
    complaint = complaint_by_id(session, principal, complaint_id, lock=True)
    policy.may_work_complaint(session, principal, complaint,
                              participants(session, complaint), "complaint.investigate")
    _in_state(complaint, {C.OPEN}, "an open complaint is taken under investigation")
    complaint.status = C.UNDER_INVESTIGATION.value
    _step(session, principal, complaint, ComplaintStep.INVESTIGATING, note=data.note)
    session.commit()
    return complaint


def answer_complaint(session: Session, *, principal: Principal, complaint_id: int,
                     data: AnswerIn) -> Complaint:
    """The handler answers (what was found, what is done); the customer reads it."""
    complaint = complaint_by_id(session, principal, complaint_id, lock=True)
    policy.may_work_complaint(session, principal, complaint,
                              participants(session, complaint), "complaint.answer")
    _in_state(complaint, {C.UNDER_INVESTIGATION},
              "a complaint under investigation is answered")
    complaint.status = C.ANSWERED.value
    complaint.answer = data.answer
    complaint.answered_at = utcnow()
    _step(session, principal, complaint, ComplaintStep.ANSWERED, note=data.answer)
    session.commit()
    return complaint


def close_complaint(session: Session, *, principal: Principal, complaint_id: int,
                    data: NoteIn) -> Complaint:
    """The handler or the complaining customer closes an answered complaint."""
    complaint = complaint_by_id(session, principal, complaint_id, lock=True)
    policy.may_close_complaint(session, principal, complaint)
    _in_state(complaint, {C.ANSWERED}, "an answered complaint is closed")
    complaint.status = C.CLOSED.value
    complaint.closed_at = utcnow()
    _step(session, principal, complaint, ComplaintStep.CLOSED, note=data.note)
    session.commit()
    return complaint


#: Roles that name a handler (for pages that explain who may).
ASSIGNERS = (Role.APPROVER, Role.ADMIN)
