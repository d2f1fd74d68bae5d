"""A certificate as stored, read back: its revisions, its points, the people on it, and the
standards it used, each with the calibration frozen at its time of use and the validity of
that link (status over the measurement, calibration in date, source certificate not
withdrawn)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from labctl.errors import (
    NotFoundError,
)
from labctl.platform.models.base import (
    CertificateStatus,
    StandardKind,
    StandardStatus,
)
from labctl.platform.models.certificates import (
    Certificate,
    CertificateStandard,
    ResultPoint,
)
from labctl.platform.models.org import User
from labctl.platform.models.registry import Standard, StandardCalibration, StandardStatusChange


def latest(session: Session, number: str) -> Certificate:
    """The newest revision of a certificate number."""
    row = session.exec(select(Certificate).where(Certificate.number == number)
                       .order_by(col(Certificate.revision).desc()).limit(1)).first()
    if row is None:
        raise NotFoundError("certificate", number)
    return row


def revision_of(session: Session, number: str, revision: int | None) -> Certificate:
    if revision is None:
        return latest(session, number)
    row = session.exec(select(Certificate).where(Certificate.number == number,
                                                 Certificate.revision == revision)).first()
    if row is None:
        raise NotFoundError("certificate", f"{number} rev {revision}")
    return row


def _username(session: Session, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    user = session.get(User, user_id)
    return user.username if user else None


def _full_name(session: Session, user_id: int | None) -> str:
    user = session.get(User, user_id) if user_id is not None else None
    return user.full_name if user else ""


def points_of(session: Session, cert: Certificate) -> list[ResultPoint]:
    return list(session.exec(select(ResultPoint).where(ResultPoint.certificate_id == cert.id)
                             .order_by(col(ResultPoint.posting_id), col(ResultPoint.seq))).all())


def _status_during(session: Session, std: Standard, begin: datetime, end: datetime
                   ) -> StandardStatus:
    """The worst status in force at any moment of [begin, end]."""
    change = StandardStatusChange
    # In one round trip: the change in force at ``begin`` (registry.status_at's rule; none
    # means in service) and every change during the measurement.
    at_begin = (select(change.status).where(change.standard_id == std.id,
                                             change.effective_at <= begin)
                .order_by(col(change.effective_at).desc(), col(change.id).desc())
                .limit(1).subquery())
    during = select(change.status).where(change.standard_id == std.id,
                                         change.effective_at > begin,
                                         change.effective_at <= end)
    statuses = {StandardStatus(s) for s in session.execute(
        sa.select(at_begin.c.status).union_all(during)).scalars()}
    for bad in (StandardStatus.OUT_OF_TOLERANCE, StandardStatus.QUARANTINED,
                StandardStatus.RETIRED):
        if bad in statuses:
            return bad
    return StandardStatus.IN_SERVICE


def link_validity(session: Session, link: CertificateStandard, std: Standard,
                  cal: StandardCalibration | None, end: datetime) -> tuple[str, str]:
    """``(state, explanation)`` of a standard at its time of use: "valid" or why not
    (``cal``: the link's frozen calibration, as :func:`standards_used` gives it)."""
    status = _status_during(session, std, link.used_at, end)
    if status is not StandardStatus.IN_SERVICE:
        return f"standard_{status.value}", (
            f"standard {std.identifier} was {status.value.replace('_', ' ')} during the "
            "measurement")
    if std.kind == StandardKind.NATIONAL_PRIMARY:
        return "valid", "national primary standard"
    if cal is None:
        return "standard_not_calibrated", (
            f"standard {std.identifier} had no calibration before {link.used_at.date()}")
    if cal.certificate_id is not None:
        source = session.get(Certificate, cal.certificate_id)
        if source is not None and source.status == CertificateStatus.WITHDRAWN:
            return "calibration_withdrawn", (
                f"standard {std.identifier}: its certificate {cal.certificate_number} was "
                f"withdrawn ({source.withdrawal_reason})")
    if cal.due_date < end.date():
        return "standard_expired", (
            f"standard {std.identifier}: certificate {cal.certificate_number} was due "
            f"{cal.due_date}, before the measurement ended on {end.date()}")
    return "valid", f"certificate {cal.certificate_number} valid until {cal.due_date}"


UsedStandard = tuple[CertificateStandard, Standard, StandardCalibration | None]


def standards_used(session: Session, cert: Certificate) -> list[UsedStandard]:
    """The standards used, each with the calibration frozen at its time of use (one query)."""
    rows = session.exec(
        select(CertificateStandard, Standard, StandardCalibration)
        .join(Standard, col(Standard.id) == col(CertificateStandard.standard_id))
        .outerjoin(StandardCalibration,
                   col(StandardCalibration.id) == col(CertificateStandard.calibration_id))
        .where(CertificateStandard.certificate_id == cert.id)
        .order_by(col(CertificateStandard.id))).all()
    return [(link, std, cal) for link, std, cal in rows]


def users_by_id(session: Session, *user_ids: int | None) -> dict[int, User]:
    """The users among ``user_ids`` (None skipped), by id, in one query."""
    ids = {i for i in user_ids if i is not None}
    if not ids:
        return {}
    return {u.id: u for u in session.exec(select(User).where(col(User.id).in_(ids))).all()
            if u.id is not None}
