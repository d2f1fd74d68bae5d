"""Filing intermediate checks of a standard and what their control charts say.

A check is one value per point (the standard's deviation from the point's nominal value as
the check procedure finds it, with its standard uncertainty). Per standard and point, the
checks since the standard's current calibration form a series; the engine
(:func:`labctl.uncertainty.control.evaluate_checks`) charts it with limits from the first
:data:`BASELINE_CHECKS` checks after the calibration, applies the run rules, tests each check
against the certified value (En, with both uncertainties) and against the standard's
tolerance. What the newest check signals decides the standard's status:

* beyond tolerance → quarantined, and the certificates that used the standard since the last
  good check are flagged (reverse traceability, with the deviation found as the error);
* a run rule or a failed En → under investigation (still usable: the runner warns);

each opening a :class:`~labctl.platform.models.quality.QualityEvent`. All of it is one
audited transaction; a refused check changes nothing.

The frame of the values: the certified deviation c of a point is the standard's current
correction at that nominal (what it adds to its nominal value, as its certificate gives it)
with the correction's expanded uncertainty; without one, 0 with the standard's stated
accuracy (``uncertainty_relative``·|nominal| + ``uncertainty_absolute``) as U. A check
value also carries the check standard's constant error, so the checks are read against the
baseline's centre m (:func:`evaluate_point`): the standard's deviation at a check is
c + (x − m), its tolerance the stated accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
from sqlmodel import Session, col, select

from labctl.errors import ConflictError, NotFoundError, ValidationError
from labctl.platform import audit
from labctl.platform.accounts import policy
from labctl.platform.accounts.auth import Principal
from labctl.platform.db import LockClass, advisory_xact_lock, utcnow
from labctl.platform.models.base import CLOCK_SKEW, MAX_MAGNITUDE, StandardStatus
from labctl.platform.models.org import User
from labctl.platform.models.quality import (
    ChartLimits,
    ChartPoint,
    CheckPublic,
    CheckResult,
    DriftPublic,
    FiledChecks,
    PointSeries,
    QualityEvent,
    QualityEventKind,
    QualityEventPublic,
    QualityEventStatus,
    StandardChecks,
)
from labctl.platform.models.registry import (
    Standard,
    StandardCalibration,
    StandardCorrection,
    StatusChangeRequest,
)
from labctl.platform.registry.entries import standard_by_identifier
from labctl.platform.traceability.impact import default_since, impact
from labctl.platform.traceability.status import apply_status
from labctl.procedures.interfaces import CheckedDrift, same_maker
from labctl.procedures.results import RunResult
from labctl.quantities import ProcedureKind, RunStatus
from labctl.uncertainty import control, exact_decimal

#: The checks after a calibration that set a point's control limits (ISO 7870-2 asks for
#: enough to estimate σ; five is the least that gives four moving ranges).
BASELINE_CHECKS = 5
DAY = 86_400.0  # s
#: statuses a check may be filed for: a quarantined standard is checked to verify it
FILEABLE = (StandardStatus.IN_SERVICE, StandardStatus.UNDER_INVESTIGATION,
            StandardStatus.QUARANTINED)
EN_FAILED = "en_failed"
BEYOND_TOLERANCE = "beyond_tolerance"


@dataclass(frozen=True)
class CheckPointIn:
    """One point of a check as filed: ``value`` the standard's deviation from ``nominal``
    found by the check and ``u`` its standard uncertainty (both in ``unit``); ``dof``
    ``None`` for infinite."""

    point_key: str
    nominal: float
    unit: str
    value: float
    u: float
    dof: float | None = None


@dataclass(frozen=True)
class CheckRun:
    """A check run as filed: the points, when, by which run and procedure, the person who
    made it (``operator``: a username of the laboratory, or empty), the room."""

    run_id: str
    procedure: str
    measured_at: datetime
    points: Sequence[CheckPointIn]
    operator: str = ""
    environment: dict[str, Any] = field(default_factory=dict)


# --- input -------------------------------------------------------------------------------------


def _finite(name: str, v: Any, *, positive: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float | Decimal | np.floating):
        raise ValidationError(name, v, "a number")
    x = float(v)
    what = ("a finite number > 0" if positive else "a finite number") + \
        f" of magnitude at most {MAX_MAGNITUDE:.0e}"
    if not math.isfinite(x) or abs(x) > float(MAX_MAGNITUDE) or (positive and x <= 0):
        raise ValidationError(name, v if math.isfinite(x) else str(x), what)
    return x


def _check_input(run: CheckRun) -> None:
    if not run.run_id or len(run.run_id) > 200:
        raise ValidationError("run_id", run.run_id, "1 … 200 characters")
    if not run.procedure or len(run.procedure) > 64:
        raise ValidationError("procedure", run.procedure, "1 … 64 characters")
    if run.measured_at.tzinfo is None:
        raise ValidationError("measured_at", run.measured_at.isoformat(),
                              "a timezone-aware time")
    if run.measured_at > utcnow() + CLOCK_SKEW:
        raise ValidationError("measured_at", run.measured_at.isoformat(), "not in the future")
    if not run.points:
        raise ValidationError("points", [], "at least one point")
    keys = [p.point_key for p in run.points]
    for i, p in enumerate(run.points):
        if not p.point_key or len(p.point_key) > 64 or keys.count(p.point_key) > 1:
            raise ValidationError(f"points[{i}].point_key", p.point_key,
                                  "1 … 64 characters, once per run")
        if not p.unit or len(p.unit) > 16:
            raise ValidationError(f"points[{i}].unit", p.unit, "1 … 16 characters")
        _finite(f"points[{i}].nominal", p.nominal)
        _finite(f"points[{i}].value", p.value)
        _finite(f"points[{i}].u", p.u, positive=True)
        if p.dof is not None:
            _finite(f"points[{i}].dof", p.dof, positive=True)


# --- the frame of a point: certified value, U, tolerance ------------------------------------


@dataclass(frozen=True)
class PointFrame:
    certified_value: float
    certified_expanded: float
    tolerance: float | None  # None: the standard states no accuracy


def _accuracy(std: Standard, nominal: float) -> float:
    return float(std.uncertainty_relative) * abs(nominal) + float(std.uncertainty_absolute)


def point_frame(session: Session, std: Standard, nominal: Decimal) -> PointFrame:
    """The certified value and U of a point (its current correction, else 0 ± the stated
    accuracy) and its tolerance (the stated accuracy)."""
    # exact decimals are stored as text: "10" and "10.0" are one nominal, compared as numbers
    corr = next((c for c in session.exec(select(StandardCorrection).where(
        StandardCorrection.standard_id == std.id,
        col(StandardCorrection.superseded_at).is_(None))
        .order_by(col(StandardCorrection.id).desc())).all() if c.nominal == nominal), None)
    acc = _accuracy(std, float(nominal))
    tol = acc if acc > 0 else None
    if corr is not None:
        return PointFrame(float(corr.correction), float(corr.uncertainty), tol)
    return PointFrame(0.0, acc, tol)


def calibration_start(session: Session, std: Standard) -> datetime:
    """The start of the series: the day of the standard's current calibration."""
    return default_since(session, std)


