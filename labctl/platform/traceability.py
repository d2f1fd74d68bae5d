"""Traceability (item → standards → their certificates → … → national primary standards) and
reverse traceability (which certificates, at any depth, passed through a standard).

Each link is judged at its own time of use: the calibration frozen on the certificate when the
measurement began, its due date against the end of the measurement, and the standard's status
history over the measurement. A standard found out of tolerance flags every certificate whose
chain passes through it in the window, and for the certificates that used it directly each
point's statement of conformity is decided again with the corrected reference value.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, col, select

from labctl.errors import NotFoundError, ValidationError
from labctl.platform.models.base import CertificateStatus, StandardKind, StandardStatus
from labctl.platform.models.certificates import Certificate, CertificateFlag, CertificateStandard
from labctl.platform.models.org import Organisation
from labctl.platform.models.registry import Standard, StandardCalibration, StandardStatusChange

MAX_DEPTH = 16  # deeper than any real hierarchy; stops a corrupted cycle


class CalibrationRef(BaseModel):
    certificate_number: str
    issuer: str
    calibrated_on: str
    due_date: str
    on_platform: bool


class ChainLink(BaseModel):
    """One standard used, judged at its time of use, and (if on the platform) its own chain."""

    standard: str
    kind: StandardKind
    description: str
    holder: str
    used_at: datetime
    state: str  # "valid" or the rule it breaks: standard_expired, standard_not_calibrated, ...
    explanation: str
    calibration: CalibrationRef | None
    next: ChainNode | None = None
    terminal: str  # "national_primary", "continues", "outside_platform", "broken", "cycle"


class ChainNode(BaseModel):
    certificate: str  # "<number> rev <n>"
    laboratory: str
    status: CertificateStatus
    calibration_end: datetime
    links: list[ChainLink]


class Traceability(BaseModel):
    """The full chain; ``complete`` when every path ends valid at a national primary standard."""

    chain: ChainNode
    complete: bool
    national_primary_standards: list[str]
    broken_links: list[str]


ChainLink.model_rebuild()


def _node(session: Session, cert: Certificate, depth: int, seen: set[int],
          roots: set[str], broken: list[str]) -> ChainNode:
    from labctl.platform.certificates import link_validity

    lab = session.get(Organisation, cert.organisation_id)
    assert lab is not None and cert.id is not None
    links: list[ChainLink] = []
    for link in session.exec(select(CertificateStandard).where(
            CertificateStandard.certificate_id == cert.id)
            .order_by(col(CertificateStandard.id))).all():
        std = session.get(Standard, link.standard_id)
        assert std is not None
        holder = session.get(Organisation, std.organisation_id)
        state, why = link_validity(session, link, std, cert.calibration_end)
        cal = session.get(StandardCalibration, link.calibration_id) \
            if link.calibration_id else None
        nxt: ChainNode | None = None
        if state != "valid":
            terminal = "broken"
            broken.append(f"{cert.number} rev {cert.revision} → {std.identifier}: {why}")
        elif std.kind == StandardKind.NATIONAL_PRIMARY:
            terminal = "national_primary"
            roots.add(std.identifier)
        elif link.standard_certificate_id is None:
            terminal = "outside_platform"
        elif link.standard_certificate_id in seen or depth >= MAX_DEPTH:
            terminal = "cycle"
            broken.append(f"{cert.number} → {std.identifier}: chain loops or is too deep")
        else:
            upstream = session.get(Certificate, link.standard_certificate_id)
            assert upstream is not None
            terminal = "continues"
            nxt = _node(session, upstream, depth + 1, seen | {cert.id}, roots, broken)
        links.append(ChainLink(
            standard=std.identifier, kind=StandardKind(std.kind), description=std.description,
            holder=holder.code if holder else "", used_at=link.used_at, state=state,
            explanation=why, terminal=terminal, next=nxt,
            calibration=CalibrationRef(
                certificate_number=cal.certificate_number, issuer=cal.issuer,
                calibrated_on=cal.calibrated_on.isoformat(), due_date=cal.due_date.isoformat(),
                on_platform=cal.certificate_id is not None) if cal else None))
    return ChainNode(certificate=f"{cert.number} rev {cert.revision}", laboratory=lab.code,
                     status=CertificateStatus(cert.status),
                     calibration_end=cert.calibration_end, links=links)


def _leaves_ok(node: ChainNode) -> bool:
    if not node.links:
        return False
    for link in node.links:
        if link.terminal == "national_primary":
            continue
        if link.terminal == "continues" and link.next is not None and _leaves_ok(link.next):
            continue
        return False
    return True


def chain(session: Session, cert: Certificate) -> Traceability:
    roots: set[str] = set()
    broken: list[str] = []
    node = _node(session, cert, 0, set(), roots, broken)
    return Traceability(chain=node, complete=_leaves_ok(node) and not broken,
                        national_primary_standards=sorted(roots), broken_links=broken)


def statement(session: Session, cert: Certificate) -> str:
    """The traceability statement printed on the certificate."""
    t = chain(session, cert)
    if t.national_primary_standards:
        holders = sorted({
            o.name for o in session.exec(select(Organisation).join(
                Standard, Standard.organisation_id == Organisation.id)  # type: ignore[arg-type]
                .where(col(Standard.identifier).in_(t.national_primary_standards))).all()})
        return ("The results are metrologically traceable to the SI through an unbroken chain "
                "of calibrations, each with its stated uncertainty, to the national measurement "
                f"standards {', '.join(t.national_primary_standards)} maintained by "
                f"{', '.join(holders)}.")
    return ("The results are metrologically traceable to the SI through the calibration "
            "certificates of the measurement standards listed, each issued by a competent "
            "laboratory.")


# --- reverse traceability --------------------------------------------------------------------


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
    propagated: bool = False  # an estimate: the error carried through calibrations between


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
    the standard's quantity and unit are decided again with the error corrected by δ
    (exactly for direct use; carried through, first order, further down).
    """
    from labctl.platform.certificates import report_point

    if since.tzinfo is None:
        raise ValidationError("since", since.isoformat(), "a timezone-aware time")
    entries: list[ImpactEntry] = []
    seen: set[int] = set()
    # frontier: (standard id, calibration certificate id or None for the first level, via)
    frontier: list[tuple[int, int | None, list[str]]] = [(std.id, None, [std.identifier])]  # type: ignore[list-item]
    depth = 0
    while frontier and depth < MAX_DEPTH:
        depth += 1
        next_frontier: list[tuple[int, int | None, list[str]]] = []
        for std_id, via_cert, via in frontier:
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
                points = _recompute(session, cert, std, change, report_point, depth) \
                    if change is not None else []
                entries.append(ImpactEntry(
                    certificate=f"{cert.number} rev {cert.revision}", number=cert.number,
                    revision=cert.revision, laboratory=lab.code if lab else "",
                    status=CertificateStatus(cert.status), depth=depth, via=via,
                    used_at=link.used_at, points=points,
                    action=_action(cert, depth, points)))
                if cert.item_standard_id is not None:
                    item = session.get(Standard, cert.item_standard_id)
                    next_frontier.append((cert.item_standard_id, cert.id,
                                          [*via, item.identifier if item else "?"]))
        frontier = next_frontier
    return ImpactReport(
        standard=std.identifier, since=since, until=None,
        error_absolute=str(change.error_absolute) if change and change.error_absolute
        is not None else None,
        error_relative=str(change.error_relative) if change and change.error_relative
        is not None else None,
        certificates=entries)


