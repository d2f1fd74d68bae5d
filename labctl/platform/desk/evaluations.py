"""Evaluations: after an order is completed its customer rates the service on five dimensions
(fit of the service to the need, technical competence, timeliness, satisfaction,
effectiveness of the result), each 1–5 with an optional comment, once per order; each
laboratory's ratings are summed up in public (mean per dimension, count, distribution).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from labctl.errors import ConflictError
from labctl.platform import audit
from labctl.platform.accounts import policy
from labctl.platform.accounts.auth import Principal
from labctl.platform.accounts.organisations import org_by_code
from labctl.platform.desk.orders import order_by_id
from labctl.platform.models.desk import (
    DIMENSIONS,
    DimensionSummary,
    Evaluation,
    EvaluationIn,
    EvaluationPublic,
    LaboratoryRating,
    OrderStatus,
    score_values,
)
from labctl.platform.models.org import Organisation
from labctl.platform.results.records import users_by_id


def evaluate_order(session: Session, *, principal: Principal, order_id: int,
                   data: EvaluationIn) -> Evaluation:
    """The order's customer rates it once it is completed; a second evaluation is a 409."""
    order = order_by_id(session, principal, order_id, lock=True)
    policy.may_evaluate(session, principal, order)
    if order.status != OrderStatus.COMPLETED:
        raise ConflictError(f"order {order.id} is {order.status.replace('_', ' ')}; an order "
                            "is evaluated once it is completed", reason="order_state",
                            order=order.id, status=order.status)
    if session.exec(select(Evaluation.id).where(Evaluation.order_id == order.id)).first():
        raise ConflictError(f"order {order.id} was evaluated already (once per order)",
                            reason="evaluated", order=order.id)
    assert principal.user_id is not None and order.id is not None
    row = Evaluation(order_id=order.id, laboratory_id=order.laboratory_id,
                     customer_organisation_id=order.customer_organisation_id,
                     by_id=principal.user_id, **data.model_dump())
    session.add(row)
    try:
        session.flush()
    except sa.exc.IntegrityError:  # evaluated at the same moment by a colleague
        session.rollback()
        raise ConflictError(f"order {order_id} was evaluated already (once per order)",
                            reason="evaluated", order=order_id) from None
    audit.record(session, actor=principal.actor, action="order.evaluate",
                 entity_type="order", entity_id=str(order.id),
                 organisation_id=order.laboratory_id, data=data.model_dump())
    session.commit()
    return row


def evaluation_of(session: Session, *, principal: Principal,
                  order_id: int) -> Evaluation | None:
    """The order's evaluation (for whoever reads the order), or ``None``."""
    order = order_by_id(session, principal, order_id)
    return session.exec(select(Evaluation).where(Evaluation.order_id == order.id)).first()


def evaluation_public(session: Session, row: Evaluation) -> EvaluationPublic:
    lab = session.get(Organisation, row.laboratory_id)
    assert lab is not None
    by = users_by_id(session, row.by_id)[row.by_id]
    return EvaluationPublic(
        order_id=row.order_id, laboratory_code=lab.code, by=by.username,
        scores={d: getattr(row, d.value) for d in DIMENSIONS},
        comments={d: getattr(row, f"{d.value}_comment") for d in DIMENSIONS},
        comment=row.comment, created_at=row.created_at)


def laboratory_rating(session: Session, laboratory_code: str) -> LaboratoryRating:
    """Public: a laboratory's evaluations summed up per dimension — the mean (exact, rounded
    half up to two decimals), the count and how many gave each score 1 … 5."""
    lab = org_by_code(session, laboratory_code)
    count = session.exec(select(func.count()).select_from(Evaluation).where(
        Evaluation.laboratory_id == lab.id)).one()
    summaries = []
    for d in DIMENSIONS:
        column = col(getattr(Evaluation, d.value))
        by_score = dict(session.exec(select(column, func.count()).where(
            Evaluation.laboratory_id == lab.id).group_by(column)).all())
        distribution = [int(by_score.get(s, 0)) for s in range(1, 6)]
        total = sum(s * n for s, n in zip(range(1, 6), distribution, strict=True))
        mean = None if count == 0 else str(
            (Decimal(total) / Decimal(count)).quantize(Decimal("0.01"), ROUND_HALF_UP))
        summaries.append(DimensionSummary(dimension=d, mean=mean, distribution=distribution))
    return LaboratoryRating(laboratory_code=lab.code, laboratory_name=lab.name, count=count,
                            dimensions=summaries)


__all__ = ["evaluate_order", "evaluation_of", "evaluation_public", "laboratory_rating",
           "score_values"]
