"""``labctl checks STANDARD``: a standard's intermediate checks per point, as the platform
evaluates them (control limits, the rules that fired, En, tolerance), its quality events and
the drift estimated from the checks since its calibration."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from labctl.cli.console import console, flush
from labctl.cli.platform import DatabaseUrl
from labctl.errors import LabctlError


def _si(x: float | None, unit: str) -> str:
    """A small value in the unit's micro-multiple when it reads better (µV rather than V)."""
    if x is None:
        return ""
    if unit and abs(x) < 1e-3:
        return f"{x * 1e6:+.3f} µ{unit}"
    return f"{x:+.6g} {unit}"


def checks(
    standard: Annotated[str, typer.Argument(help="The standard's identifier, e.g. LAB-CAL-01.")],
    database_url: DatabaseUrl = None,
    pdf: Annotated[Path | None, typer.Option(
        "--pdf", help="Also write the check report (charts, checks, events, drift) as a PDF "
        "to this file.", dir_okay=False, writable=True)] = None,
) -> None:
    """A standard's checks per point: limits, flags, En, events and the drift estimate."""
    from rich.table import Table

    from labctl.platform.admin import standard_checks_report

    out = console()
    try:
        report = standard_checks_report(standard, database_url)
    except LabctlError as exc:
        console(stderr=True).print(f"labctl checks: {exc}", markup=False)
        raise typer.Exit(2) from None
    out.print(f"{report.standard}: {report.status.value.replace('_', ' ')}; calibrated on "
              f"{report.calibrated_on or 'unknown'}", markup=False)
    if not report.series:
        out.print("no checks filed", markup=False)
    for s in report.series:
        title = (f"{report.standard} at {s.point_key} ({s.nominal} {s.unit}): {s.outcome}; "
                 f"tolerance ±{_si(s.tolerance, s.unit).lstrip('+')}")
        table = Table(title=title)
        for col in ("#", "measured (UTC)", "value", "u", "En", "flags"):
            table.add_column(col, justify="left" if col in ("measured (UTC)", "flags")
                             else "right")
        for i, p in enumerate(s.points, 1):
            flags = [*p.rules, *(["En"] if not p.en_ok else []),
                     *(["TOLERANCE"] if p.beyond_tolerance else [])]
            style = "red" if p.beyond_tolerance else "yellow" if flags else None
            table.add_row(f"{i}{'*' if p.baseline else ''}",
                          p.measured_at.strftime("%Y-%m-%d %H:%M"), _si(p.value, s.unit),
                          _si(p.u, s.unit).lstrip("+"), f"{p.en:+.2f}", ", ".join(flags),
                          style=style)
        out.print(table)
        if s.limits is not None:
            lim = s.limits
            out.print(f"  limits (baseline *, {lim.n_baseline} checks): centre "
                      f"{_si(lim.centre, s.unit)}, 3σ {_si(lim.lcl, s.unit)} … "
                      f"{_si(lim.ucl, s.unit)}, moving range ≤ "
                      f"{_si(lim.mr_ucl, s.unit).lstrip('+')}", markup=False)
        else:
            out.print("  limits: not yet (fewer checks than the baseline)", markup=False)
        if s.drift is not None:
            d = s.drift
            out.print(f"  drift: {_si(d.slope_per_day, s.unit)}/day ± "
                      f"{_si(d.u_slope_per_day, s.unit).lstrip('+')}/day; now "
                      f"{_si(d.drift_now, s.unit)} ± {_si(d.u_drift_now, s.unit).lstrip('+')} "
                      f"since calibration; budget term: {d.source} ({d.reason})",
                      markup=False)
    if report.events:
        table = Table(title=f"quality events of {report.standard}")
        for col in ("id", "opened", "kind", "rules", "status", "standard", "certificates"):
            table.add_column(col, overflow="fold")
        for e in report.events:
            table.add_row(str(e.id), e.opened_at.strftime("%Y-%m-%d %H:%M"), e.kind.value,
                          ", ".join(e.rules), e.status.value,
                          e.standard_status.value.replace("_", " "),
                          ", ".join(e.impact.get("certificates", [])) or "—")
        out.print(table)
    if pdf is not None:
        from labctl.platform.admin import standard_check_report_pdf

        try:
            pdf.write_bytes(standard_check_report_pdf(standard, database_url))
        except (LabctlError, OSError) as exc:
            console(stderr=True).print(f"labctl checks: {exc}", markup=False)
            raise typer.Exit(2) from None
        out.print(f"check report: {pdf}", markup=False)
    flush()


def register_commands(app: typer.Typer) -> None:
    app.command("checks")(checks)