def _series(session: Session, std: Standard, point_key: str, since: datetime
            ) -> list[CheckResult]:
    return list(session.exec(select(CheckResult).where(
        CheckResult.standard_id == std.id, CheckResult.point_key == point_key,
        CheckResult.measured_at >= since)
        .order_by(col(CheckResult.measured_at), col(CheckResult.id))).all())


def posix(t: datetime) -> float:
    """A time as the engine's POSIX seconds."""
    return t.timestamp()


@dataclass(frozen=True)
class Evaluated:
    """One point's series and what the engine says about it: ``evaluation`` is ``None``
    until the baseline is complete (then only En and tolerance are known, in ``en`` and
    ``beyond``)."""

    checks: list[CheckResult]
    frame: PointFrame
    evaluation: control.CheckEvaluation | None
    en: np.ndarray
    beyond: np.ndarray
    centre: float  # m: what the check finds while the standard is as certified

    def deviation(self, value: float) -> float:
        """The standard's deviation a check value implies: c + (x − m)."""
        return self.frame.certified_value + (value - self.centre)

    def signals_at(self, i: int) -> list[str]:
        """The codes that fire at check ``i``: run rules, ``en_failed``, ``beyond_tolerance``."""
        codes: list[str] = []
        if self.evaluation is not None and i >= BASELINE_CHECKS:
            # the baseline sets the limits (ISO 7870-2 phase I); a rule is a signal on the
            # checks charted against them
            codes += [r.code for r in control.RunRule if bool(self.evaluation.rule_flags(r)[i])]
        if abs(self.en[i]) > 1:
            codes.append(EN_FAILED)
        if self.beyond[i]:
            codes.append(BEYOND_TOLERANCE)
        return codes

    def last_good(self) -> CheckResult | None:
        """The last check before the first one implicated in a signal: for a run rule, the
        start of its pattern (a run of 8 implicates the 7 checks before the one that
        completed it); ``None`` when even the first check is implicated."""
        bad = [i for i in range(len(self.checks)) if self.signals_at(i)]
        if not bad:
            return self.checks[-1]
        first = bad[0]
        begin = first
        if self.evaluation is not None:
            span = {control.RunRule.BEYOND_3_SIGMA.code: 0,
                    control.RunRule.TWO_OF_THREE_BEYOND_2_SIGMA.code: 2,
                    control.RunRule.RUN.code: self.evaluation.run_length - 1,
                    control.RunRule.TREND.code: self.evaluation.trend_length - 1,
                    control.RunRule.MOVING_RANGE.code: 1}
            begin = min([first - span.get(c, 0) for c in self.signals_at(first)])
        return self.checks[begin - 1] if begin > 0 else None


