"""The certificate workflow: draft → checked → issued, then superseded (amended) or withdrawn.

The server enforces the laboratory's rules (ISO/IEC 17025 6.2, 6.4, 7.8), not the client:

* nobody issues a certificate if a standard used was not calibrated, expired, quarantined, out
  of tolerance or retired at the time of measurement, or if the performer was not authorised
  for the quantity (and procedure) then (:class:`RuleViolationError`, HTTP 422, with ``rule``);
* performer, checker and approver are three different people (403, separation of duties,
  decided in :mod:`labctl.platform.accounts.policy`; everyone who posted results or edited the draft
  counts as a performer);
* a certificate states the standards used and identifies the item, unless its procedure is
  declared as needing neither (``no_standards``, ``no_item_identification``);
* reported U, rounded per EA-4/02, is never below the laboratory's published CMC at that point;
* results are posted idempotently under a client key; issued revisions are immutable.

Issuing renders the PDF and the signed DCC with ``labctl.platform.documents`` from a frozen
:class:`CertificateDocument` built here from the stored rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from labctl.errors import (
    ConflictError,
    NotFoundError,
    RuleViolationError,
    ValidationError,
)
from labctl.platform import audit, registry
from labctl.platform.accounts import policy
from labctl.platform.accounts.auth import Principal
from labctl.platform.accounts.organisations import is_authorised, org_by_code
from labctl.platform.certificates import rendering
from labctl.platform.certificates.views import _point_public
from labctl.platform.db import LockClass, advisory_xact_lock, utcnow
from labctl.platform.models.base import (
    CertificateStatus,
    check_key,
    request_digest,
)
from labctl.platform.models.certificates import (
    Certificate,
    CertificateCreate,
    CertificateStandard,
    CertificateUpdate,
    ResultPoint,
    ResultPosting,
    ResultsIn,
    ResultsPosted,
)
from labctl.platform.models.org import Organisation, User
from labctl.platform.models.registry import Standard
from labctl.platform.results.records import (
    UsedStandard,
    _username,
    latest,
    link_validity,
    points_of,
    standards_used,
)
from labctl.platform.results.reporting import Reported, report_points
from labctl.platform.settings import Settings
from labctl.procedures.catalog import PROCEDURES

# --- lookups and visibility -----------------------------------------------------------------


# --- reporting of points (EA-4/02 rounding, conformity) ----------------------------------------


# --- create -------------------------------------------------------------------------------


def _next_number(session: Session, lab: Organisation, year: int) -> str:
    """The laboratory's next free number for the year: ``<CODE>-<year>-<000001>``.

    Two drafts created at once must not draw the same number: SQLite serialises writers
    already; PostgreSQL takes a per-laboratory transaction lock first (always before the
    audit chain's lock, so the two never wait on each other in a cycle).
    """
    assert lab.id is not None
    advisory_xact_lock(session, LockClass.NUMBERING, lab.id)
    prefix = f"{lab.code}-{year}-"
    # The highest number of each width, from the number index (one row read, not the
    # laboratory's whole year): six digits, and past 999999 seven, eight, ...
    width, last = 6, 0
    while True:
        top = session.exec(select(Certificate.number).where(
            Certificate.organisation_id == lab.id,
            col(Certificate.number) >= prefix + "0" * width,
            col(Certificate.number) <= prefix + "9" * width,
            sa.func.length(Certificate.number) == len(prefix) + width,
            Certificate.revision == 0,
        ).order_by(col(Certificate.number).desc()).limit(1)).first()
        if top is not None and top.removeprefix(prefix).isdigit():
            last = int(top.removeprefix(prefix))
        if last < 10 ** width - 1:
            return f"{prefix}{last + 1:0{width}d}"
        width += 1


def _check_times(begin: datetime, end: datetime) -> None:
    for name, t in (("calibration_begin", begin), ("calibration_end", end)):
        if t.tzinfo is None:
            raise ValidationError(name, t.isoformat(), "a timezone-aware time (e.g. ...Z)")
    if end < begin:
        raise ValidationError("calibration_end", end.isoformat(),
                              f"not before calibration_begin {begin.isoformat()}")
    if end > utcnow() + timedelta(minutes=5):
        raise ValidationError("calibration_end", end.isoformat(), "not in the future")


def _link_standard(session: Session, cert: Certificate, std: Standard) -> CertificateStandard:
    """Freeze the calibration valid for ``std`` when the measurement began."""
    cal = registry.calibration_at(session, std, cert.calibration_begin.date())
    link = CertificateStandard(
        certificate_id=cert.id, standard_id=std.id,  # type: ignore[arg-type]
        calibration_id=cal.id if cal else None,
        standard_certificate_id=cal.certificate_id if cal else None,
        used_at=cert.calibration_begin,
    )
    session.add(link)
    return link


def create_certificate(session: Session, *, principal: Principal, data: CertificateCreate,
                       operator: User | None = None, commit: bool = True) -> Certificate:
    """A draft certificate (technician of the laboratory), with the standards used frozen.

    The performer is the caller. ``operator``: the draft of a run the platform knows, whose
    operator (checked by :func:`labctl.platform.accounts.policy.run_people`) is the performer; the
    caller (a station, or a technician who asks for the run's certificate) is recorded as
    who made the draft. ``commit=False``: the caller commits (one transaction with more).
    """
    lab = org_by_code(session, data.laboratory_code)
    assert lab.id is not None
    policy.may_draft(session, principal, lab.id)
    if operator is None:
        performer = policy.performer_for_draft(session, principal, lab, data.performed_by)
    else:
        if data.performed_by not in (None, operator.username):
            raise ValidationError("performed_by", data.performed_by,
                                  f"the run's operator {operator.username}")
        performer = operator
    assert performer.id is not None
    _check_times(data.calibration_begin, data.calibration_end)
    customer_org = org_by_code(session, data.customer_code) if data.customer_code else None
    item_std = registry.standard_by_identifier(session, data.item_standard) \
        if data.item_standard else None
    if len(set(data.standards)) != len(data.standards):
        raise ValidationError("standards", data.standards, "each standard once")
    standards = [registry.standard_by_identifier(session, s) for s in data.standards]
    for s in standards:
        if s.review_state != "published" and s.organisation_id != lab.id:
            raise NotFoundError("standard", s.identifier)
        if item_std is not None and s.id == item_std.id:
            raise ValidationError("standards", s.identifier, "not the item being calibrated")
    cert = Certificate(
        number=_next_number(session, lab, data.calibration_end.year), revision=0,
        organisation_id=lab.id, customer_organisation_id=customer_org.id if customer_org else None,
        customer_name=data.customer_name, customer_address=data.customer_address,
        item_standard_id=item_std.id if item_std else None,
        item_description=data.item_description,
        item_manufacturer=data.item_manufacturer or (item_std.manufacturer if item_std else ""),
        item_model=data.item_model or (item_std.model if item_std else ""),
        item_serial_number=data.item_serial_number or (item_std.serial_number if item_std
                                                       else ""),
        item_identifier=data.item_identifier or (item_std.identifier if item_std else ""),
        quantity=data.quantity, procedure=data.procedure, method=data.method,
        location=data.location, calibration_begin=data.calibration_begin,
        calibration_end=data.calibration_end, receipt_date=data.receipt_date,
        decision_rule=data.decision_rule.value if data.decision_rule else "",
        conditions=[c.model_dump(mode="json") for c in data.conditions],
        statements=list(data.statements), performed_by_id=performer.id,
        created_by=principal.actor,
        contributor_ids=policy.with_contributor([performer.id], principal),
    )
    session.add(cert)
    session.flush()
    for s in standards:
        _link_standard(session, cert, s)
    audit.record(session, actor=principal.actor, action="certificate.create",
                 entity_type="certificate", entity_id=f"{cert.number}/0",
                 organisation_id=lab.id, data={**data.model_dump(mode="json"),
                                               "performed_by": performer.username})
    if commit:
        session.commit()
    return cert


# --- results ------------------------------------------------------------------------------


def _request_hash(data: ResultsIn) -> str:
    body = data.model_dump(mode="json")
    for p in body["points"]:  # a point posted without them hashes as before they existed
        for name in ("dof", "budget"):
            if p[name] is None:
                del p[name]
    return request_digest(body)


def _contributed(cert: Certificate, principal: Principal) -> None:
    """Record the caller among the revision's contributors (who neither check nor issue it)."""
    ids = policy.with_contributor(cert.contributor_ids, principal)
    if ids != cert.contributor_ids:
        cert.contributor_ids = ids  # a new list: JSON columns track assignment, not mutation


def check_cmc(cmcs: registry.CmcTable, reported: Reported) -> None:
    """Reported U may not be smaller than the laboratory's best CMC at that point."""
    p = reported.point
    best = cmcs.best(quantity=p.quantity, unit=p.unit, value=p.nominal)
    if best is None:
        raise RuleViolationError(
            "outside_cmc",
            f"no published CMC of the laboratory covers {p.quantity} at {p.nominal} {p.unit}",
            quantity=p.quantity, nominal=str(p.nominal), unit=p.unit)
    if best > reported.U:
        raise RuleViolationError(
            "u_below_cmc",
            f"reported U = {reported.U} {p.unit} at {p.nominal} {p.unit} is below the "
            f"laboratory's CMC of {best} {p.unit} (ILAC-P14: U may not be smaller than the CMC)",
            nominal=str(p.nominal), reported_U=str(reported.U), cmc_U=str(best), unit=p.unit)


def _replay(session: Session, cert: Certificate, posting: ResultPosting) -> ResultsPosted:
    points = session.exec(select(ResultPoint).where(ResultPoint.posting_id == posting.id)
                          .order_by(col(ResultPoint.seq))).all()
    return ResultsPosted(
        certificate_number=cert.number, revision=cert.revision,
        idempotency_key=posting.idempotency_key,
        points=[_point_public(p.seq, r)
                for p, r in zip(points, report_points(points, cert.decision_rule or None),
                                strict=True)])


def post_results(session: Session, *, principal: Principal, number: str, idempotency_key: str,
                 data: ResultsIn, commit: bool = True) -> tuple[ResultsPosted, bool]:
    """Add measured points to a draft; ``(answer, replayed)``.

    The same key with the same body returns the stored answer (``replayed``) and creates
    nothing; the same key with another body is a conflict (409). Safe under concurrent retries:
    the unique (certificate, key) constraint decides, the loser replays.
    """
    check_key("Idempotency-Key", idempotency_key)  # it names the posting in URLs
    cert = latest(session, number)
    policy.may_post_results(session, principal, cert)
    digest = _request_hash(data)

    def used(cert: Certificate) -> ResultPosting | None:
        return session.exec(select(ResultPosting).where(
            ResultPosting.certificate_id == cert.id,
            ResultPosting.idempotency_key == idempotency_key)).first()

    if cert.status != CertificateStatus.DRAFT:
        if (existing := used(cert)) is not None:
            return _check_replay(session, cert, existing, digest), True
        raise ConflictError(f"certificate {cert.number} rev {cert.revision} is {cert.status}: "
                            "results are added to drafts only (issued ones are immutable)",
                            reason="certificate_state", number=cert.number, status=cert.status)
    cert_id = cert.id
    posting = ResultPosting(certificate_id=cert_id, idempotency_key=idempotency_key,  # type: ignore[arg-type]
                            request_hash=digest, actor=principal.actor)
    session.add(posting)
    try:
        # a new key is the usual case: insert at once, no lookup first (one round trip less)
        session.flush()
    except sa.exc.IntegrityError:
        # The key was used before (a retry, maybe still in flight): answer as it did.
        session.rollback()
        cert = session.get(Certificate, cert_id)  # type: ignore[assignment]
        existing = used(cert)
        if existing is None:
            raise
        return _check_replay(session, cert, existing, digest), True
    values = [{"certificate_id": cert.id, "posting_id": posting.id, "seq": i,
               **p.model_dump(exclude={"budget"}),
               "budget": None if p.budget is None else  # JSON: exact decimals as text
               [line.model_dump(mode="json") for line in p.budget]}
              for i, p in enumerate(data.points)]
    reported = report_points([ResultPoint(**v) for v in values], cert.decision_rule or None)
    cmcs = registry.CmcTable(session, cert.organisation_id)
    for r in reported:
        check_cmc(cmcs, r)
    answer = [_point_public(i, r) for i, r in enumerate(reported)]
    _contributed(cert, principal)
    # one executemany, no ids read back (nothing here refers to a point by its id); the
    # issued-certificate guard ran for this certificate when the posting above was flushed
    session.execute(sa.insert(ResultPoint.__table__), values)  # type: ignore[attr-defined]
    audit.record(session, actor=principal.actor, action="certificate.results",
                 entity_type="certificate", entity_id=f"{cert.number}/{cert.revision}",
                 organisation_id=cert.organisation_id,
                 data={"idempotency_key": idempotency_key, "points": len(values),
                       "request_hash": digest})
    if commit:
        session.commit()
    return ResultsPosted(certificate_number=cert.number, revision=cert.revision,
                         idempotency_key=idempotency_key, points=answer), False


def _check_replay(session: Session, cert: Certificate, posting: ResultPosting,
                  digest: str) -> ResultsPosted:
    if posting.request_hash != digest:
        raise ConflictError(f"Idempotency-Key {posting.idempotency_key!r} was already used for "
                            f"different results on {cert.number}", reason="key_reused")
    return _replay(session, cert, posting)


# --- check / issue / amend / withdraw -------------------------------------------------------


def _latest_for(session: Session, principal: Principal, number: str,
                may: Callable[[Session, Principal, Certificate], None],
                states: tuple[CertificateStatus, ...], only: str) -> Certificate:
    """The latest revision of ``number`` if the caller ``may`` act on it (the policy's check,
    403) and it is in one of ``states`` (else 409; ``only`` says which it must be)."""
    cert = latest(session, number)
    may(session, principal, cert)
    if cert.status not in states:
        raise ConflictError(f"certificate {number} rev {cert.revision} is {cert.status}; "
                            f"only {only}", reason="certificate_state", number=number,
                            status=cert.status)
    return cert


def _recorded(session: Session, principal: Principal, cert: Certificate, action: str, *,
              reason: str = "", data: dict[str, Any] | None = None,
              commit: bool = True) -> Certificate:
    """Write ``cert`` with the audit event of ``action`` on that revision, and commit
    (``commit=False``: the caller commits, one transaction with more)."""
    session.add(cert)
    audit.record(session, actor=principal.actor, action=action, entity_type="certificate",
                 entity_id=f"{cert.number}/{cert.revision}",
                 organisation_id=cert.organisation_id, reason=reason, data=data)
    if commit:
        session.commit()
    return cert


def check_certificate(session: Session, *, principal: Principal, number: str) -> Certificate:
    """The checker (not the performer) confirms the draft."""
    cert = _latest_for(session, principal, number, policy.may_check,
                       (CertificateStatus.DRAFT,), "a draft is checked")
    if not points_of(session, cert):
        raise RuleViolationError("no_results", f"certificate {number} has no results")
    cert.status = CertificateStatus.CHECKED.value
    cert.checked_by_id = principal.user_id
    cert.checked_at = utcnow()
    return _recorded(session, principal, cert, "certificate.check")


def enforce_rules(session: Session, cert: Certificate,
                  used: list[UsedStandard] | None = None) -> list[Reported]:
    """Every server rule that gates issue; returns the reported points.

    ``used``: the certificate's :func:`standards_used`, when the caller has them already.
    """
    used = standards_used(session, cert) if used is None else used
    needs = procedure_needs(cert.procedure)
    if not used and needs.standards:
        raise RuleViolationError(
            "no_standards", f"cannot issue {cert.number}: no standard used is stated, so "
            "nothing makes its results traceable (name the standards when drafting; a "
            f"procedure that needs none must be declared so; {cert.procedure!r} is not)",
            procedure=cert.procedure)
    if not (cert.item_serial_number.strip() or cert.item_identifier.strip()) and needs.item:
        raise RuleViolationError(
            "no_item_identification", f"cannot issue {cert.number}: the item calibrated has "
            "neither a serial number nor an identifier (ISO/IEC 17025 7.8.2.1 e); set "
            "item_serial_number or item_identifier on the draft",
            procedure=cert.procedure)
    for link, std, cal in used:
        state, why = link_validity(session, link, std, cal, cert.calibration_end)
        if state != "valid":
            raise RuleViolationError(state, f"cannot issue {cert.number}: {why}",
                                     standard=std.identifier)
    for day in {cert.calibration_begin.date(), cert.calibration_end.date()}:
        if not is_authorised(session, user_id=cert.performed_by_id,
                             organisation_id=cert.organisation_id, quantity=cert.quantity,
                             procedure=cert.procedure, on=day):
            raise RuleViolationError(
                "performer_not_authorised",
                f"cannot issue {cert.number}: {_username(session, cert.performed_by_id)} was "
                f"not authorised for {cert.quantity!r} by {cert.procedure!r} on {day}",
                performer=_username(session, cert.performed_by_id), day=day.isoformat())
    points = points_of(session, cert)
    if not points:
        raise RuleViolationError("no_results", f"certificate {cert.number} has no results")
    reported = report_points(points, cert.decision_rule or None)
    cmcs = registry.CmcTable(session, cert.organisation_id)
    for r in reported:
        check_cmc(cmcs, r)
    return reported


@dataclass(frozen=True)
class ProcedureNeeds:
    """What a certificate by a procedure must state to be issued."""

    standards: bool = True
    item: bool = True


def procedure_needs(procedure: str) -> ProcedureNeeds:
    """A procedure of the catalog may declare that it needs no standards used
    (``ProcedureInfo.needs_standards``) or no item identification
    (``needs_item_identification``); any other procedure needs both."""
    cls = PROCEDURES.get(procedure)
    if cls is None:
        return ProcedureNeeds()
    return ProcedureNeeds(standards=cls.info.needs_standards,
                          item=cls.info.needs_item_identification)


def issue_certificate(session: Session, *, principal: Principal, number: str,
                      settings: Settings) -> Certificate:
    """The approver (neither performer nor checker) issues: rules, PDF, signed DCC, hash."""
    cert = _latest_for(session, principal, number, policy.may_issue,
                       (CertificateStatus.CHECKED,), "a checked certificate is issued")
    used = standards_used(session, cert)
    reported = enforce_rules(session, cert, used)
    now = utcnow()
    cert.approved_by_id = principal.user_id
    cert.issued_at = now
    cert.issue_date = now.date()

    # Rendering only reads; the row is written once, with the documents, at commit.
    with session.no_autoflush:
        cert.pdf, cert.dcc, cert.content_hash = rendering.render_and_sign(
            session, cert, reported, settings, used=used)
    cert.status = CertificateStatus.ISSUED.value
    if cert.replaces_id is not None:
        old = session.get(Certificate, cert.replaces_id)
        assert old is not None
        old.status = CertificateStatus.SUPERSEDED.value
        session.add(old)
    if cert.item_standard_id is not None:
        item = session.get(Standard, cert.item_standard_id)
        lab = session.get(Organisation, cert.organisation_id)
        assert item is not None and lab is not None
        calibrated = cert.calibration_end.date()
        registry.record_calibration(
            session, standard=item, certificate_id=cert.id,
            certificate_number=cert.number if cert.revision == 0 else
            f"{cert.number} rev {cert.revision}", issuer=lab.name, calibrated_on=calibrated,
            due_date=calibrated + timedelta(days=item.calibration_interval_days))
    return _recorded(session, principal, cert, "certificate.issue",
                     data={"content_hash": cert.content_hash})


def amend_certificate(session: Session, *, principal: Principal, number: str,
                      reason: str) -> Certificate:
    """A new draft revision that will replace the issued one (ISO/IEC 17025 7.8.8)."""
    old = _latest_for(session, principal, number,
                      partial(policy.may_amend_or_withdraw, action="certificate.amend"),
                      (CertificateStatus.ISSUED,), "the issued revision is amended")
    fields = old.model_dump(exclude={"id", "revision", "status", "replaces_id",
                                     "amendment_reason", "checked_by_id", "approved_by_id",
                                     "checked_at", "issued_at", "issue_date", "pdf", "dcc",
                                     "content_hash", "created_by", "created_at",
                                     "withdrawn_at", "withdrawal_reason"})
    new = Certificate(**fields, revision=old.revision + 1, replaces_id=old.id,
                      amendment_reason=reason, created_by=principal.actor)
    session.add(new)
    session.flush()
    for link in session.exec(select(CertificateStandard).where(
            CertificateStandard.certificate_id == old.id)).all():
        session.add(CertificateStandard(
            certificate_id=new.id, standard_id=link.standard_id,  # type: ignore[arg-type]
            calibration_id=link.calibration_id,
            standard_certificate_id=link.standard_certificate_id, used_at=link.used_at))
    for posting in session.exec(select(ResultPosting).where(
            ResultPosting.certificate_id == old.id)).all():
        copy = ResultPosting(certificate_id=new.id, idempotency_key=posting.idempotency_key,  # type: ignore[arg-type]
                             request_hash=posting.request_hash, actor=posting.actor)
        session.add(copy)
        session.flush()
        for p in session.exec(select(ResultPoint).where(ResultPoint.posting_id == posting.id)):
            session.add(ResultPoint(**p.model_dump(exclude={"id", "certificate_id",
                                                            "posting_id"}),
                                    certificate_id=new.id, posting_id=copy.id))  # type: ignore[arg-type]
    return _recorded(session, principal, new, "certificate.amend", reason=reason)


def update_draft(session: Session, *, principal: Principal, number: str,
                 data: CertificateUpdate, customer_organisation_id: int | None = None,
                 commit: bool = True) -> Certificate:
    """Change a draft's administrative content (technician of the laboratory).

    What was measured (times, standards, performer, quantity, procedure) is not edited: a
    measurement made differently is a new certificate. A checked draft goes back to draft.
    ``customer_organisation_id``: the customer organisation whose people may read the issued
    certificate (the service desk sets it from the order a draft is linked to; the API's
    edit does not change it). ``commit=False``: the caller commits (one transaction).
    """
    cert = _latest_for(session, principal, number, policy.may_edit_draft,
                       (CertificateStatus.DRAFT, CertificateStatus.CHECKED),
                       "drafts change (amend an issued certificate)")
    changes = data.model_dump(exclude_unset=True, exclude={"reason"}, mode="json")
    if customer_organisation_id is not None:
        changes["customer_organisation_id"] = customer_organisation_id
    if not changes:
        raise ValidationError("body", {}, "at least one field to change besides the reason")
    for key, value in data.model_dump(exclude_unset=True, exclude={"reason"}).items():
        if key == "conditions":
            value = [c.model_dump(mode="json") for c in data.conditions or []]
        elif key == "decision_rule":
            value = value.value if value is not None else ""
        elif value is None and key not in ("receipt_date",):
            raise ValidationError(key, None, "a value (omit the field to keep it)")
        setattr(cert, key, value)
    if customer_organisation_id is not None:
        cert.customer_organisation_id = customer_organisation_id
    if cert.status == CertificateStatus.CHECKED:  # a change needs a new check
        cert.status = CertificateStatus.DRAFT.value
        cert.checked_by_id = None
        cert.checked_at = None
    _contributed(cert, principal)
    return _recorded(session, principal, cert, "certificate.update", reason=data.reason,
                     data=changes, commit=commit)


def discard_posting(session: Session, *, principal: Principal, number: str,
                    idempotency_key: str, reason: str) -> None:
    """Remove one posting's points from a draft (e.g. the wrong value an amendment corrects)."""
    cert = _latest_for(session, principal, number, policy.may_post_results,
                       (CertificateStatus.DRAFT,), "drafts change")
    posting = session.exec(select(ResultPosting).where(
        ResultPosting.certificate_id == cert.id,
        ResultPosting.idempotency_key == idempotency_key)).first()
    if posting is None:
        raise NotFoundError("result posting", idempotency_key)
    for p in session.exec(select(ResultPoint).where(ResultPoint.posting_id == posting.id)):
        session.delete(p)
    session.flush()
    session.delete(posting)
    _contributed(cert, principal)
    _recorded(session, principal, cert, "certificate.results.discard", reason=reason,
              data={"idempotency_key": idempotency_key})


def withdraw_certificate(session: Session, *, principal: Principal, number: str,
                         reason: str) -> Certificate:
    cert = _latest_for(session, principal, number,
                       partial(policy.may_amend_or_withdraw, action="certificate.withdraw"),
                       (CertificateStatus.ISSUED,), "an issued certificate is withdrawn")
    cert.status = CertificateStatus.WITHDRAWN.value
    cert.withdrawn_at = utcnow()
    cert.withdrawal_reason = reason
    return _recorded(session, principal, cert, "certificate.withdraw", reason=reason)


# --- public views ---------------------------------------------------------------------------


# --- immutability guard ----------------------------------------------------------------------


