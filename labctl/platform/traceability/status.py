"""A standard's status changes: quarantine, return to service, out of tolerance (which flags
the certificates that used it, :mod:`~labctl.platform.traceability.impact`), retirement."""

from __future__ import annotations

from sqlmodel import Session

from labctl.errors import ConflictError, ValidationError
from labctl.platform import audit
from labctl.platform.accounts import policy
from labctl.platform.accounts.auth import Principal
from labctl.platform.db import utcnow
from labctl.platform.models.base import (
    StandardStatus,
)
from labctl.platform.models.registry import (
    StandardStatusChange,
    StatusChangeRequest,
)
from labctl.platform.registry.entries import standard_by_identifier
from labctl.platform.traceability.impact import ImpactReport, default_since, flag_out_of_tolerance


def change_status(session: Session, *, principal: Principal, identifier: str,
                  data: StatusChangeRequest
                  ) -> tuple[StandardStatusChange, ImpactReport | None]:
    """Quarantine, return to service, declare out of tolerance or retire a standard.

    Out of tolerance needs the error found; reverse traceability then flags every certificate
    that used the standard (at any depth) since its last good calibration (``traceability``).
    """
    row = standard_by_identifier(session, identifier)
    policy.may_change_status(session, principal, row.organisation_id)
    if data.status is StandardStatus.OUT_OF_TOLERANCE and (
        data.error_absolute is None and data.error_relative is None
    ):
        raise ValidationError("error_absolute", None,
                              "the error found (absolute and/or relative) when out of tolerance")
    if row.status == StandardStatus.RETIRED:
        raise ConflictError(f"standard {identifier} is retired")
    effective = data.effective_at or utcnow()
    if effective.tzinfo is None:
        raise ValidationError("effective_at", effective.isoformat(), "a timezone-aware time")
    change = StandardStatusChange(
        standard_id=row.id, status=data.status.value, effective_at=effective,  # type: ignore[arg-type]
        reason=data.reason, error_absolute=data.error_absolute,
        error_relative=data.error_relative, recorded_by_id=principal.user_id,
    )
    row.status = data.status.value
    session.add(row)
    session.add(change)
    session.flush()
    report = None
    if data.status is StandardStatus.OUT_OF_TOLERANCE:
        since = data.impact_since or default_since(session, row)
        if since.tzinfo is None:
            raise ValidationError("impact_since", since.isoformat(), "a timezone-aware time")
        report = flag_out_of_tolerance(session, row, change, since)
    audit.record(session, actor=principal.actor, action="standard.status", entity_type="standard",
                 entity_id=identifier, organisation_id=row.organisation_id, reason=data.reason,
                 data={**data.model_dump(mode="json"),
                       "flagged": [c.certificate for c in report.certificates] if report else []})
    session.commit()
    return change, report