def evaluate_point(session: Session, std: Standard, point_key: str) -> Evaluated | None:
    """The series of ``point_key`` since the current calibration, evaluated (``None``: no
    checks yet).

    A check value carries the check standard's own constant error (the procedures say so):
    what the check finds while the standard is as certified is the baseline's centre m
    (the mean of the first :data:`BASELINE_CHECKS` checks after the calibration; until there
    are that many, the first check). The standard's deviation at check i is then estimated as
    c + (x_i − m), with c its certified deviation: the En test compares x_i with m using the
    check's U (k = 2) and the certificate's U, and the tolerance ±a (the stated accuracy)
    applies about m − c.
    """
    checks = _series(session, std, point_key, calibration_start(session, std))
    if not checks:
        return None
    frame = point_frame(session, std, checks[-1].nominal)
    t = np.array([posix(c.measured_at) for c in checks])
    x = np.array([float(c.value) for c in checks])
    u = np.array([float(c.u) for c in checks])
    tol = frame.tolerance if frame.tolerance is not None else float(np.finfo(float).max)
    U_cert = frame.certified_expanded
    centre = float(np.mean(x[:BASELINE_CHECKS])) if len(checks) >= BASELINE_CHECKS \
        else float(x[0])
    nominal = centre - frame.certified_value
    evaluation = None
    if len(checks) >= BASELINE_CHECKS:
        evaluation = control.evaluate_checks(
            t, x, u, centre, U_cert, tol, (0, BASELINE_CHECKS), nominal=nominal)
        en = np.asarray(evaluation.en.value, dtype=float)
        beyond = np.asarray(evaluation.out_of_tolerance, dtype=bool)
    else:
        en = (x - centre) / np.sqrt((2 * u) ** 2 + U_cert**2)
        beyond = control.beyond_tolerance(x, nominal, tol)
    return Evaluated(checks, frame, evaluation, en, beyond, centre)


# --- events ------------------------------------------------------------------------------------


