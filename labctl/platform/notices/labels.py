"""Status labels of a laboratory's standards: which standards, as what the label states
(:class:`~labctl.platform.documents.labels.Label`), printed by
:func:`~labctl.platform.documents.labels.label_sheet_pdf`.

Only the laboratory's staff (and administrators above it) print them
(:func:`~labctl.platform.accounts.policy.may_print_labels`). A standard asked for by
identifier that the laboratory does not hold is a 404 naming it, whether it exists elsewhere
or not (another laboratory's standards are not disclosed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from urllib.parse import quote

from sqlmodel import Session, col, select

from labctl.errors import NotFoundError, ValidationError
from labctl.platform.accounts import policy
from labctl.platform.accounts.auth import Principal
from labctl.platform.accounts.organisations import org_by_code
from labctl.platform.documents.labels import DEFAULT_LAYOUT, LAYOUTS, Label, label_sheet_pdf
from labctl.platform.models.base import StandardStatus
from labctl.platform.models.org import Organisation
from labctl.platform.models.registry import Standard, StandardCalibration


class LabelStatus(StrEnum):
    """What the status filter accepts: a standard's status, or ``overdue`` (past its due
    date, whatever its status)."""

    IN_SERVICE = StandardStatus.IN_SERVICE.value
    UNDER_INVESTIGATION = StandardStatus.UNDER_INVESTIGATION.value
    QUARANTINED = StandardStatus.QUARANTINED.value
    OUT_OF_TOLERANCE = StandardStatus.OUT_OF_TOLERANCE.value
    RETIRED = StandardStatus.RETIRED.value
    OVERDUE = "overdue"


LABEL_STATUSES = tuple(s.value for s in LabelStatus)
MAX_IDENTIFIERS = 500


@dataclass(frozen=True)
class LabelFilters:
    """Which of the laboratory's standards get a label (empty: all of them)."""

    identifiers: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    layout: str = DEFAULT_LAYOUT


def _check(filters: LabelFilters) -> None:
    if filters.layout not in LAYOUTS:
        raise ValidationError("layout", filters.layout, " or ".join(LAYOUTS))
    if len(filters.identifiers) > MAX_IDENTIFIERS:
        raise ValidationError("identifiers", len(filters.identifiers),
                              f"at most {MAX_IDENTIFIERS} identifiers")
    for status in filters.statuses:
        if status not in LABEL_STATUSES:
            raise ValidationError("statuses", status, ", ".join(LABEL_STATUSES))


def label_of(standard: Standard, lab: Organisation, cal: StandardCalibration | None,
             today: date, public_url: str) -> Label:
    """What a standard's label states on ``today``."""
    return Label(
        identifier=standard.identifier, name=standard.description, status=standard.status,
        calibrated_on=cal.calibrated_on if cal else None, due=standard.due_date,
        restrictions=standard.restrictions or "", laboratory=lab.name,
        url=f"{public_url.rstrip('/')}/standards/{quote(standard.identifier, safe='')}",
        overdue=standard.due_date is not None and standard.due_date < today)


def laboratory_labels(session: Session, *, principal: Principal, laboratory_code: str,
                      filters: LabelFilters, today: date, public_url: str) -> bytes:
    """The label sheets (PDF) of the laboratory's standards that match ``filters``, by
    identifier. Refused: not the laboratory's staff (403), an identifier it does not hold
    (404), a filter value not allowed or a selection with no standard (422)."""
    _check(filters)
    lab = org_by_code(session, laboratory_code)
    assert lab.id is not None
    policy.may_print_labels(session, principal, lab.id)
    query = select(Standard).where(Standard.organisation_id == lab.id)
    wanted = list(dict.fromkeys(filters.identifiers))
    if wanted:
        query = query.where(col(Standard.identifier).in_(wanted))
    rows = list(session.exec(query.order_by(col(Standard.identifier))).all())
    held = {r.identifier for r in rows}
    for identifier in wanted:
        if identifier not in held:
            raise NotFoundError("standard", identifier)
    cal_ids = [r.current_calibration_id for r in rows if r.current_calibration_id]
    cals = {c.id: c for c in session.exec(select(StandardCalibration).where(
        col(StandardCalibration.id).in_(cal_ids or [-1]))).all()}
    labels = [label_of(r, lab, cals.get(r.current_calibration_id), today, public_url)
              for r in rows]
    if filters.statuses:
        labels = [lb for lb in labels if lb.status in filters.statuses
                  or (lb.overdue and "overdue" in filters.statuses)]
    if not labels:
        raise ValidationError("statuses" if filters.statuses else "identifiers",
                              filters.statuses or filters.identifiers,
                              f"a selection of at least one standard of {lab.code}")
    return label_sheet_pdf(labels, layout=filters.layout)
