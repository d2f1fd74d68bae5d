"""Reading certificates: who may read which revision, the public view of a certificate, and
public verification (status, revision, content hash, signature, audit record, flags)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, select

from labctl.errors import (
    NotFoundError,
    PermissionDeniedError,
)
from labctl.platform import audit
from labctl.platform.accounts import policy
from labctl.platform.accounts.auth import Principal
from labctl.platform.certificates import rendering
from labctl.platform.models.base import (
    CertificateStatus,
    DecisionRule,
    Role,
)
from labctl.platform.models.certificates import (
    Certificate,
    CertificateFlag,
    CertificatePublic,
    PointPublic,
    StandardUsedPublic,
    Verification,
)
from labctl.platform.models.org import Organisation
from labctl.platform.models.registry import Standard
from labctl.platform.results.records import points_of, revision_of, standards_used, users_by_id
from labctl.platform.results.reporting import Reported, report_points
from labctl.platform.settings import Settings


def can_read(session: Session, principal: Principal, cert: Certificate) -> bool:
    """Staff of the laboratory (admins above it) read every revision; the customer's people
    the issued ones (:func:`labctl.platform.accounts.policy.can_read_certificate`)."""
    return policy.can_read_certificate(session, principal, cert)


def readable(session: Session, principal: Principal, number: str,
             revision: int | None = None) -> Certificate:
    """The revision asked for (default: the newest the caller may read).

    A customer asking for no revision gets the newest issued one (an amendment in progress
    stays the laboratory's); a revision that was never issued is not disclosed to them (404).
    """
    cert = revision_of(session, number, revision)
    if policy.can_read_certificate(session, principal, cert):
        return cert
    if policy.is_customer_of(principal, cert):
        if revision is None:
            issued = session.exec(select(Certificate).where(
                Certificate.number == number,
                col(Certificate.status).in_(policy.ISSUED_STATES))
                .order_by(col(Certificate.revision).desc()).limit(1)).first()
            if issued is not None:
                return issued
        raise NotFoundError("issued certificate", number if revision is None
                            else f"{number} rev {revision}")
    raise PermissionDeniedError("certificate.read", f"{principal.actor} is neither staff of "
                                "the laboratory nor its customer")


def _point_public(seq: int, r: Reported) -> PointPublic:
    p = r.point
    return PointPublic(
        seq=seq, table_title=p.table_title, quantity=p.quantity, unit=p.unit,
        range_label=p.range_label, nominal=str(p.nominal), reference_value=str(r.reference),
        measured_value=str(r.measured), error=str(r.error), expanded_uncertainty=str(r.U),
        coverage_factor=str(p.coverage_factor), coverage_probability=str(p.coverage_probability),
        lower_limit=None if p.lower_limit is None else str(p.lower_limit),
        upper_limit=None if p.upper_limit is None else str(p.upper_limit),
        conformity=r.conformity,
    )


def certificate_public(session: Session, cert: Certificate) -> CertificatePublic:
    lab = session.get(Organisation, cert.organisation_id)
    assert lab is not None
    reported = report_points(points_of(session, cert), cert.decision_rule or None)
    replaces = session.get(Certificate, cert.replaces_id) if cert.replaces_id else None
    item_std = session.get(Standard, cert.item_standard_id) if cert.item_standard_id else None
    flags = session.exec(select(CertificateFlag).where(
        CertificateFlag.certificate_id == cert.id).order_by(col(CertificateFlag.id))).all()
    users = users_by_id(session, cert.performed_by_id, cert.checked_by_id, cert.approved_by_id)

    def username(user_id: int | None) -> str | None:
        user = users.get(user_id) if user_id is not None else None
        return user.username if user else None

    return CertificatePublic(
        number=cert.number, revision=cert.revision, status=CertificateStatus(cert.status),
        laboratory_code=lab.code, customer_name=cert.customer_name,
        item_description=cert.item_description, item_serial_number=cert.item_serial_number,
        item_standard=item_std.identifier if item_std else None, quantity=cert.quantity,
        procedure=cert.procedure, method=cert.method, location=cert.location,
        calibration_begin=cert.calibration_begin, calibration_end=cert.calibration_end,
        issue_date=cert.issue_date, performed_by=username(cert.performed_by_id) or "",
        checked_by=username(cert.checked_by_id), approved_by=username(cert.approved_by_id),
        decision_rule=DecisionRule(cert.decision_rule) if cert.decision_rule else None,
        standards=[StandardUsedPublic(
            identifier=std.identifier, description=std.description,
            certificate_number=cal.certificate_number if cal else None,
            certificate_issuer=cal.issuer if cal else None,
            calibrated_on=cal.calibrated_on if cal else None,
            due_date=cal.due_date if cal else None) for _, std, cal in standards_used(session,
                                                                                   cert)],
        conditions=cert.conditions, statements=cert.statements,
        points=[_point_public(i, r) for i, r in enumerate(reported)],
        replaces=f"{replaces.number} rev {replaces.revision}" if replaces else None,
        amendment_reason=cert.amendment_reason, withdrawal_reason=cert.withdrawal_reason,
        content_hash=cert.content_hash,
        flags=[{"standard_id": f.standard_id, "depth": f.depth, **f.report} for f in flags],
    )


def verify(session: Session, *, number: str, settings: Settings,
           revision: int | None = None) -> Verification:
    """Public verification: status, revision, content hash and whether the signature holds."""
    if revision is None:
        cert = session.exec(select(Certificate).where(
            Certificate.number == number, col(Certificate.status).in_(
                [CertificateStatus.ISSUED.value, CertificateStatus.SUPERSEDED.value,
                 CertificateStatus.WITHDRAWN.value]))
            .order_by(col(Certificate.revision).desc()).limit(1)).first()
    else:
        cert = session.exec(select(Certificate).where(
            Certificate.number == number, Certificate.revision == revision)).first()
    if cert is None or cert.status in (CertificateStatus.DRAFT, CertificateStatus.CHECKED):
        raise NotFoundError("issued certificate", number if revision is None
                            else f"{number} rev {revision}")
    lab = session.get(Organisation, cert.organisation_id)
    assert lab is not None

    valid, detail = rendering.check_signature(cert, lab_code=lab.code, settings=settings)
    consistent, audit_detail = audit.certificate_record(session, cert,
                                                        keys_dir=settings.keys_dir)
    flags = [f"{f.report.get('standard', f.standard_id)} was found out of tolerance "
             f"({f.report.get('reason', '')}): {f.report.get('action', 'under review')}"
             for f in session.exec(select(CertificateFlag).where(
                 CertificateFlag.certificate_id == cert.id).order_by(col(CertificateFlag.id)))]
    return Verification(
        number=cert.number, revision=cert.revision, status=CertificateStatus(cert.status),
        laboratory=lab.name, issue_date=cert.issue_date, content_hash=cert.content_hash,
        signature_valid=valid, signature_detail=detail,
        current=cert.status == CertificateStatus.ISSUED and consistent and not flags,
        audit_consistent=consistent, audit_detail=audit_detail, flags=flags,
    )


def customer_certificates(session: Session, principal: Principal, *, offset: int = 0,
                          limit: int = 50) -> tuple[list[Certificate], int]:
    """The certificates issued to the caller's customer organisations, newest first: per
    number its newest revision the caller may read (issued, superseded or withdrawn: a
    withdrawn certificate is listed so the customer learns of it), and the total count.

    Only organisations where the caller holds the ``customer`` role count; each row is
    passed through :func:`policy.can_read_certificate`, the rule every read obeys."""
    orgs = sorted({org for org, role in principal.roles if role == Role.CUSTOMER})
    if not orgs:
        return [], 0
    newest = (select(Certificate.number, sa.func.max(Certificate.revision).label("rev"))
              .where(col(Certificate.customer_organisation_id).in_(orgs),
                     col(Certificate.status).in_(policy.ISSUED_STATES))
              .group_by(col(Certificate.number)).subquery())
    query = (select(Certificate).join(newest, sa.and_(
        col(Certificate.number) == newest.c.number, col(Certificate.revision) == newest.c.rev)))
    total = session.exec(select(sa.func.count()).select_from(newest)).one()
    rows = session.exec(query.order_by(col(Certificate.issue_date).desc(),
                                       col(Certificate.number).desc())
                        .offset(max(0, offset)).limit(max(1, min(limit, 200)))).all()
    return [c for c in rows if policy.can_read_certificate(session, principal, c)], total