def event_public(session: Session, ev: QualityEvent, std: Standard | None = None
                 ) -> QualityEventPublic:
    std = std or session.get(Standard, ev.standard_id)
    assert std is not None and ev.id is not None
    return QualityEventPublic(
        id=ev.id, standard=std.identifier, kind=QualityEventKind(ev.kind),
        point_key=ev.point_key, rules=list(ev.rules), check_ids=list(ev.check_ids),
        opened_at=ev.opened_at, opened_by=ev.opened_by,
        status=QualityEventStatus(ev.status),
        standard_status=StandardStatus(ev.standard_status), impact=dict(ev.impact),
        closed_at=ev.closed_at, verification=dict(ev.verification))


def check_public(c: CheckResult, std: Standard) -> CheckPublic:
    assert c.id is not None
    return CheckPublic(id=c.id, standard=std.identifier, point_key=c.point_key,
                       nominal=str(c.nominal), unit=c.unit, value=str(c.value), u=str(c.u),
                       dof=c.dof, measured_at=c.measured_at, run_id=c.run_id,
                       procedure=c.procedure, recorded_by=c.recorded_by, operator=c.operator)


def open_events(session: Session, std: Standard) -> list[QualityEvent]:
    return list(session.exec(select(QualityEvent).where(
        QualityEvent.standard_id == std.id, QualityEvent.status == QualityEventStatus.OPEN)
        .order_by(col(QualityEvent.id))).all())


def _impact_summary(session: Session, std: Standard, since: datetime, *, flagged: bool,
                    certificates: list[str] | None = None) -> dict[str, Any]:
    if certificates is None:
        certificates = [e.certificate for e in impact(session, std, since=since).certificates]
    return {"since": since.isoformat(), "flagged": flagged, "certificates": certificates}


def _person_id(session: Session, principal: Principal, operator: str) -> int | None:
    """Who is responsible for a check: the run's operator when the laboratory knows them,
    else the person filing it (a station is nobody)."""
    if operator:
        user = session.exec(select(User).where(User.username == operator)).first()
        if user is not None:
            return user.id
    return principal.user_id


# --- filing ----------------------------------------------------------------------------------


def _stored(session: Session, std: Standard, run: CheckRun) -> list[CheckResult] | None:
    rows = list(session.exec(select(CheckResult).where(
        CheckResult.standard_id == std.id, CheckResult.run_id == run.run_id)
        .order_by(col(CheckResult.id))).all())
    if not rows:
        return None
    same = {r.point_key: (r.value, r.u) for r in rows} == {
        p.point_key: (exact_decimal(p.value), exact_decimal(p.u)) for p in run.points}
    if not same:
        raise ConflictError(f"run {run.run_id} was filed for {std.identifier} with other "
                            "points or values", reason="run_id_reused", run_id=run.run_id)
    return rows


