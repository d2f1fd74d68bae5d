"""Traceability: item → standards → their certificates → … → national primary standards.

Each link is judged at its own time of use: the calibration frozen on the certificate when the
measurement began, its due date against the end of the measurement, and the standard's status
history over the measurement (:func:`~labctl.platform.results.records.link_validity`).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlmodel import Session, col, select

from labctl.errors import NotFoundError
from labctl.platform.models.base import CertificateStatus, StandardKind
from labctl.platform.models.certificates import (
    Certificate,
)
from labctl.platform.models.org import Organisation
from labctl.platform.models.registry import Standard, StandardCalibration
from labctl.platform.results.records import link_validity, revision_of, standards_used

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

    lab = session.get(Organisation, cert.organisation_id)
    assert lab is not None and cert.id is not None
    links: list[ChainLink] = []
    for link, std, cal in standards_used(session, cert):
        holder = session.get(Organisation, std.organisation_id)
        state, why = link_validity(session, link, std, cal, cert.calibration_end)
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


def calibrating_certificate(session: Session, std: Standard) -> Certificate | None:
    """The certificate, made on this platform, of the standard's current calibration: where
    the standard's own chain starts. None for a national primary standard (the top of every
    chain), and for a standard calibrated outside the platform or never calibrated."""
    if std.kind == StandardKind.NATIONAL_PRIMARY or std.current_calibration_id is None:
        return None
    cal = session.get(StandardCalibration, std.current_calibration_id)
    if cal is None or cal.certificate_id is None:
        return None
    return session.get(Certificate, cal.certificate_id)


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


def certificate_for_chain(session: Session, number: str, revision: int | None) -> Certificate:

    cert = revision_of(session, number, revision)
    if cert is None:  # pragma: no cover - revision_of raises
        raise NotFoundError("certificate", number)
    return cert