def _recompute(session: Session, cert: Certificate, std: Standard,
               change: StandardStatusChange | None, report_point: Any,
               depth: int = 1) -> list[ImpactPoint]:
    """Points in the standard's quantity and unit, decided again with the error corrected.

    At depth > 1 the error is assumed carried unchanged through each calibration in between
    (first order: the intermediate standard inherited the same error at the same value), which
    is flagged ``propagated`` so the quality manager knows it is an estimate.
    """
    from labctl.platform.certificates import points_of

    if change is None:
        return []
    out: list[ImpactPoint] = []
    rule = cert.decision_rule or None
    for i, p in enumerate(points_of(session, cert)):
        if p.quantity != std.quantity or p.unit != std.unit:
            continue
        delta = (change.error_absolute or Decimal(0)) + \
            (change.error_relative or Decimal(0)) * abs(p.reference_value)
        before = report_point(p, rule)
        after = report_point(p, rule, error_shift=delta)
        out.append(ImpactPoint(
            seq=i, nominal=str(p.nominal), unit=p.unit, error_reported=str(before.error),
            error_corrected=str(after.error), expanded_uncertainty=str(before.U),
            conformity_reported=before.conformity, conformity_corrected=after.conformity,
            still_holds=before.conformity == after.conformity, propagated=depth > 1))
    return out


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


def certificate_for_chain(session: Session, number: str, revision: int | None) -> Certificate:
    from labctl.platform.certificates import revision_of

    cert = revision_of(session, number, revision)
    if cert is None:  # pragma: no cover - revision_of raises
        raise NotFoundError("certificate", number)
    return cert


def out_of_tolerance(status: str) -> bool:
    return status == StandardStatus.OUT_OF_TOLERANCE