def file_check(session: Session, principal: Principal, *, identifier: str, run: CheckRun
               ) -> FiledChecks:
    """Store the checks of one run of ``identifier`` and act on what they signal (see the
    module docstring). Idempotent on the run id: a run filed again answers the stored checks
    and opens nothing. Every rule is checked before the first write."""
    std = standard_by_identifier(session, identifier)
    policy.may_file_check(session, principal, std.organisation_id)
    _check_input(run)
    # Retries of one run racing each other (PostgreSQL; SQLite's writers queue already): the
    # first files, the others wait here and then find its checks and answer them.
    assert std.id is not None
    advisory_xact_lock(session, LockClass.CHECK_FILING, std.id)
    stored = _stored(session, std, run)
    if stored is not None:
        ids = {c.id for c in stored}
        events = [e for e in session.exec(select(QualityEvent).where(
            QualityEvent.standard_id == std.id)).all() if ids & set(e.check_ids)]
        return FiledChecks(standard=std.identifier, status=StandardStatus(std.status),
                           checks=[check_public(c, std) for c in stored],
                           events=[event_public(session, e, std) for e in events])
    if std.status not in FILEABLE:
        raise ConflictError(f"standard {identifier} is {std.status.replace('_', ' ')}: "
                            "checks are filed for standards in service, under investigation "
                            "or quarantined", reason="standard_status", status=std.status)
    for i, p in enumerate(run.points):
        clash = session.exec(select(CheckResult.id).where(
            CheckResult.standard_id == std.id, CheckResult.point_key == p.point_key,
            CheckResult.measured_at == run.measured_at)).first()
        if clash is not None:
            raise ConflictError(f"a check of {identifier} at {p.point_key} was already made at "
                                f"{run.measured_at.isoformat()}", reason="check_time_taken",
                                point=p.point_key)
        if p.unit != std.unit:
            raise ValidationError(f"points[{i}].unit", p.unit, f"{std.unit!r}, the standard's")

    person = _person_id(session, principal, run.operator)
    rows = [CheckResult(
        standard_id=std.id, organisation_id=std.organisation_id,
        point_key=p.point_key, nominal=exact_decimal(p.nominal), unit=p.unit,
        value=exact_decimal(p.value), u=exact_decimal(p.u), dof=p.dof,
        measured_at=run.measured_at, run_id=run.run_id, procedure=run.procedure,
        station_id=principal.id if principal.kind == "station" else None,
        recorded_by=principal.actor, operator=run.operator[:100],
        environment=dict(run.environment)) for p in run.points]
    session.add_all(rows)
    session.flush()

    signalled: list[tuple[CheckResult, list[str], Evaluated]] = []
    for row in rows:
        ev = evaluate_point(session, std, row.point_key)
        if ev is None or row not in ev.checks:
            continue  # measured before the current calibration: not in its series
        codes = ev.signals_at(ev.checks.index(row))
        if codes:
            signalled.append((row, codes, ev))
    events = _act(session, principal, std, signalled, person)
    audit.record(session, actor=principal.actor, action="check.file", entity_type="standard",
                 entity_id=std.identifier, organisation_id=std.organisation_id,
                 reason=f"check run {run.run_id} ({run.procedure})",
                 data={"run_id": run.run_id, "checks": [r.id for r in rows],
                       "signals": {r.point_key: codes for r, codes, _ in signalled},
                       "events": [e.id for e in events], "status": std.status})
    session.commit()
    return FiledChecks(standard=std.identifier, status=StandardStatus(std.status),
                       checks=[check_public(c, std) for c in rows],
                       events=[event_public(session, e, std) for e in events])


def _since(session: Session, std: Standard, evs: list[Evaluated]) -> datetime:
    """After the earliest last good check of the points that signalled (the calibration's
    day when a point never had one)."""
    goods = [ev.last_good() for ev in evs]
    if any(g is None for g in goods):
        return calibration_start(session, std)
    return min(g.measured_at for g in goods if g is not None)


