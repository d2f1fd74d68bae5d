"""The registry of measurement standards and CMCs: entry, visibility, calibrations, corrections.

Entries go draft → submitted → published through the one review workflow of
:mod:`labctl.platform.registry.review`; the reviewer who publishes is never a person who
entered or edited it. A calibration recorded from outside the platform is reviewed the same way
(by someone other than who recorded it) before it counts; who may act is decided in
:mod:`labctl.platform.accounts.policy`. The public (no token) sees published entries only; people of
the holder (and its administrators above) also see drafts.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic_core import PydanticCustomError
from sqlmodel import Session, col, select

from labctl.errors import ConflictError, NotFoundError, ValidationError
from labctl.platform import audit
from labctl.platform.accounts import policy
from labctl.platform.accounts.auth import Principal, has_role
from labctl.platform.accounts.organisations import org_by_code
from labctl.platform.db import utcnow
from labctl.platform.models.base import (
    OrgLevel,
    ReviewState,
    Role,
    StandardKind,
    StandardStatus,
    check_validity,
    past_date,
)
from labctl.platform.models.org import Organisation
from labctl.platform.models.registry import (
    CalibrationPublic,
    Capability,
    CapabilityCreate,
    CapabilityPublic,
    CorrectionCreate,
    CorrectionPublic,
    ExternalCalibrationCreate,
    ReviewDecision,
    Standard,
    StandardCalibration,
    StandardCorrection,
    StandardCreate,
    StandardPublic,
    StandardStatusChange,
)
from labctl.platform.registry.text import _words


def can_see_unpublished(session: Session, principal: Principal | None, org_id: int) -> bool:
    """Whether the caller sees the holder's entries before they are published: its people
    and administrators above it."""
    if principal is None or principal.kind != "user":
        return False
    if has_role(session, principal, Role.ADMIN, org_id):
        return True
    return any(o == org_id for o, _ in principal.roles)


def _entered(data: StandardCreate | CapabilityCreate, principal: Principal,
             org_id: int) -> dict[str, Any]:
    """The columns a new entry of either type takes from its request: its holder, what it
    covers (exact, and the float shadows the search compares) and who entered it, its first
    contributor (who will not review it)."""
    return {
        "organisation_id": org_id, "domain": data.domain, "quantity": data.quantity,
        "unit": data.unit, "range_min": data.range_min, "range_max": data.range_max,
        "range_min_f": float(data.range_min), "range_max_f": float(data.range_max),
        "uncertainty_relative": data.uncertainty_relative,
        "uncertainty_absolute": data.uncertainty_absolute,
        "uncertainty_relative_f": float(data.uncertainty_relative),
        "uncertainty_absolute_f": float(data.uncertainty_absolute),
        "created_by_id": principal.user_id,
        "contributor_ids": policy.with_contributor([], principal),
    }


# --- standards -------------------------------------------------------------------------------


def standard_by_identifier(session: Session, identifier: str) -> Standard:
    row = session.exec(select(Standard).where(Standard.identifier == identifier)).first()
    if row is None:
        raise NotFoundError("standard", identifier)
    return row


def _visible(session: Session, row: Standard | Capability, principal: Principal | None,
             kind: str, key: object) -> None:
    """A registry entry is public once published; before, only its holder's people see it
    (anyone else gets 404, not 403: an unpublished entry's existence is not disclosed)."""
    if row.review_state != ReviewState.PUBLISHED and not can_see_unpublished(
        session, principal, row.organisation_id
    ):
        raise NotFoundError(kind, key)


def visible_standard(session: Session, identifier: str, principal: Principal | None) -> Standard:
    """The standard if published, or if the caller belongs to its holder (else 404)."""
    row = standard_by_identifier(session, identifier)
    _visible(session, row, principal, "standard", identifier)
    return row


def unpublished_scope(session: Session, principal: Principal) -> set[int]:
    """The organisations whose unpublished entries the caller sees (its own, and for an
    administrator every one below): :func:`can_see_unpublished` for many rows at once."""
    if principal.kind != "user":
        return set()
    scope = {org for org, _ in principal.roles}
    if principal.is_superuser or any(role is Role.ADMIN for _, role in principal.roles):
        scope |= {o for o in session.exec(select(Organisation.id)).all()
                  if o is not None and has_role(session, principal, Role.ADMIN, o)}
    return scope


def held_standards(session: Session, principal: Principal) -> list[Standard]:
    """Every standard, in any review state, of the organisations whose unpublished entries
    the caller sees (its people, administrators above it): what their staff look after
    (due dates, status), by due date, undated last."""
    rows = session.exec(select(Standard).where(
        col(Standard.organisation_id).in_(unpublished_scope(session, principal) or {-1}))
        .order_by(col(Standard.due_date).is_(None), col(Standard.due_date),
                  col(Standard.identifier))).all()
    return [r for r in rows if can_see_unpublished(session, principal, r.organisation_id)]


def create_standard(session: Session, *, principal: Principal, data: StandardCreate) -> Standard:
    org = org_by_code(session, data.organisation_code)
    assert org.id is not None
    policy.may_enter(session, principal, org.id, "standard.create")
    if data.kind is StandardKind.NATIONAL_PRIMARY and org.level != OrgLevel.NATIONAL:
        raise ValidationError("kind", data.kind.value,
                              "national_primary only for a national-level organisation")
    if session.exec(select(Standard.id).where(Standard.identifier == data.identifier)).first():
        raise ConflictError(f"standard identifier {data.identifier!r} is already taken")
    row = Standard(
        **_entered(data, principal, org.id), identifier=data.identifier, kind=data.kind.value,
        description=data.description, manufacturer=data.manufacturer, model=data.model,
        serial_number=data.serial_number, accuracy_class=data.accuracy_class,
        calibration_interval_days=data.calibration_interval_days,
        restrictions=data.restrictions.strip() or None,
        search_text=_words(data.identifier, data.description, data.manufacturer, data.model,
                           data.serial_number, data.domain, data.quantity, org.name, org.code),
    )
    session.add(row)
    audit.record(session, actor=principal.actor, action="standard.create",
                 entity_type="standard", entity_id=row.identifier, organisation_id=org.id,
                 data=data.model_dump(mode="json"))
    session.commit()
    return row


def status_at(session: Session, standard: Standard, at: datetime) -> StandardStatus:
    """The standard's status in force at ``at`` (in service until a change says otherwise)."""
    row = session.exec(
        select(StandardStatusChange.status)
        .where(StandardStatusChange.standard_id == standard.id,
               StandardStatusChange.effective_at <= at)
        .order_by(col(StandardStatusChange.effective_at).desc(),
                  col(StandardStatusChange.id).desc()).limit(1)
    ).first()
    return StandardStatus(row) if row else StandardStatus.IN_SERVICE


def calibration_at(session: Session, standard: Standard, at: date) -> StandardCalibration | None:
    """The latest published calibration made on or before ``at`` (it may have expired by
    then); one recorded but not yet reviewed does not count."""
    return session.exec(
        select(StandardCalibration)
        .where(StandardCalibration.standard_id == standard.id,
               StandardCalibration.review_state == ReviewState.PUBLISHED.value,
               StandardCalibration.calibrated_on <= at)
        .order_by(col(StandardCalibration.calibrated_on).desc(),
                  col(StandardCalibration.id).desc()).limit(1)
    ).first()


def check_calibration_dates(calibrated_on: date, due_date: date) -> None:
    """The bounds of :mod:`labctl.platform.models.base` (a date of something done; a due date
    within ``MAX_VALIDITY``) for calibrations the platform records itself, whose dates come
    from a certificate rather than from a request model."""
    field, value = "calibrated_on", calibrated_on
    try:
        past_date(calibrated_on)
        field, value = "due_date", due_date
        check_validity(calibrated_on, due_date)
    except PydanticCustomError as exc:
        allowed = (exc.context or {}).get("allowed", exc.message())
        raise ValidationError(field, value.isoformat(), str(allowed)) from None


def _make_current(session: Session, standard: Standard, cal: StandardCalibration) -> None:
    """``cal`` becomes the standard's current calibration if it is the newest published."""
    current = session.get(StandardCalibration, standard.current_calibration_id) \
        if standard.current_calibration_id else None
    if current is None or current.calibrated_on <= cal.calibrated_on:
        standard.current_calibration_id = cal.id
        standard.due_date = cal.due_date
        session.add(standard)


def record_calibration(session: Session, *, standard: Standard, certificate_id: int | None,
                       certificate_number: str, issuer: str, calibrated_on: date,
                       due_date: date, review_state: ReviewState = ReviewState.PUBLISHED,
                       recorded_by_id: int | None = None) -> StandardCalibration:
    """Append a calibration (no commit, no audit); a published one becomes current if it is
    the newest. Made on the platform, it is published (its certificate was checked and
    issued); recorded from outside, it is ``submitted`` and counts once reviewed."""
    check_calibration_dates(calibrated_on, due_date)
    cal = StandardCalibration(standard_id=standard.id, certificate_id=certificate_id,  # type: ignore[arg-type]
                              certificate_number=certificate_number, issuer=issuer,
                              calibrated_on=calibrated_on, due_date=due_date,
                              review_state=review_state.value, recorded_by_id=recorded_by_id)
    session.add(cal)
    session.flush()
    if review_state is ReviewState.PUBLISHED:
        _make_current(session, standard, cal)
    return cal


def add_external_calibration(session: Session, *, principal: Principal, identifier: str,
                             data: ExternalCalibrationCreate) -> StandardCalibration:
    """Record a certificate issued for the standard outside this platform (data entry of the
    holder); it waits for review by another person (:func:`review_calibration`)."""
    row = standard_by_identifier(session, identifier)
    policy.may_enter(session, principal, row.organisation_id, "standard.calibration")
    cal = record_calibration(session, standard=row, certificate_id=None,
                             certificate_number=data.certificate_number, issuer=data.issuer,
                             calibrated_on=data.calibrated_on, due_date=data.due_date,
                             review_state=ReviewState.SUBMITTED,
                             recorded_by_id=principal.user_id)
    audit.record(session, actor=principal.actor, action="standard.calibration",
                 entity_type="standard", entity_id=identifier, organisation_id=row.organisation_id,
                 data={**data.model_dump(mode="json"), "calibration_id": cal.id})
    session.commit()
    return cal


def review_calibration(session: Session, *, principal: Principal, identifier: str,
                       calibration_id: int, decision: ReviewDecision) -> StandardCalibration:
    """Publish (it then counts, and becomes current if newest) or reject a recorded external
    calibration: a reviewer of the holder who did not record it."""
    row = standard_by_identifier(session, identifier)
    cal = session.get(StandardCalibration, calibration_id)
    if cal is None or cal.standard_id != row.id:
        raise NotFoundError("calibration", f"{calibration_id} of {identifier}")
    policy.may_review(session, principal, row.organisation_id, [cal.recorded_by_id],
                      "standard.calibration.review")
    if cal.review_state != ReviewState.SUBMITTED:
        raise ConflictError(f"calibration {calibration_id} of {identifier} is "
                            f"{cal.review_state}; only a submitted one is reviewed")
    cal.review_state = (ReviewState.PUBLISHED if decision.approve else
                        ReviewState.REJECTED).value
    cal.reviewed_by_id = principal.user_id
    session.add(cal)
    if decision.approve:
        _make_current(session, row, cal)
    audit.record(session, actor=principal.actor,
                 action=f"standard.calibration.{'publish' if decision.approve else 'reject'}",
                 entity_type="standard", entity_id=identifier,
                 organisation_id=row.organisation_id, reason=decision.comment,
                 data={"calibration_id": cal.id})
    session.commit()
    return cal


def calibration_public(cal: StandardCalibration) -> CalibrationPublic:
    assert cal.id is not None
    return CalibrationPublic(id=cal.id, review_state=ReviewState(cal.review_state),
                             certificate_number=cal.certificate_number, issuer=cal.issuer,
                             calibrated_on=cal.calibrated_on, due_date=cal.due_date)


def list_calibrations(session: Session, *, standard: Standard,
                      principal: Principal | None) -> list[CalibrationPublic]:
    """The standard's calibrations, oldest first: published ones for everyone, those waiting
    for review (or rejected) also for its holder's people."""
    stmt = select(StandardCalibration).where(StandardCalibration.standard_id == standard.id)
    if not can_see_unpublished(session, principal, standard.organisation_id):
        stmt = stmt.where(StandardCalibration.review_state == ReviewState.PUBLISHED.value)
    return [calibration_public(c) for c in session.exec(
        stmt.order_by(col(StandardCalibration.calibrated_on), col(StandardCalibration.id)))]


def add_correction(session: Session, *, principal: Principal, identifier: str,
                   data: CorrectionCreate) -> StandardCorrection:
    """A new correction at a point; the one it replaces is kept, marked superseded."""
    row = standard_by_identifier(session, identifier)
    policy.may_revise(session, principal, row.organisation_id, "standard.correction")
    now = utcnow()
    for old in session.exec(select(StandardCorrection).where(
            StandardCorrection.standard_id == row.id,
            col(StandardCorrection.superseded_at).is_(None))).all():
        if old.nominal == data.nominal:
            old.superseded_at = now
            session.add(old)
    corr = StandardCorrection(standard_id=row.id, nominal=data.nominal,  # type: ignore[arg-type]
                              correction=data.correction, uncertainty=data.uncertainty,
                              valid_from=data.valid_from,
                              certificate_number=data.certificate_number)
    session.add(corr)
    audit.record(session, actor=principal.actor, action="standard.correction",
                 entity_type="standard", entity_id=identifier, organisation_id=row.organisation_id,
                 data=data.model_dump(mode="json"))
    session.commit()
    return corr


def list_corrections(session: Session, *, standard: Standard) -> list[CorrectionPublic]:
    rows = session.exec(select(StandardCorrection).where(
        StandardCorrection.standard_id == standard.id).order_by(col(StandardCorrection.id))).all()
    return [CorrectionPublic(nominal=str(r.nominal), correction=str(r.correction),
                             uncertainty=str(r.uncertainty), valid_from=r.valid_from,
                             superseded_at=r.superseded_at,
                             certificate_number=r.certificate_number) for r in rows]


_NO_CAL: Any = object()


def standard_public(session: Session, row: Standard, org: Organisation | None = None,
                    cal: StandardCalibration | None = _NO_CAL) -> StandardPublic:
    org = org or session.get(Organisation, row.organisation_id)
    assert org is not None
    if cal is _NO_CAL:
        cal = session.get(StandardCalibration, row.current_calibration_id) \
            if row.current_calibration_id else None
    return StandardPublic(
        identifier=row.identifier, kind=StandardKind(row.kind), description=row.description,
        manufacturer=row.manufacturer, model=row.model, serial_number=row.serial_number,
        domain=row.domain, quantity=row.quantity, unit=row.unit,
        range_min=str(row.range_min), range_max=str(row.range_max),
        uncertainty_relative=str(row.uncertainty_relative),
        uncertainty_absolute=str(row.uncertainty_absolute),
        accuracy_class=row.accuracy_class, organisation_code=org.code,
        organisation_name=org.name, region=org.region, status=StandardStatus(row.status),
        calibration_interval_days=row.calibration_interval_days, due_date=row.due_date,
        current_calibration=calibration_public(cal) if cal else None,
        review_state=ReviewState(row.review_state), restrictions=row.restrictions or "",
    )


# --- capabilities ----------------------------------------------------------------------------


def create_capability(session: Session, *, principal: Principal,
                      data: CapabilityCreate) -> Capability:
    org = org_by_code(session, data.organisation_code)
    assert org.id is not None
    policy.may_enter(session, principal, org.id, "capability.create")
    if data.uncertainty_relative == 0 and data.uncertainty_absolute == 0:
        raise ValidationError("uncertainty_relative", "0",
                              "a relative and/or absolute best uncertainty above zero")
    row = Capability(
        **_entered(data, principal, org.id), method=data.method,
        search_text=_words(data.domain, data.quantity, data.method, org.name, org.code),
    )
    session.add(row)
    session.flush()
    audit.record(session, actor=principal.actor, action="capability.create",
                 entity_type="capability", entity_id=str(row.id), organisation_id=org.id,
                 data=data.model_dump(mode="json"))
    session.commit()
    return row


def capability_by_id(session: Session, cmc_id: int) -> Capability:
    row = session.get(Capability, cmc_id)
    if row is None:
        raise NotFoundError("capability", cmc_id)
    return row


def visible_capability(session: Session, cmc_id: int, principal: Principal | None) -> Capability:
    """The CMC if published, or if the caller belongs to its laboratory (else 404)."""
    row = capability_by_id(session, cmc_id)
    _visible(session, row, principal, "capability", cmc_id)
    return row


def capability_public(session: Session, row: Capability, org: Organisation | None = None
                      ) -> CapabilityPublic:
    org = org or session.get(Organisation, row.organisation_id)
    assert org is not None and row.id is not None
    return CapabilityPublic(
        id=row.id, organisation_code=org.code, organisation_name=org.name, region=org.region,
        domain=row.domain, quantity=row.quantity, unit=row.unit, range_min=str(row.range_min),
        range_max=str(row.range_max), uncertainty_relative=str(row.uncertainty_relative),
        uncertainty_absolute=str(row.uncertainty_absolute), method=row.method,
        review_state=ReviewState(row.review_state),
    )


class CmcTable:
    """A laboratory's published CMCs, loaded once for a whole posting or issue."""

    def __init__(self, session: Session, organisation_id: int) -> None:
        self.rows = session.exec(select(Capability).where(
            Capability.organisation_id == organisation_id,
            Capability.review_state == ReviewState.PUBLISHED)).all()

    def best(self, *, quantity: str, unit: str, value: Decimal) -> Decimal | None:
        """The smallest CMC uncertainty at ``value`` (None: no CMC covers it)."""
        candidates = [r.uncertainty_relative * abs(value) + r.uncertainty_absolute
                      for r in self.rows if r.quantity == quantity and r.unit == unit
                      and r.range_min <= value <= r.range_max]
        return min(candidates) if candidates else None


def best_cmc_uncertainty(session: Session, *, organisation_id: int, quantity: str, unit: str,
                         value: Decimal) -> Decimal | None:
    """The smallest published CMC uncertainty of the laboratory at ``value`` (None: no CMC)."""
    return CmcTable(session, organisation_id).best(quantity=quantity, unit=unit, value=value)


# --- search ----------------------------------------------------------------------------------


def default_due_date(calibrated_on: date, interval_days: int) -> date:
    return calibrated_on + timedelta(days=interval_days)
