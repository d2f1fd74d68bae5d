"""Reverse traceability: which certificates, at any depth, passed through a standard found out
of tolerance, and what the error found does to each of their points.

Every certificate whose chain passes through the standard in the window is flagged, and each
affected point's statement of conformity is decided again with the corrected reference value:
for direct use with the error found, further down with that error carried through the
certificate of every standard calibrated in between.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, col, select

from labctl.errors import ValidationError
from labctl.platform.models.base import CertificateStatus, StandardStatus
from labctl.platform.models.certificates import (
    Certificate,
    CertificateFlag,
    CertificateStandard,
    ResultPoint,
)
from labctl.platform.models.org import Organisation
from labctl.platform.models.registry import Standard, StandardCalibration, StandardStatusChange
from labctl.platform.results.corrections import ReferenceShift
from labctl.platform.results.records import points_of
from labctl.platform.results.reporting import report_points
from labctl.platform.traceability.chain import MAX_DEPTH


class ImpactPoint(BaseModel):
    seq: int
    nominal: str
    unit: str
    error_reported: str
    error_corrected: str
    expanded_uncertainty: str
    conformity_reported: str | None
    conformity_corrected: str | None
    still_holds: bool
    error_shift: str  # δ: how much the reference value really differed (added to it)
    basis: str  # where δ comes from: the error found, or carried through which certificate
    propagated: bool = False  # δ carried through calibrations in between (depth > 1)
    extrapolated: bool = False  # outside the span the standard in between was calibrated over


class ImpactEntry(BaseModel):
    certificate: str
    number: str
    revision: int
    laboratory: str
    status: CertificateStatus
    depth: int  # 1 = used the standard directly
    via: list[str]  # standards from the one in question down to this certificate
    used_at: datetime
    points: list[ImpactPoint]
    note: str = ""  # why no point was decided again, where that is the case
    action: str


class ImpactReport(BaseModel):
    standard: str
    since: datetime
    until: datetime | None
    error_absolute: str | None = None
    error_relative: str | None = None
    certificates: list[ImpactEntry]


def _start_of(day: Any) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def impact(session: Session, std: Standard, *, since: datetime,
           change: StandardStatusChange | None = None) -> ImpactReport:
    """Every certificate whose chain passes through ``std`` with a use on or after ``since``.

    With an out-of-tolerance ``change`` (error found δ = relative·|x| + absolute), points in
    the standard's quantity and unit are decided again with the reference value corrected by
    δ: exactly for direct use, and further down with δ carried through the certificate of each
    standard calibrated in between (see
    :class:`~labctl.platform.results.corrections.ReferenceShift`).
    """

    if since.tzinfo is None:
        raise ValidationError("since", since.isoformat(), "a timezone-aware time")
    entries: list[ImpactEntry] = []
    seen: set[int] = set()
    shift0 = ReferenceShift(std.quantity, std.unit,
                            absolute=change.error_absolute or Decimal(0),
                            relative=change.error_relative or Decimal(0),
                            basis=f"error found in {std.identifier}") \
        if change is not None else None
    # frontier: (standard id, calibration certificate id or None for the first level, via,
    # the shift its reference values carried, why none did)
    Front = tuple[int, int | None, list[str], ReferenceShift | None, str]
    frontier: list[Front] = [(std.id, None, [std.identifier], shift0, "")]  # type: ignore[list-item]
    depth = 0
    while frontier and depth < MAX_DEPTH:
        depth += 1
        next_frontier: list[Front] = []
        for std_id, via_cert, via, shift, why_none in frontier:
            q = select(CertificateStandard).where(CertificateStandard.standard_id == std_id)
            if via_cert is None:
                q = q.where(CertificateStandard.used_at >= since)
            else:
                q = q.where(CertificateStandard.standard_certificate_id == via_cert)
            for link in session.exec(q.order_by(col(CertificateStandard.used_at))).all():
                if link.certificate_id in seen:
                    continue
                seen.add(link.certificate_id)
                cert = session.get(Certificate, link.certificate_id)
                assert cert is not None and cert.id is not None
                lab = session.get(Organisation, cert.organisation_id)
                points = points_of(session, cert) if change is not None else []
                decided = _recompute(cert, shift, points, report_points, depth) \
                    if shift is not None else []
                note = why_none if change is not None and shift is None else ""
                if shift is not None and not decided:
                    note = (f"no result in {shift.quantity} [{shift.unit}]: "
                            "not affected through this standard")
                entries.append(ImpactEntry(
                    certificate=f"{cert.number} rev {cert.revision}", number=cert.number,
                    revision=cert.revision, laboratory=lab.code if lab else "",
                    status=CertificateStatus(cert.status), depth=depth, via=via,
                    used_at=link.used_at, points=decided, note=note,
                    action=_action(cert, depth, decided)))
                if cert.item_standard_id is not None:
                    item = session.get(Standard, cert.item_standard_id)
                    name = item.identifier if item else "?"
                    carried = shift.carried_through(
                        points, f"carried through {cert.number} of {name}") if shift else None
                    why = why_none or ("" if carried is not None or shift is None else
                                       f"{cert.number} has no result in {shift.quantity} "
                                       f"[{shift.unit}]: the error is not carried past {name}")
                    next_frontier.append((cert.item_standard_id, cert.id, [*via, name],
                                          carried, why))
        frontier = next_frontier
    return ImpactReport(
        standard=std.identifier, since=since, until=None,
        error_absolute=str(change.error_absolute) if change and change.error_absolute
        is not None else None,
        error_relative=str(change.error_relative) if change and change.error_relative
        is not None else None,
        certificates=entries)


def _recompute(cert: Certificate, shift: ReferenceShift, points: list[ResultPoint],
               report_points: Any, depth: int) -> list[ImpactPoint]:
    """Points in the shift's quantity and unit, decided again with the reference corrected."""
    chosen = [(i, p) for i, p in enumerate(points)
              if p.quantity == shift.quantity and p.unit == shift.unit]
    deltas = [shift.delta(p.reference_value) for _, p in chosen]
    rule = cert.decision_rule or None
    selected = [p for _, p in chosen]
    before = report_points(selected, rule)
    after = report_points(selected, rule, [d for d, _ in deltas])
    return [ImpactPoint(
        seq=i, nominal=str(p.nominal), unit=p.unit, error_reported=str(b.error),
        error_corrected=str(a.error), expanded_uncertainty=str(b.U),
        conformity_reported=b.conformity, conformity_corrected=a.conformity,
        still_holds=b.conformity == a.conformity, error_shift=str(delta), basis=shift.basis,
        propagated=depth > 1, extrapolated=extrapolated)
        for (i, p), b, a, (delta, extrapolated) in zip(chosen, before, after, deltas,
                                                       strict=True)]