def _act(session: Session, principal: Principal, std: Standard,
         signalled: list[tuple[CheckResult, list[str], Evaluated]], person: int | None
         ) -> list[QualityEvent]:
    """The status and events the signals of one filing lead to."""
    if not signalled:
        return []
    codes = list(dict.fromkeys(c for _, cs, _ in signalled for c in cs))
    ids = [r.id for r, _, _ in signalled]
    first = signalled[0][0]
    beyond = [(r, ev) for r, cs, ev in signalled if BEYOND_TOLERANCE in cs]
    already = open_events(session, std)
    since = _since(session, std, [ev for _, _, ev in signalled])
    if beyond and std.status != StandardStatus.QUARANTINED:
        row, ev = beyond[0]
        error = ev.deviation(float(row.value)) - ev.frame.certified_value
        kind, target = QualityEventKind.BEYOND_TOLERANCE, StandardStatus.QUARANTINED
        data = StatusChangeRequest(
            status=target, effective_at=row.measured_at, impact_since=since,
            error_absolute=exact_decimal(error),
            reason=f"check {row.point_key} of run {row.run_id}: the deviation "
                   f"{ev.deviation(float(row.value)):.6g} {row.unit} is beyond the "
                   f"tolerance ±{ev.frame.tolerance:.6g} {row.unit} "
                   f"({', '.join(codes)})")
        point = row.point_key
    elif not beyond and std.status == StandardStatus.IN_SERVICE:
        en_only = all(c == EN_FAILED for c in codes)
        kind = QualityEventKind.EN_FAILED if en_only else QualityEventKind.CHART_RULE
        target = StandardStatus.UNDER_INVESTIGATION
        data = StatusChangeRequest(
            status=target, effective_at=first.measured_at,
            reason=f"check run {first.run_id}: {', '.join(codes)} at "
                   f"{', '.join(dict.fromkeys(r.point_key for r, _, _ in signalled))}")
        point = first.point_key
    else:
        # already under investigation or quarantined for it: the checks join the open event
        if already:
            ev0 = already[-1]
            ev0.check_ids = [*ev0.check_ids, *[i for i in ids if i is not None]]
            ev0.rules = list(dict.fromkeys([*ev0.rules, *codes]))
            session.add(ev0)
            return [ev0]
        kind = QualityEventKind.BEYOND_TOLERANCE if beyond else QualityEventKind.CHART_RULE
        event = QualityEvent(
            standard_id=std.id, organisation_id=std.organisation_id,  # type: ignore[arg-type]
            kind=kind.value, point_key=first.point_key, rules=codes,
            check_ids=[i for i in ids if i is not None], opened_by=principal.actor,
            opened_by_id=person, standard_status=std.status,
            impact=_impact_summary(session, std, since, flagged=False))
        session.add(event)
        session.flush()
        return [event]
    change, report = apply_status(session, std, data, recorded_by_id=person)
    summary = _impact_summary(
        session, std, since, flagged=report is not None,
        certificates=[c.certificate for c in report.certificates] if report else None)
    event = QualityEvent(
        standard_id=std.id, organisation_id=std.organisation_id,  # type: ignore[arg-type]
        kind=kind.value, point_key=point, rules=codes,
        check_ids=[i for i in ids if i is not None], opened_by=principal.actor,
        opened_by_id=person, standard_status=target.value, status_change_id=change.id,
        impact=summary)
    session.add(event)
    session.flush()
    return [event]


# --- reading -----------------------------------------------------------------------------------


def _limits(lim: control.ControlLimits) -> ChartLimits:
    return ChartLimits(centre=lim.centre, sigma=lim.sigma, ucl=lim.ucl, lcl=lim.lcl,
                       upper_2=lim.upper_2, lower_2=lim.lower_2, mr_ucl=lim.mr_ucl,
                       n_baseline=lim.n_baseline)


def drift_line(checks: Sequence[CheckResult], t_cal: datetime) -> control.DriftFit | None:
    """The weighted line through a point's checks since the calibration at ``t_cal``
    (``None`` with fewer than two distinct times): what the chart draws, the report states
    and the register carries to the budgets."""
    if len({c.measured_at for c in checks}) < 2:
        return None
    return control.drift_fit([posix(c.measured_at) for c in checks],
                             [float(c.value) for c in checks], [float(c.u) for c in checks],
                             posix(t_cal))


def point_keys(session: Session, std: Standard) -> list[str]:
    """The points a standard has been checked at, in the order first checked."""
    return list(dict.fromkeys(session.exec(select(CheckResult.point_key).where(
        CheckResult.standard_id == std.id).order_by(col(CheckResult.id))).all()))


def _drift(ev: Evaluated, t_cal: datetime, allowance: float | None, now: datetime
           ) -> DriftPublic | None:
    fit = drift_line(ev.checks, t_cal)
    if fit is None:
        return None
    d, ud = fit.drift(posix(now))
    if allowance is not None:
        choice = control.choose_drift_term(fit, posix(now), allowance)
        source, reason = choice.source.value, choice.reason
    else:
        source, reason = control.DriftSource.FIT.value, "the standard states no allowance"
    return DriftPublic(slope_per_day=fit.slope * DAY, u_slope_per_day=fit.u_slope * DAY,
                       drift_now=float(d), u_drift_now=float(ud), n=fit.n, birge=fit.birge,
                       source=source, reason=reason)


