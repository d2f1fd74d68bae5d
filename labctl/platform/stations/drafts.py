"""A finished run as a draft certificate: :func:`certificate_request` maps a run's result to
the draft and its points; :func:`draft_from_run` checks every rule and writes both in one
transaction, idempotently on the run id."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from labctl.errors import NotFoundError
from labctl.platform import certificates
from labctl.platform.accounts import policy
from labctl.platform.accounts.auth import principal_for_user
from labctl.platform.accounts.organisations import org_by_code
from labctl.platform.models.base import refused_as
from labctl.platform.models.certificates import (
    Certificate,
    CertificateCreate,
    ConditionIn,
    PointIn,
    ResultPosting,
    ResultsIn,
)
from labctl.procedures.results import RunResult
from labctl.quantities import Quantity, RunStatus


def _dec(x: float) -> Decimal:
    """A float as the shortest decimal that round-trips (no binary artefacts)."""
    return Decimal(repr(float(x)))


def _limit(x: float) -> Decimal:
    """A tolerance limit to 6 significant digits: specifications are not stated finer, and
    ``0.0035 % × 0.1 V`` computed in binary is 3.5000000000000004e-06."""
    return Decimal(f"{x:.6g}").normalize()


def certificate_request(result: RunResult, *, laboratory_code: str, customer_name: str,
                        customer_code: str | None, item_description: str, method: str,
                        location: str, decision_rule: str | None,
                        table_title: str | None = None) -> tuple[CertificateCreate, ResultsIn]:
    """A completed run as a draft certificate and its result points."""
    if result.status != RunStatus.COMPLETED:
        raise NotFoundError("completed run", f"{result.run_id} ({result.status})")
    begin = min(p.started for p in result.points if p.started)
    end = max(p.finished for p in result.points if p.finished)
    conditions = [ConditionIn(quantity=c.quantity if c.quantity != "humidity"
                              else Quantity.RELATIVE_HUMIDITY, unit=c.unit,
                              mean=_dec(round(c.mean, 2)), minimum=_dec(round(c.minimum, 2)),
                              maximum=_dec(round(c.maximum, 2)))
                  for c in result.conditions]
    data: dict[str, Any] = dict(
        laboratory_code=laboratory_code, customer_name=customer_name,
        customer_code=customer_code, item_description=item_description,
        item_manufacturer=result.dut.get("manufacturer", ""),
        item_model=result.dut.get("model", ""),
        item_serial_number=result.dut.get("serial_number", ""),
        item_identifier=result.dut.get("identifier", ""),
        quantity=result.points[0].quantity, procedure=result.procedure_id,
        method=method, location=location, calibration_begin=begin, calibration_end=end,
        standards=[s["id"] for s in result.standards], conditions=conditions,
        performed_by=result.operator,
    )
    if decision_rule:
        data["decision_rule"] = decision_rule
    create = CertificateCreate(**data)
    points = [PointIn(
        table_title=table_title or f"{p.quantity}, {p.stage.replace('-', ' ')}",
        quantity=p.quantity,
        unit=p.unit, range_label=p.range_label, nominal=_dec(p.nominal),
        reference_value=_dec(p.reference_value), measured_value=_dec(p.measured_value),
        expanded_uncertainty=_dec(p.U), coverage_factor=_dec(round(p.k, 3)),
        coverage_probability=_dec(p.coverage_probability),
        lower_limit=_limit(p.lower_limit) if p.lower_limit is not None else None,
        upper_limit=_limit(p.upper_limit) if p.upper_limit is not None else None,
    ) for p in result.points]
    return create, ResultsIn(points=points)


def draft_from_run(session: Session, *, laboratory_code: str, result: RunResult,
                   poster: Any, customer_name: str, customer_code: str | None,
                   item_description: str, method: str, location: str,
                   decision_rule: str | None = "simple",
                   statements: Sequence[str] = ()) -> Certificate:
    """A completed run as a draft certificate performed by its operator, with its points
    posted by ``poster`` (a station of the laboratory, or a technician there, who is recorded
    as who made the draft; ``None``: the operator); idempotent on the run id.

    Every rule is checked before the first write and the draft and its points are committed
    together: a refused run (the poster may not post, a bad checker, U below the CMC) leaves
    nothing behind, however often it is retried.
    """
    lab = org_by_code(session, laboratory_code)
    assert lab.id is not None
    if poster is not None:
        policy.may_draft(session, poster, lab.id)
    already = session.exec(
        select(Certificate).join(ResultPosting,
                                 col(ResultPosting.certificate_id) == col(Certificate.id))
        .where(ResultPosting.idempotency_key == result.run_id,
               Certificate.organisation_id == lab.id)).first()
    if already is not None:  # a retry after a timeout: the draft made the first time
        return certificates.latest(session, already.number)
    operator = policy.run_people(session, lab, operator=result.operator,
                                 checker=result.checker)
    # ``None``: a run delivered straight into the database (``labctl run`` on the platform's
    # machine), posted as its operator
    poster = poster or principal_for_user(session, operator)
    with refused_as("result"):  # a run's values out of the bounds a certificate takes
        create, points = certificate_request(
            result, laboratory_code=lab.code, customer_name=customer_name,
            customer_code=customer_code, item_description=item_description, method=method,
            location=location, decision_rule=decision_rule)
    if statements:
        create = create.model_copy(update={"statements": [*create.statements, *statements]})
    cert = certificates.create_certificate(session, principal=poster, data=create,
                                           operator=operator, commit=False)
    certificates.post_results(session, principal=poster, number=cert.number,
                              idempotency_key=result.run_id, data=points, commit=False)
    session.commit()
    return cert  # the draft just made
