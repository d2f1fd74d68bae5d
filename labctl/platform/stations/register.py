"""The runner's register of standards backed by the platform's database.

:class:`PlatformRegister` answers the runner's precondition questions (is this standard in
service and in date, what are its certified errors, is this person authorised) as of the time
of measurement; :func:`register_snapshot` exports the same answers for a station that works
offline. A standard's certified errors come from the points of its current certificate
when that certificate was issued on the platform (:mod:`~labctl.platform.results.corrections`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from labctl.errors import NotFoundError
from labctl.platform import quality, registry
from labctl.platform.accounts.organisations import is_authorised, org_by_code
from labctl.platform.models.certificates import (
    Certificate,
    ResultPoint,
)
from labctl.platform.models.org import Authorisation, User
from labctl.platform.models.registry import Standard
from labctl.platform.results.corrections import fit_errors
from labctl.procedures.catalog import PROCEDURES
from labctl.procedures.interfaces import Correction, RegisteredStandard, same_maker
from labctl.procedures.register import Authorisation as SnapshotAuthorisation
from labctl.procedures.register import RegisterSnapshot
from labctl.quantities import Quantity, SpecName


def procedure_quantities() -> dict[str, Quantity]:
    """Procedure id → the quantity an authorisation for it is granted for (the catalog's)."""
    return {p.info.id: p.info.quantity for p in PROCEDURES.values()}



class PlatformRegister:
    """The runner's :class:`~labctl.procedures.interfaces.StandardsRegister`, backed by the
    platform database, for the standards held by ``laboratory_code``.

    ``quantities`` maps procedure ids to the quantity authorisations are granted for (default:
    the procedures' own, :func:`procedure_quantities`).
    """

    def __init__(self, engine: Engine, laboratory_code: str,
                 quantities: Mapping[str, Quantity] | None = None) -> None:
        self.engine = engine
        self.laboratory_code = laboratory_code
        self.quantities = dict(procedure_quantities() if quantities is None else quantities)

    def find_standard(self, *, manufacturer: str, model: str, serial_number: str,
                      at: datetime) -> RegisteredStandard:
        with Session(self.engine) as session:
            lab = org_by_code(session, self.laboratory_code)
            rows = session.exec(select(Standard).where(
                Standard.organisation_id == lab.id,
                Standard.serial_number == serial_number)).all()
            std = next((r for r in rows if r.model.upper() == model.upper()
                        and same_maker(r.manufacturer, manufacturer)), None)
            if std is None:
                raise NotFoundError("standard", f"{manufacturer} {model} s/n {serial_number} "
                                    f"held by {self.laboratory_code}")
            return registered_standard(session, std, at)

    def is_authorised(self, *, person: str, procedure_id: str, at: datetime) -> bool:
        with Session(self.engine) as session:
            lab = org_by_code(session, self.laboratory_code)
            user = session.exec(select(User).where(User.username == person)).first()
            if user is None or user.id is None or lab.id is None:
                return False
            quantity = self.quantities.get(procedure_id, "")
            return is_authorised(session, user_id=user.id, organisation_id=lab.id,
                                 quantity=quantity, procedure=procedure_id, on=at.date())


def registered_standard(session: Session, std: Standard, at: datetime) -> RegisteredStandard:
    """``std`` as the runner sees it at ``at``: status, due date, current certificate and the
    certified errors fitted from that certificate's points."""
    status = registry.status_at(session, std, at)
    cal = registry.calibration_at(session, std, at.date())
    corrections: list[Correction] = []
    if cal is not None and cal.certificate_id is not None:
        cert = session.get(Certificate, cal.certificate_id)
        if cert is not None:
            pts = session.exec(select(ResultPoint).where(
                ResultPoint.certificate_id == cert.id)).all()
            corrections = fit_errors(pts, cal.certificate_number)
    return RegisteredStandard(
        id=std.identifier, description=std.description,
        manufacturer=std.manufacturer, model=std.model,
        serial_number=std.serial_number, status=str(status.value),
        due_date=cal.due_date if cal else None,
        certificate_number=cal.certificate_number if cal else None,
        certificate_issuer=cal.issuer if cal else "",
        corrections=tuple(corrections),
        # the checks' drift belongs to the current calibration: none for an earlier one
        drifts=quality.checked_drifts(session, std, at)
        if cal is not None and cal.id == std.current_calibration_id else (),
        specification={
            SpecName.ACCURACY_RELATIVE: float(std.uncertainty_relative),
            SpecName.ACCURACY_ABSOLUTE: float(std.uncertainty_absolute),
            SpecName.INTERVAL_DAYS: std.calibration_interval_days,
            **({SpecName.CALIBRATED_ON: cal.calibrated_on.isoformat()} if cal else {}),
        },
    )


def register_snapshot(session: Session, laboratory_code: str, *, at: datetime,
                      quantities: Mapping[str, str] | None = None) -> RegisterSnapshot:
    """The register a station of ``laboratory_code`` works from through a network outage
    (``labctl run --register``): every standard the laboratory holds (with a serial number, so
    the runner can match it to an instrument) as of ``at``, and each authorisation expanded
    to the procedures it covers (``quantities``: procedure id → the quantity authorisations
    are granted for, default :func:`procedure_quantities`; an authorisation for a quantity and
    no procedure covers them all)."""
    quantities = procedure_quantities() if quantities is None else quantities
    lab = org_by_code(session, laboratory_code)
    standards = [registered_standard(session, s, at) for s in session.exec(
        select(Standard).where(Standard.organisation_id == lab.id)
        .order_by(col(Standard.identifier))).all() if s.serial_number]
    auths: list[SnapshotAuthorisation] = []
    for row in session.exec(select(Authorisation).where(
            Authorisation.organisation_id == lab.id).order_by(col(Authorisation.id))).all():
        user = session.get(User, row.user_id)
        if user is None:
            continue
        auths.extend(SnapshotAuthorisation(user.username, pid, row.valid_from, row.valid_until)
                     for pid, quantity in quantities.items()
                     if quantity == row.quantity and row.procedure in ("", pid))
    return RegisterSnapshot(tuple(standards), tuple(auths), at)
