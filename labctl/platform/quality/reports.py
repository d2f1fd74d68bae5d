"""A standard's checks as pictures and a report: the control chart of each point
(:class:`~labctl.platform.documents.chart.ControlChartData`, drawn inline on the staff pages
and into the PDF check report) and the :class:`~labctl.platform.documents.check_report.
CheckReport` itself, from the same evaluation the status decisions use
(:func:`~labctl.platform.quality.checks.evaluate_point`)."""

from __future__ import annotations

import itertools
from datetime import datetime

from sqlmodel import Session, col, select

from labctl.platform.accounts.auth import Principal
from labctl.platform.db import utcnow
from labctl.platform.documents.chart import ChartLabels, ControlChartData
from labctl.platform.documents.check_report import (
    CheckReport,
    DriftStatement,
    ReportEvent,
    ReportPoint,
)
from labctl.platform.models.org import Organisation
from labctl.platform.models.quality import QualityEvent
from labctl.platform.models.registry import Standard, StandardStatusChange
from labctl.platform.quality.checks import (
    Evaluated,
    calibration_start,
    drift_line,
    evaluate_point,
    point_keys,
    posix,
    require_readable,
)
from labctl.platform.registry.entries import standard_by_identifier
from labctl.uncertainty import control


def point_chart(ev: Evaluated, *, title: str, t_cal: datetime) -> ControlChartData | None:
    """The chart of one point as the checks were judged: raw check values about the
    baseline's centre (what a check finds while the standard is as certified), the tolerance
    about it, each check's rules, En and tolerance flags, and the drift line. ``None`` when
    the standard states no tolerance or two checks share a time (no chart to draw)."""
    checks = ev.checks
    times = [c.measured_at for c in checks]
    if ev.frame.tolerance is None or any(b <= a for a, b in itertools.pairwise(times)):
        return None
    unit = checks[-1].unit
    nominal = ev.centre - ev.frame.certified_value
    drift = drift_line(ev.checks, t_cal)
    u = [float(c.u) for c in checks]
    if ev.evaluation is not None:
        return ControlChartData.from_evaluation(
            ev.evaluation, title=title, unit=unit, u=u, certified_value=ev.centre,
            certified_U=ev.frame.certified_expanded, tolerance=ev.frame.tolerance,
            nominal=nominal, drift=drift)
    limits = None
    if len(checks) >= 2:
        limits = control.individuals_chart([float(c.value) for c in checks])
    return ControlChartData(
        title=title, unit=unit, times=tuple(times), values=tuple(float(c.value) for c in checks),
        u=tuple(u), limits=limits, rules=tuple(frozenset() for _ in checks),
        certified_value=ev.centre, certified_U=ev.frame.certified_expanded, nominal=nominal,
        tolerance=ev.frame.tolerance, en=tuple(float(e) for e in ev.en),
        out_of_tolerance=tuple(bool(b) for b in ev.beyond), drift=drift)


def _charted(session: Session, std: Standard) -> list[tuple[str, Evaluated, ControlChartData]]:
    """Each checked point with its evaluation and chart since the current calibration, in the
    order first checked (points without a chart left out)."""
    t_cal = calibration_start(session, std)
    out = []
    for key in point_keys(session, std):
        ev = evaluate_point(session, std, key)
        chart = point_chart(ev, title=f"{std.identifier} {key}", t_cal=t_cal) \
            if ev is not None else None
        if ev is not None and chart is not None:
            out.append((key, ev, chart))
    return out


def standard_charts(session: Session, std: Standard) -> list[tuple[str, ControlChartData]]:
    """Each checked point's chart since the current calibration, in the order first checked."""
    return [(key, chart) for key, _, chart in _charted(session, std)]


def check_report(session: Session, identifier: str, principal: Principal | None, *,
                 produced_by: str, labels: ChartLabels | None = None,
                 now: datetime | None = None) -> CheckReport:
    """The PDF check report's content for ``identifier``: every point's chart and checks, the
    events with the status changes they made, and per point the drift line and the budget
    term it supports against the stated allowance (the same rule the budgets apply). For the
    laboratory's staff (``None``: the trusted CLI on the platform's own database)."""
    std = standard_by_identifier(session, identifier)
    if principal is not None:
        require_readable(session, std, principal)
    at = now or utcnow()
    points: list[ReportPoint] = []
    drifts: list[DriftStatement] = []
    for key, ev, chart in _charted(session, std):
        points.append(ReportPoint(f"{std.quantity} {key}", chart))
        fit = chart.drift
        allowance = ev.frame.tolerance or 0.0
        drifts.append(DriftStatement(
            point=key, unit=chart.unit, at=at, allowance=allowance,
            choice=control.choose_drift_term(fit, posix(at), allowance), fit=fit))
    events = []
    for e in session.exec(select(QualityEvent).where(QualityEvent.standard_id == std.id)
                          .order_by(col(QualityEvent.id))).all():
        if e.status_change_id is not None:
            prior = session.exec(select(StandardStatusChange).where(
                StandardStatusChange.standard_id == std.id,
                col(StandardStatusChange.id) < e.status_change_id)
                .order_by(col(StandardStatusChange.id).desc())).first()
            before = prior.status if prior is not None else "in_service"
        else:
            before = e.standard_status
        events.append(ReportEvent(
            opened=e.opened_at, kind=f"{e.kind}: {', '.join(e.rules)}"
            + (f" at {e.point_key}" if e.point_key else ""),
            status_from=before, status_to=e.standard_status, closed=e.closed_at,
            note=str(e.verification.get("note", "")) if e.verification else ""))
    org = session.get(Organisation, std.organisation_id)
    return CheckReport(
        laboratory=org.name if org else "", standard_identifier=std.identifier,
        standard_name=std.description or std.identifier, model=std.model,
        serial_number=std.serial_number, quantity=std.quantity, points=tuple(points),
        produced_by=produced_by, produced_at=at, events=tuple(events), drift=tuple(drifts),
        manufacturer=std.manufacturer, labels=labels or ChartLabels())