def _action(cert: Certificate, depth: int, points: list[ImpactPoint]) -> str:
    if cert.status in (CertificateStatus.DRAFT, CertificateStatus.CHECKED):
        return "not issued: re-measure with a standard in tolerance before issuing"
    if cert.status == CertificateStatus.WITHDRAWN:
        return "already withdrawn"
    if any(not p.still_holds for p in points):
        return "a statement of conformity no longer holds: amend or withdraw, inform the customer"
    if depth > 1:
        return "indirectly affected: review the uncertainty of the standard calibrated in between"
    return "review: corrected errors shown; statements of conformity still hold"


def flag_out_of_tolerance(session: Session, std: Standard, change: StandardStatusChange,
                          since: datetime) -> ImpactReport:
    """Flag every affected certificate (no commit: part of the status change)."""
    report = impact(session, std, since=since, change=change)
    for entry in report.certificates:
        cert = session.exec(select(Certificate).where(
            Certificate.number == entry.number, Certificate.revision == entry.revision)).one()
        session.add(CertificateFlag(
            certificate_id=cert.id, standard_id=std.id, status_change_id=change.id,  # type: ignore[arg-type]
            depth=entry.depth,
            report={"standard": std.identifier, "reason": change.reason,
                    "action": entry.action,
                    "points": [p.model_dump(mode="json") for p in entry.points]}))
    return report


def default_since(session: Session, std: Standard) -> datetime:
    """Since the standard's last calibration (its last known good state), else all time."""
    cal = session.get(StandardCalibration, std.current_calibration_id) \
        if std.current_calibration_id else None
    return _start_of(cal.calibrated_on) if cal else datetime(1970, 1, 1, tzinfo=UTC)


def out_of_tolerance(status: str) -> bool:
    return status == StandardStatus.OUT_OF_TOLERANCE