def point_series(session: Session, std: Standard, point_key: str, *,
                 now: datetime | None = None) -> PointSeries | None:
    """One point's chart: limits, each check's flags and En, the outcome and the drift."""
    ev = evaluate_point(session, std, point_key)
    if ev is None:
        return None
    ev_full = ev.evaluation
    points = []
    for i, c in enumerate(ev.checks):
        assert c.id is not None
        mr = abs(float(c.value) - float(ev.checks[i - 1].value)) if i else None
        points.append(ChartPoint(
            check_id=c.id, measured_at=c.measured_at, value=float(c.value), u=float(c.u),
            moving_range=mr, baseline=i < BASELINE_CHECKS,
            rules=[r.code for r in control.RunRule if ev_full is not None
                   and bool(ev_full.rule_flags(r)[i])],
            en=float(ev.en[i]), en_ok=bool(abs(ev.en[i]) <= 1),
            beyond_tolerance=bool(ev.beyond[i])))
    signals = [c for i in range(len(ev.checks)) for c in ev.signals_at(i)]
    if ev.beyond.any():
        outcome = control.CheckOutcome.OUT_OF_TOLERANCE.value
    elif signals:
        outcome = control.CheckOutcome.INVESTIGATE.value
    elif ev_full is not None:
        outcome = control.CheckOutcome.IN_CONTROL.value
    else:
        outcome = "baseline"  # too few checks for limits yet
    good = ev.last_good()
    return PointSeries(
        point_key=point_key, nominal=str(ev.checks[-1].nominal), unit=ev.checks[-1].unit,
        certified_value=ev.frame.certified_value, certified_expanded=ev.frame.certified_expanded,
        centre=ev.centre,
        tolerance=ev.frame.tolerance or 0.0,
        limits=_limits(ev_full.limits) if ev_full is not None else None, outcome=outcome,
        last_good_check_id=good.id if good is not None else None, points=points,
        drift=_drift(ev, calibration_start(session, std), ev.frame.tolerance,
                     now or max(utcnow(), ev.checks[-1].measured_at)))


def require_readable(session: Session, std: Standard, principal: Principal | None
                     ) -> None:
    """404 for a caller who may not read the standard's checks (its laboratory's staff and
    stations may)."""
    if principal is None or not policy.can_read_checks(session, principal,
                                                       std.organisation_id):
        raise NotFoundError("checks of standard", std.identifier)


def standard_checks(session: Session, identifier: str, principal: Principal | None, *,
                    now: datetime | None = None) -> StandardChecks:
    """Every point's series since the current calibration, evaluated, with the drift and the
    standard's events; for its laboratory's staff and stations (``None``: trusted caller,
    the CLI on the platform's own database)."""
    std = standard_by_identifier(session, identifier)
    if principal is not None:
        require_readable(session, std, principal)
    series = [s for k in point_keys(session, std)
              if (s := point_series(session, std, k, now=now)) is not None]
    cal = session.get(StandardCalibration, std.current_calibration_id) \
        if std.current_calibration_id else None
    events = session.exec(select(QualityEvent).where(QualityEvent.standard_id == std.id)
                          .order_by(col(QualityEvent.id))).all()
    return StandardChecks(standard=std.identifier, status=StandardStatus(std.status),
                          calibrated_on=cal.calibrated_on.isoformat() if cal else None,
                          series=series, events=[event_public(session, e, std) for e in events])


# --- a check run from a station ----------------------------------------------------------------



def checked_standard(session: Session, laboratory_id: int, dut: dict[str, str]) -> Standard:
    """The laboratory's standard a check run checked: by its identifier when the run names
    one, else by serial number, model and maker (as the runner's register finds standards)."""
    ident = dut.get("identifier", "")
    if ident:
        std = session.exec(select(Standard).where(Standard.identifier == ident)).first()
        if std is None or std.organisation_id != laboratory_id:
            raise NotFoundError("standard", ident)
        return std
    serial = dut.get("serial_number", "")
    rows = session.exec(select(Standard).where(Standard.organisation_id == laboratory_id,
                                               Standard.serial_number == serial)).all() \
        if serial else []
    model, maker = dut.get("model", ""), dut.get("manufacturer", "")
    found = [r for r in rows if (not model or r.model.upper() == model.upper())
             and (not maker or same_maker(r.manufacturer, maker))]
    if len(found) != 1:
        raise NotFoundError("standard", f"{maker} {model} s/n {serial} held by the laboratory"
                            + (" (several match)" if found else ""))
    return found[0]


