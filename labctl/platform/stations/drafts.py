"""A finished run as a draft certificate: :func:`certificate_request` maps a run's result to
the draft and its points; :func:`draft_from_run` checks every rule and writes both in one
transaction, idempotently on the run id."""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from labctl.errors import NotFoundError, RuleViolationError, ValidationError
from labctl.platform import certificates
from labctl.platform.accounts import policy
from labctl.platform.accounts.auth import principal_for_user
from labctl.platform.accounts.organisations import org_by_code
from labctl.platform.db import LockClass, advisory_xact_lock
from labctl.platform.models.base import DecisionRule, refused_as
from labctl.platform.models.certificates import (
    MAX_DOF,
    Certificate,
    CertificateCreate,
    ConditionIn,
    PointIn,
    ResultPoint,
    ResultPosting,
    ResultsIn,
)
from labctl.platform.results.reporting import report_points
from labctl.procedures.catalog import PROCEDURES
from labctl.procedures.results import PointResult, RunResult
from labctl.quantities import ProcedureKind, Quantity, RunStatus
from labctl.uncertainty import exact_decimal, stated_limit


def _limit(x: float) -> Decimal:
    """A tolerance limit as stated (6 significant digits, the engine's
    :func:`~labctl.uncertainty.stated_limit`): ``0.0035 % × 0.1 V`` computed in binary is
    3.5000000000000004e-06; the procedures decide against the stated limit too."""
    return stated_limit(x)


def _dof(x: float) -> float | None:
    """Degrees of freedom as posted: beyond :data:`MAX_DOF` (or infinite) as ``None``,
    infinite; a t-factor there equals the normal's to every printed digit."""
    return None if not math.isfinite(x) or x > MAX_DOF else x


def _budget(p: PointResult) -> list[dict[str, Any]] | None:
    """The point's uncertainty budget as posted (:class:`BudgetLineIn` fields: the engine's
    rows with the unit of each input as the procedure states it, where it does)."""
    if not p.budget:
        return None
    return [dict(name=b.name, estimate=exact_decimal(b.estimate),
                 standard_uncertainty=exact_decimal(b.u),
                 distribution=b.distribution, sensitivity=exact_decimal(b.sensitivity),
                 contribution=exact_decimal(b.contribution), dof=_dof(b.dof),
                 unit=b.unit or None) for b in p.budget]


def run_rule(result: RunResult) -> DecisionRule | None:
    """The decision rule the run's points were decided under (ILAC-G8), which travels into its
    certificate; ``None``: the run made no statement of conformity. Every point of a run is
    decided under one rule: a run whose points disagree is refused, naming the first that
    differs."""
    first = result.points[0].decision_rule
    for i, p in enumerate(result.points):
        if p.decision_rule != first:
            raise ValidationError(f"result.points[{i}].decision_rule", p.decision_rule,
                                  f"{first!r}, the rule of the run's first point (one rule "
                                  "decides a run)")
    if not first:
        return None
    try:
        return DecisionRule(first)
    except ValueError:
        raise ValidationError("result.points[0].decision_rule", first, "one of " + ", ".join(
            r.value for r in DecisionRule)) from None


def _requested_rule(requested: str | None, rule: DecisionRule | None) -> None:
    """A request may still name a decision rule (the API took one before the run's travelled):
    only the run's own."""
    if requested is None or requested == (rule.value if rule else ""):
        return
    raise ValidationError(
        "decision_rule", requested,
        f"the run's own rule {rule.value!r}, or omitted: a run's statements of conformity were "
        "made under it and its certificate states the same" if rule else
        "omitted: the run made no statement of conformity (its points name no decision rule)")


def _same_statements(result: RunResult, points: list[PointIn], rule: DecisionRule | None
                     ) -> None:
    """The certificate states what the run stated: each point's conformity as the run decided
    it is what :func:`~labctl.platform.results.reporting.report_points` says on the posted
    numbers (both call the engine's :func:`~labctl.uncertainty.decide_reported`; a run
    decided otherwise, e.g. on unrounded values by an older station, is refused)."""
    if rule is None:
        return
    rows = [ResultPoint(certificate_id=0, posting_id=0, seq=i,
                        **p.model_dump(exclude={"budget"})) for i, p in enumerate(points)]
    for i, (run_point, reported) in enumerate(zip(result.points, report_points(rows, rule),
                                                  strict=True)):
        if run_point.conformity is not None and run_point.conformity != reported.conformity:
            raise ValidationError(
                f"result.points[{i}].conformity", run_point.conformity,
                f"{reported.conformity!r}, the statement under {rule.value!r} on the reported "
                f"error {reported.error} and U {reported.U} (EA-4/02-rounded, as the "
                "certificate states them)")


