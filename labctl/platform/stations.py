"""The platform seen from a calibration station: its register of standards, its results.

- :class:`PlatformRegister` answers the runner's precondition questions (is this standard in
  service and in date, what are its certified errors, is this person authorised) from the
  platform's database, as of the time of measurement.
- :func:`certificate_request` turns a finished run into a draft certificate and its points.

A standard's certified errors come from the points of its current certificate when that
certificate was issued on the platform (the usual case inside one national network): per range
the errors are fitted as ``deviation = gain·x + offset``, weighted by the points' standard
uncertainties, exactly as a laboratory derives its correction model from a certificate.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from labctl.errors import NotFoundError
from labctl.platform import policy, registry
from labctl.platform.auth import principal_for_user
from labctl.platform.models.base import refused_as
from labctl.platform.models.certificates import (
    Certificate,
    CertificateCreate,
    ConditionIn,
    PointIn,
    ResultPoint,
    ResultsIn,
)
from labctl.platform.models.org import User
from labctl.platform.models.registry import Standard
from labctl.platform.organisations import is_authorised, org_by_code
from labctl.procedures.interfaces import Correction, RegisteredStandard
from labctl.procedures.results import RunResult


def _vendor(name: str) -> str:
    return name.strip().split()[0].upper() if name.strip() else ""


@dataclass(frozen=True)
class ErrorLine:
    """``deviation = gain·x + offset`` on one (quantity, range, unit) of a certificate, fitted
    over ``lowest`` … ``highest`` of ``x`` (the setting of a source, the reference value a
    meter was given)."""

    quantity: str
    range_label: str
    unit: str
    gain: float
    offset: float
    u_gain: float
    u_offset: float
    lowest: float
    highest: float


def fit_error_lines(points: Sequence[ResultPoint],
                    deviation: Callable[[ResultPoint], float] | None = None
                    ) -> list[ErrorLine]:
    """Per (quantity, range) a weighted least-squares line through a certificate's errors.

    A source is recognised by its indication being its setting (measured = nominal on every
    point): its actual output deviates from the setting by ``reference − nominal``. A meter's
    error is ``measured − reference``. ``deviation`` replaces that error (the line through
    something else known at the points, on the same axis and weights). One point on a range
    gives an offset only.
    """
    groups: dict[tuple[str, str, str], list[ResultPoint]] = defaultdict(list)
    for p in points:
        groups[(p.quantity, p.range_label or "all", p.unit)].append(p)
    out: list[ErrorLine] = []
    for (quantity, label, unit), pts in groups.items():
        source = all(p.measured_value == p.nominal for p in pts)
        x = np.array([float(p.nominal if source else p.reference_value) for p in pts])
        if deviation is not None:
            dev = np.array([deviation(p) for p in pts])
        else:
            dev = np.array([float(p.reference_value - p.nominal) if source
                            else float(p.measured_value - p.reference_value) for p in pts])
        u = np.array([float(p.expanded_uncertainty / p.coverage_factor) for p in pts])
        if len(pts) >= 2 and np.ptp(x) > 0:
            A = np.column_stack([x, np.ones_like(x)]) / u[:, None]
            cov = np.linalg.inv(A.T @ A)
            gain, offset = cov @ A.T @ (dev / u)
            u_gain, u_offset = math.sqrt(cov[0, 0]), math.sqrt(cov[1, 1])
        else:
            w = 1 / u**2
            gain, u_gain = 0.0, 0.0
            offset, u_offset = float((w * dev).sum() / w.sum()), float(1 / math.sqrt(w.sum()))
        out.append(ErrorLine(quantity, label, unit, float(gain), float(offset), u_gain,
                             u_offset, float(x.min()), float(x.max())))
    return out


def fit_errors(points: Sequence[ResultPoint], certificate_number: str) -> list[Correction]:
    """Per (quantity, range) gain and offset errors from a certificate's points, as the
    runner's corrections (see :func:`fit_error_lines`)."""
    out: list[Correction] = []
    for ln in fit_error_lines(points):
        out += [Correction(ln.quantity, ln.range_label, "gain", ln.gain, ln.u_gain, "1",
                           certificate_number=certificate_number),
                Correction(ln.quantity, ln.range_label, "offset", ln.offset, ln.u_offset,
                           ln.unit, certificate_number=certificate_number)]
    return out


class PlatformRegister:
    """The runner's :class:`~labctl.procedures.interfaces.StandardsRegister`, backed by the
    platform database, for the standards held by ``laboratory_code``.

    ``quantities`` maps procedure ids to the quantity authorisations are granted for.
    """

    def __init__(self, engine: Engine, laboratory_code: str,
                 quantities: Mapping[str, str]) -> None:
        self.engine = engine
        self.laboratory_code = laboratory_code
        self.quantities = dict(quantities)

    def find_standard(self, *, manufacturer: str, model: str, serial_number: str,
                      at: datetime) -> RegisteredStandard:
        with Session(self.engine) as session:
            lab = org_by_code(session, self.laboratory_code)
            rows = session.exec(select(Standard).where(
                Standard.organisation_id == lab.id,
                Standard.serial_number == serial_number)).all()
            std = next((r for r in rows if r.model.upper() == model.upper()
                        and _vendor(r.manufacturer) == _vendor(manufacturer)), None)
            if std is None:
                raise NotFoundError("standard", f"{manufacturer} {model} s/n {serial_number} "
                                    f"held by {self.laboratory_code}")
            status = registry.status_at(session, std, at)
            cal = registry.calibration_at(session, std, at.date())
            corrections: list[Correction] = []
            if cal is not None and cal.certificate_id is not None:
                cert = session.get(Certificate, cal.certificate_id)
                if cert is not None:
                    pts = session.exec(select(ResultPoint).where(
                        ResultPoint.certificate_id == cert.id)).all()
                    corrections = fit_errors(pts, cal.certificate_number)
            return RegisteredStandard(
                id=std.identifier, description=std.description,
                manufacturer=std.manufacturer, model=std.model,
                serial_number=std.serial_number, status=str(status.value),
                due_date=cal.due_date if cal else None,
                certificate_number=cal.certificate_number if cal else None,
                certificate_issuer=cal.issuer if cal else "",
                corrections=tuple(corrections),
                specification={
                    "accuracy_relative": float(std.uncertainty_relative),
                    "accuracy_absolute": float(std.uncertainty_absolute),
                    "interval_days": std.calibration_interval_days,
                    **({"calibrated_on": cal.calibrated_on.isoformat()} if cal else {}),
                },
            )

    def is_authorised(self, *, person: str, procedure_id: str, at: datetime) -> bool:
        with Session(self.engine) as session:
            lab = org_by_code(session, self.laboratory_code)
            user = session.exec(select(User).where(User.username == person)).first()
            if user is None or user.id is None or lab.id is None:
                return False
            quantity = self.quantities.get(procedure_id, "")
            return is_authorised(session, user_id=user.id, organisation_id=lab.id,
                                 quantity=quantity, procedure=procedure_id, on=at.date())


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
    if result.status != "completed":
        raise NotFoundError("completed run", f"{result.run_id} ({result.status})")
    begin = min(p.started for p in result.points if p.started)
    end = max(p.finished for p in result.points if p.finished)
    conditions = [ConditionIn(quantity=c.quantity if c.quantity != "humidity"
                              else "relative humidity", unit=c.unit,
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
    from labctl.platform import certificates
    from labctl.platform.models.certificates import ResultPosting

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
