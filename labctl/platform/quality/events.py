"""Quality events: listing them, and returning a standard to service once verified.

A standard under investigation or in quarantine returns to service only with a verification
recorded after its events opened — a check inside limits (within tolerance and |En| ≤ 1
against the certified value) or a published calibration — and only by a person other than
the one who put it out of service or whose check did (ISO/IEC 17025 6.4.9). Returning it
closes its open events, in one audited transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session, col, select

from labctl.errors import ConflictError, NotFoundError, ValidationError
from labctl.platform import audit
from labctl.platform.accounts import policy
from labctl.platform.accounts.auth import Principal
from labctl.platform.db import utcnow
from labctl.platform.models.base import ReviewState, StandardStatus
from labctl.platform.models.quality import (
    CheckResult,
    QualityEvent,
    QualityEventKind,
    QualityEventPublic,
    QualityEventStatus,
    ReturnToServiceIn,
)
from labctl.platform.models.registry import (
    Standard,
    StandardCalibration,
    StandardStatusChange,
    StatusChangeRequest,
)
from labctl.platform.quality.checks import evaluate_point, event_public, open_events
from labctl.platform.registry.entries import standard_by_identifier
from labctl.platform.traceability.impact import default_since, impact
from labctl.platform.traceability.status import apply_status

SUSPENDED = (StandardStatus.QUARANTINED, StandardStatus.UNDER_INVESTIGATION)


def _verification(session: Session, std: Standard, data: ReturnToServiceIn,
                  opened: datetime, signalled: datetime | None) -> dict[str, object]:
    """The verification named, checked: recorded after ``opened`` (a check also measured
    after the last check that ``signalled``) and inside limits."""
    if (data.verification_check_id is None) == (data.calibration_id is None):
        raise ValidationError("verification_check_id", data.verification_check_id,
                              "exactly one of verification_check_id and calibration_id")
    if data.verification_check_id is not None:
        check = session.get(CheckResult, data.verification_check_id)
        if check is None or check.standard_id != std.id:
            raise NotFoundError(f"check of {std.identifier}", str(data.verification_check_id))
        if check.created_at <= opened or (signalled is not None
                                          and check.measured_at <= signalled):
            raise ValidationError(
                "verification_check_id", check.id,
                f"a check recorded after the event opened ({opened.isoformat()}) and made "
                "after the checks that opened it")
        ev = evaluate_point(session, std, check.point_key)
        if ev is None or check not in ev.checks:
            raise ValidationError("verification_check_id", check.id,
                                  "a check made since the standard's current calibration")
        i = ev.checks.index(check)
        en, beyond = float(ev.en[i]), bool(ev.beyond[i])
        tol = ev.frame.tolerance
        if abs(en) > 1 or beyond:
            raise ValidationError(
                "verification_check_id", check.id,
                f"a check inside limits: |En| ≤ 1 (this one {en:.3g})"
                + (f" and a deviation within ±{tol:.6g} {check.unit} (this one "
                   f"{ev.deviation(float(check.value)):.6g})" if tol is not None else ""))
        return {"check_id": check.id, "point_key": check.point_key, "value": str(check.value),
                "u": str(check.u), "en": round(en, 6), "run_id": check.run_id}
    cal = session.get(StandardCalibration, data.calibration_id)
    if cal is None or cal.standard_id != std.id:
        raise NotFoundError(f"calibration of {std.identifier}", str(data.calibration_id))
    if cal.review_state != ReviewState.PUBLISHED or cal.created_at <= opened:
        raise ValidationError("calibration_id", cal.id,
                              f"a published calibration recorded after the event opened "
                              f"({opened.isoformat()})")
    return {"calibration_id": cal.id, "certificate_number": cal.certificate_number,
            "calibrated_on": cal.calibrated_on.isoformat()}


def return_to_service(session: Session, principal: Principal, identifier: str,
                      data: ReturnToServiceIn) -> list[QualityEventPublic]:
    """Return ``identifier`` to service with the verification ``data`` names; the events it
    closes. Every rule first: the role, the state, the verification, the separation."""
    std = standard_by_identifier(session, identifier)
    if not policy.can_read_checks(session, principal, std.organisation_id) and \
            principal.kind == "station":
        raise NotFoundError("standard", identifier)
    policy.may_change_status(session, principal, std.organisation_id)
    if std.status not in SUSPENDED:
        raise ConflictError(f"standard {identifier} is {std.status.replace('_', ' ')}: only "
                            "a standard quarantined or under investigation returns to service",
                            reason="standard_status", status=std.status)
    events = open_events(session, std)
    last_out = session.exec(select(StandardStatusChange).where(
        StandardStatusChange.standard_id == std.id,
        col(StandardStatusChange.status).in_([s.value for s in SUSPENDED]))
        .order_by(col(StandardStatusChange.effective_at).desc(),
                  col(StandardStatusChange.id).desc())).first()
    opened = max([e.opened_at for e in events]
                 + ([last_out.created_at] if last_out is not None else []))
    # the checks that opened each event (later ones may join it, a verification too: the
    # moving range back from an outlier fires)
    ids = [e.check_ids[0] for e in events if e.check_ids]
    signalled = max((c.measured_at for c in session.exec(select(CheckResult).where(
        col(CheckResult.id).in_(ids))).all()), default=None) if ids else None
    verification = _verification(session, std, data, opened, signalled)
    by = {e.opened_by_id for e in events} | (
        {last_out.recorded_by_id} if last_out is not None else set())
    person = policy.may_return_to_service(session, principal, std.organisation_id,
                                          by - {None})
    change, _ = apply_status(session, std, StatusChangeRequest(
        status=StandardStatus.IN_SERVICE, reason=data.reason), recorded_by_id=person)
    now = utcnow()
    for e in events:
        e.status = QualityEventStatus.CLOSED.value
        e.closed_at = now
        e.closed_by_id = person
        e.verification = {**verification, "reason": data.reason,
                          "status_change_id": change.id}
        session.add(e)
    audit.record(session, actor=principal.actor, action="standard.return_to_service",
                 entity_type="standard", entity_id=std.identifier,
                 organisation_id=std.organisation_id, reason=data.reason,
                 data={"verification": verification, "closed": [e.id for e in events]})
    session.commit()
    return [event_public(session, e, std) for e in events]


def quality_events(session: Session, principal: Principal, *, standard: str | None = None,
                   status: QualityEventStatus | None = None, offset: int = 0,
                   limit: int = 50) -> list[QualityEventPublic]:
    """The events of the standards the caller's laboratories hold (newest first), optionally
    of one standard and in one state."""
    q = select(QualityEvent)
    if standard is not None:
        std = standard_by_identifier(session, standard)
        if not policy.can_read_checks(session, principal, std.organisation_id):
            raise NotFoundError("standard", standard)
        q = q.where(QualityEvent.standard_id == std.id)
    elif principal.kind == "station":
        q = q.where(QualityEvent.organisation_id == principal.station_org_id)
    else:
        labs = policy.staff_laboratories(session, principal)
        q = q.where(col(QualityEvent.organisation_id).in_(labs or [-1]))
    if status is not None:
        q = q.where(QualityEvent.status == status.value)
    rows = session.exec(q.order_by(col(QualityEvent.id).desc()).offset(offset)
                        .limit(limit)).all()
    return [event_public(session, e) for e in rows]


def open_comparison_events(session: Session, principal: Principal,
                           failures: Iterable[tuple[int, float, str]]
                           ) -> list[QualityEvent]:
    """A published comparison's participations beyond its E_n limit open an event on the
    standard each used, as a failed check does: a standard in service goes under
    investigation; one already out of service keeps its status and gets the event beside the
    open ones. The reverse-impact list (not flagged: the investigation decides) covers the
    certificates since its calibration. In the caller's transaction (the comparison's
    publication: a failure here publishes nothing)."""
    opened: list[QualityEvent] = []
    for standard_id, en, comparison in failures:  # comparisons.FailedParticipation
        std = session.get(Standard, standard_id)
        if std is None or std.status in (StandardStatus.RETIRED,
                                         StandardStatus.OUT_OF_TOLERANCE):
            continue  # no longer in use: nothing to investigate
        reason = (f"comparison {comparison}: |En| = {abs(en):.2f} > 1 for "
                  f"standard {std.identifier}")
        change_id = None
        status = std.status
        if std.status == StandardStatus.IN_SERVICE:
            change, _ = apply_status(session, std, StatusChangeRequest(
                status=StandardStatus.UNDER_INVESTIGATION, reason=reason),
                recorded_by_id=principal.user_id)
            change_id, status = change.id, StandardStatus.UNDER_INVESTIGATION.value
        since = default_since(session, std)
        event = QualityEvent(
            standard_id=std.id, organisation_id=std.organisation_id,  # type: ignore[arg-type]
            kind=QualityEventKind.COMPARISON_EN_FAILED.value,
            rules=[f"comparison:{comparison}"], check_ids=[],
            opened_by=principal.actor, opened_by_id=principal.user_id,
            standard_status=status, status_change_id=change_id,
            impact={"since": since.isoformat(), "flagged": False,
                    "certificates": [e.certificate for e in impact(
                        session, std, since=since).certificates],
                    "comparison": comparison, "en": en})
        session.add(event)
        session.flush()
        audit.record(session, actor=principal.actor, action="quality.comparison_failed",
                     entity_type="standard", entity_id=std.identifier,
                     organisation_id=std.organisation_id, reason=reason,
                     data={"comparison": comparison, "en": en,
                           "event": event.id, "status": std.status})
        opened.append(event)
    return opened