def check_run_from_result(result: RunResult) -> CheckRun:
    """A completed check run (its analysis of kind ``check``: value, u, dof per point) as
    the checks it files; measured at the end of its last point."""
    if result.status != RunStatus.COMPLETED:
        raise ValidationError("result.status", result.status, "a completed run")
    analysis = result.analysis or {}
    if analysis.get("kind") != ProcedureKind.CHECK.value:
        raise ValidationError("result.analysis.kind", analysis.get("kind"),
                              f"{ProcedureKind.CHECK.value!r}: the run of a check procedure")
    values = analysis.get("values")
    if not isinstance(values, list) or not values:
        raise ValidationError("result.analysis.values", values, "one entry per point")
    points = []
    for i, v in enumerate(values):
        if not isinstance(v, dict):
            raise ValidationError(f"result.analysis.values[{i}]", v, "an object")
        dof = v.get("dof")
        points.append(CheckPointIn(
            point_key=str(v.get("key", "")), nominal=_finite(
                f"result.analysis.values[{i}].nominal", v.get("nominal")),
            unit=str(v.get("unit", "")),
            value=_finite(f"result.analysis.values[{i}].value", v.get("value")),
            u=_finite(f"result.analysis.values[{i}].u", v.get("u"), positive=True),
            dof=float(dof) if isinstance(dof, int | float) and not isinstance(dof, bool)
            and math.isfinite(dof) and dof > 0 else None))
    ends = [p.finished for p in result.points if p.finished is not None]
    measured = max(ends) if ends else (result.finished or result.started)
    environment = {c.quantity: {"unit": c.unit, "mean": c.mean, "min": c.minimum,
                                "max": c.maximum} for c in result.conditions}
    return CheckRun(run_id=result.run_id, procedure=result.procedure_id,
                    measured_at=measured, points=points, operator=result.operator,
                    environment=environment)


def file_check_run(session: Session, principal: Principal, *, laboratory_id: int,
                   result: RunResult) -> FiledChecks:
    """File a station's (or a technician's) completed check run of a standard the
    laboratory holds (:func:`file_check`)."""
    policy.may_file_check(session, principal, laboratory_id)
    run = check_run_from_result(result)
    std = checked_standard(session, laboratory_id, result.dut)
    return file_check(session, principal, identifier=std.identifier, run=run)


# --- the drift the checks show, for the budgets ---------------------------------------------


def checked_drifts(session: Session, std: Standard, at: datetime) -> tuple[CheckedDrift, ...]:
    """Per checked point, the drift since the current calibration that the checks made up to
    ``at`` show (a weighted line, :func:`~labctl.uncertainty.drift_fit`), as the runner's
    register carries it to the budgets that use the standard (which weigh it against the
    stated allowance, :func:`~labctl.uncertainty.choose_drift`). Points with fewer than two
    checks at distinct times have none."""
    since = calibration_start(session, std)
    out: list[CheckedDrift] = []
    for key in point_keys(session, std):
        checks = [c for c in _series(session, std, key, since) if c.measured_at <= at]
        fit = drift_line(checks, since)
        if fit is None:
            continue
        out.append(CheckedDrift(
            quantity=std.quantity, nominal=float(checks[-1].nominal), unit=checks[-1].unit,
            calibrated_at=since, slope=fit.slope, u_slope=fit.u_slope, n=fit.n,
            last_check_at=checks[-1].measured_at, dof=fit.dof, chi2_p=fit.chi2_p))
    return tuple(out)
