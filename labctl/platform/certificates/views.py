"""Reading certificates: who may read which revision, the public view of a certificate, and
public verification (status, revision, content hash, signature, audit record, flags)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy import or_
from sqlmodel import Session, col, func, select

from labctl.errors import (
    NotFoundError,
    PermissionDeniedError,
)
from labctl.platform import audit
from labctl.platform.accounts import policy
from labctl.platform.accounts.auth import Principal, has_role
from labctl.platform.certificates import rendering
from labctl.platform.db import contains_pattern
from labctl.platform.models.base import (
    CertificateStatus,
    DecisionRule,
    Role,
)
from labctl.platform.models.certificates import (
    Certificate,
    CertificateFlag,
    CertificatePublic,
    CertificateSummary,
    PointPublic,
    StandardUsedPublic,
    Verification,
)
from labctl.platform.models.org import Organisation
from labctl.platform.models.registry import Page, Standard
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
        customer_address=cert.customer_address, item_description=cert.item_description,
        item_manufacturer=cert.item_manufacturer, item_model=cert.item_model,
        item_serial_number=cert.item_serial_number, item_identifier=cert.item_identifier,
        item_standard=item_std.identifier if item_std else None,
        receipt_date=cert.receipt_date, quantity=cert.quantity,
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


# --- listing --------------------------------------------------------------------------------

#: The largest page of a certificate list.
MAX_LIST = 200


@dataclass(frozen=True)
class CertificateFilters:
    """What a certificate list is narrowed to. ``q``: every word must occur in the number,
    the customer, the item (description, serial number, identifier) or the quantity;
    ``issued_from`` / ``issued_to``: issue dates, both ends included (a filter on them leaves
    out revisions never issued)."""

    status: CertificateStatus | None = None
    laboratory: str | None = None
    customer: str | None = None
    q: str | None = None
    issued_from: date | None = None
    issued_to: date | None = None
    offset: int = 0
    limit: int = 50


def _readable_clause(session: Session, principal: Principal) -> object | None:
    """The SQL condition that selects the revisions ``principal`` may read, the same answer
    as :func:`~labctl.platform.accounts.policy.can_read_certificate` row by row (``None``: every
    revision, for the superuser). Each row is still asked the policy before it is shown."""
    if principal.kind == "station":
        return col(Certificate.organisation_id) == (principal.station_org_id or -1)
    if principal.is_superuser:
        return None
    staff = {org for org, role in principal.roles if role in policy.LAB_ROLES}
    if any(role is Role.ADMIN for _, role in principal.roles):
        every = session.exec(select(Organisation.id)).all()
        staff |= {o for o in every if o is not None and has_role(session, principal,
                                                                 Role.ADMIN, o)}
    customer_of = {org for org, role in principal.roles if role is Role.CUSTOMER}
    return or_(col(Certificate.organisation_id).in_(staff or {-1}),
               col(Certificate.customer_organisation_id).in_(customer_of or {-1})
               & col(Certificate.status).in_(policy.ISSUED_STATES))


def list_certificates(session: Session, principal: Principal,
                      filters: CertificateFilters) -> Page[CertificateSummary]:
    """The certificate revisions the caller may read (staff of the laboratory every revision,
    a customer the issued ones of their organisation), newest first, filtered and paged."""
    query = select(Certificate)
    readable_by = _readable_clause(session, principal)
    if readable_by is not None:
        query = query.where(readable_by)  # type: ignore[arg-type]
    f = filters
    if f.status is not None:
        query = query.where(Certificate.status == f.status.value)
    if f.laboratory:
        lab = session.exec(select(Organisation.id).where(
            Organisation.code == f.laboratory)).first()
        query = query.where(Certificate.organisation_id == (lab if lab is not None else -1))
    if f.customer:
        needle = contains_pattern(f.customer.strip().lower())
        query = query.where(func.lower(Certificate.customer_name).like(needle, escape="\\"))
    for word in (f.q or "").lower().split()[:8]:
        needle = contains_pattern(word)
        query = query.where(or_(*(func.lower(c).like(needle, escape="\\") for c in (
            Certificate.number, Certificate.customer_name, Certificate.item_description,
            Certificate.item_serial_number, Certificate.item_identifier,
            Certificate.quantity))))
    if f.issued_from is not None:
        query = query.where(col(Certificate.issue_date) >= f.issued_from)
    if f.issued_to is not None:
        query = query.where(col(Certificate.issue_date) <= f.issued_to)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(Certificate.created_at).desc(),
                                       col(Certificate.id).desc())
                        .offset(f.offset).limit(f.limit)).all()
    rows = [c for c in rows if policy.can_read_certificate(session, principal, c)]
    return Page[CertificateSummary](items=summaries(session, rows), total=total,
                                    offset=f.offset, limit=f.limit)


def summaries(session: Session, rows: list[Certificate]) -> list[CertificateSummary]:
    """``rows`` as list entries (their people and laboratories fetched once)."""
    ids: list[int | None] = []
    for c in rows:
        ids += [c.performed_by_id, c.checked_by_id, c.approved_by_id, *c.contributor_ids]
    users = users_by_id(session, *ids)
    labs = {o.id: o.code for o in session.exec(select(Organisation).where(
        col(Organisation.id).in_({c.organisation_id for c in rows} or {-1}))).all()}
    flagged = set(session.exec(select(CertificateFlag.certificate_id).where(
        col(CertificateFlag.certificate_id).in_({c.id for c in rows} or {-1}))).all())

    def name(user_id: int | None) -> str | None:
        user = users.get(user_id) if user_id is not None else None
        return user.username if user else None

    return [CertificateSummary(
        number=c.number, revision=c.revision, status=CertificateStatus(c.status),
        laboratory_code=labs.get(c.organisation_id, ""), customer_name=c.customer_name,
        item_description=c.item_description, item_serial_number=c.item_serial_number,
        quantity=c.quantity, procedure=c.procedure, calibration_end=c.calibration_end,
        issue_date=c.issue_date, performed_by=name(c.performed_by_id) or "",
        contributors=[n for n in (name(i) for i in policy.contributors_in_order(c)) if n],
        checked_by=name(c.checked_by_id), approved_by=name(c.approved_by_id),
        flagged=c.id in flagged) for c in rows]
