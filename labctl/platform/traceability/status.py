"""A standard's status changes: quarantine, investigation, return to service, out of
tolerance (which flags the certificates that used it,
:mod:`~labctl.platform.traceability.impact`), retirement.

:func:`apply_status` is the one place a status changes (the status row, the history row and
the flags of the reverse impact report); :func:`change_status` is a person's request for it
(policy, audit, commit), and the quality checks (:mod:`labctl.platform.quality`) call
:func:`apply_status` inside their own audited transaction.
"""

from __future__ import annotations

from sqlmodel import Session, select

from labctl.errors import ConflictError, ValidationError
from labctl.platform import audit
from labctl.platform.accounts import policy
from labctl.platform.accounts.auth import Principal
from labctl.platform.db import utcnow
from labctl.platform.models.base import (
    StandardStatus,
)
from labctl.platform.models.quality import QualityEvent, QualityEventStatus
from labctl.platform.models.registry import (
    Standard,
    StandardStatusChange,
    StatusChangeRequest,
)
from labctl.platform.registry.entries import standard_by_identifier
from labctl.platform.traceability.impact import ImpactReport, default_since, flag_out_of_tolerance

#: statuses whose change flags the certificates that used the standard since it was last
#: known good: out of tolerance always; a quarantine when it states the error found (a
#: check found the standard beyond its tolerance)
FLAGGING = (StandardStatus.OUT_OF_TOLERANCE, StandardStatus.QUARANTINED)


def _flags(data: StatusChangeRequest) -> bool:
    if data.status is StandardStatus.OUT_OF_TOLERANCE:
        return True
    return data.status in FLAGGING and (data.error_absolute is not None
                                        or data.error_relative is not None)


def apply_status(session: Session, row: Standard, data: StatusChangeRequest, *,
                 recorded_by_id: int | None
                 ) -> tuple[StandardStatusChange, ImpactReport | None]:
    """Put ``row`` in ``data.status`` (no policy, no audit, no commit: the caller's
    transaction does those). Out of tolerance needs the error found; with an error found
    (out of tolerance, or a quarantine stating it) reverse traceability flags every
    certificate that used the standard (at any depth) since ``data.impact_since`` (default:
    its last calibration)."""
    if data.status is StandardStatus.OUT_OF_TOLERANCE and (
        data.error_absolute is None and data.error_relative is None
    ):
        raise ValidationError("error_absolute", None,
                              "the error found (absolute and/or relative) when out of tolerance")
    if row.status == StandardStatus.RETIRED:
        raise ConflictError(f"standard {row.identifier} is retired")
    effective = data.effective_at or utcnow()
    if effective.tzinfo is None:
        raise ValidationError("effective_at", effective.isoformat(), "a timezone-aware time")
    since = None
    if _flags(data):
        since = data.impact_since or default_since(session, row)
        if since.tzinfo is None:
            raise ValidationError("impact_since", since.isoformat(), "a timezone-aware time")
    change = StandardStatusChange(
        standard_id=row.id, status=data.status.value, effective_at=effective,  # type: ignore[arg-type]
        reason=data.reason, error_absolute=data.error_absolute,
        error_relative=data.error_relative, recorded_by_id=recorded_by_id,
    )
    row.status = data.status.value
    session.add(row)
    session.add(change)
    session.flush()
    report = flag_out_of_tolerance(session, row, change, since) if since is not None else None
    return change, report


def change_status(session: Session, *, principal: Principal, identifier: str,
                  data: StatusChangeRequest
                  ) -> tuple[StandardStatusChange, ImpactReport | None]:
    """Quarantine, return to service, declare out of tolerance or retire a standard.

    Out of tolerance needs the error found; reverse traceability then flags every certificate
    that used the standard (at any depth) since its last good calibration (``traceability``).
    """
    row = standard_by_identifier(session, identifier)
    policy.may_change_status(session, principal, row.organisation_id)
    if data.status is StandardStatus.IN_SERVICE and session.exec(select(QualityEvent.id).where(
            QualityEvent.standard_id == row.id,
            QualityEvent.status == QualityEventStatus.OPEN)).first() is not None:
        raise ConflictError(
            f"standard {identifier} has an open quality event: it returns to service only "
            "with a verification (POST /api/v1/standards/{identifier}/return-to-service)",
            reason="quality_event_open")
    change, report = apply_status(session, row, data, recorded_by_id=principal.user_id)
    audit.record(session, actor=principal.actor, action="standard.status", entity_type="standard",
                 entity_id=identifier, organisation_id=row.organisation_id, reason=data.reason,
                 data={**data.model_dump(mode="json"),
                       "flagged": [c.certificate for c in report.certificates] if report else []})
    session.commit()
    return change, report