def certificate_request(result: RunResult, *, laboratory_code: str, customer_name: str,
                        customer_code: str | None, item_description: str, method: str,
                        location: str, decision_rule: str | None = None,
                        table_title: str | None = None) -> tuple[CertificateCreate, ResultsIn]:
    """A completed run as a draft certificate and its result points: the run's decision rule
    (:func:`run_rule`) on the certificate, each point's degrees of freedom and budget posted
    with it. ``decision_rule``: what a request named, refused unless it is the run's (or
    ``None``)."""
    if result.status != RunStatus.COMPLETED:
        raise NotFoundError("completed run", f"{result.run_id} ({result.status})")
    rule = run_rule(result)
    _requested_rule(decision_rule, rule)
    begin = min(p.started for p in result.points if p.started)
    end = max(p.finished for p in result.points if p.finished)
    conditions = [ConditionIn(quantity=c.quantity if c.quantity != "humidity"
                              else Quantity.RELATIVE_HUMIDITY, unit=c.unit,
                              mean=exact_decimal(round(c.mean, 2)),
                              minimum=exact_decimal(round(c.minimum, 2)),
                              maximum=exact_decimal(round(c.maximum, 2)))
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
        performed_by=result.operator, decision_rule=rule,
    )
    create = CertificateCreate(**data)
    points = [PointIn(
        table_title=table_title or f"{p.quantity}, {p.stage.replace('-', ' ')}",
        quantity=p.quantity,
        unit=p.unit, range_label=p.range_label, nominal=exact_decimal(p.nominal),
        reference_value=exact_decimal(p.reference_value),
        measured_value=exact_decimal(p.measured_value),
        expanded_uncertainty=exact_decimal(p.U), coverage_factor=exact_decimal(round(p.k, 3)),
        coverage_probability=exact_decimal(p.coverage_probability),
        lower_limit=_limit(p.lower_limit) if p.lower_limit is not None else None,
        upper_limit=_limit(p.upper_limit) if p.upper_limit is not None else None,
        dof=_dof(p.dof), budget=_budget(p),  # type: ignore[arg-type]  # lines validated here
    ) for p in result.points]
    _same_statements(result, points, rule)
    return create, ResultsIn(points=points)


def _one_posting_at_a_time(session: Session, run_id: str) -> None:
    """Two posts of one run at once (a station's retry overtaking its first post, through
    another worker) must not both find no draft and both make one: on PostgreSQL the second
    waits here until the first commits, then finds its draft. SQLite's write transaction
    (``BEGIN IMMEDIATE``) serialises them already."""
    advisory_xact_lock(session, LockClass.RUN_POSTING, run_id)


def is_check(result: RunResult) -> bool:
    """Whether ``result`` is an intermediate check of a standard (its procedure's kind, as
    the result states it or the catalogue knows it), not a calibration of an item."""
    if result.analysis.get("kind") == ProcedureKind.CHECK.value:
        return True
    known = PROCEDURES.get(result.procedure_id)
    return known is not None and known.info.kind is ProcedureKind.CHECK


def draft_from_run(session: Session, *, laboratory_code: str, result: RunResult,
                   poster: Any, customer_name: str, customer_code: str | None,
                   item_description: str, method: str, location: str,
                   decision_rule: str | None = None,
                   statements: Sequence[str] = ()) -> Certificate:
    """A completed run as a draft certificate performed by its operator, with its points
    posted by ``poster`` (a station of the laboratory, or a technician there, who is recorded
    as who made the draft; ``None``: the operator); idempotent on the run id.

    The certificate states the run's decision rule (:func:`run_rule`); ``decision_rule``, if
    a request still names one, must be that rule. Every rule is checked before the first
    write and the draft and its points are committed together: a refused run (the poster may
    not post, a bad checker, U below the CMC, a rule not the run's) leaves nothing behind,
    however often it is retried.
    """
    if is_check(result):
        raise RuleViolationError(
            "check_not_certified", f"run {result.run_id} is an intermediate check "
            f"({result.procedure_id}) of a laboratory's own standard: its results go to the "
            "standard's control chart, not to a customer's certificate",
            procedure=result.procedure_id)
    _requested_rule(decision_rule, run_rule(result))  # a retry naming another is refused too
    lab = org_by_code(session, laboratory_code)
    assert lab.id is not None
    if poster is not None:
        policy.may_draft(session, poster, lab.id)
    _one_posting_at_a_time(session, result.run_id)
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
