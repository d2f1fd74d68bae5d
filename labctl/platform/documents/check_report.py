"""The report of a standard's intermediate checks as a PDF (ISO/IEC 17025 6.4.10).

:class:`CheckReport` is everything the report states, frozen and free of the database: the
laboratory, the standard (identifier, name, model, serial number, quantity), per checked
point its :class:`~labctl.platform.documents.chart.ControlChartData` (the chart and the table
of checks both come from it: date, value, U, En, what fired), the events the checks opened
(opened, kind, status change, closed), the drift estimates with the choice made against the
stated-accuracy allowance (:func:`~labctl.uncertainty.control.choose_drift_term`), and who
produced the report and when.

:func:`check_report_pdf` renders it with fpdf2 like the certificate PDF (same DejaVu faces,
the same refusal of characters they cannot print, the same header rule and "Page x of y"
footer) and draws each chart as vector graphics from the same layout as the portal's SVG
(:func:`~labctl.platform.documents.chart.layout_chart`), so the two never disagree.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fpdf import FPDF

from labctl.errors import ValidationError
from labctl.platform.documents._fonts import FAMILY, install_fonts, output_pdf
from labctl.platform.documents.chart import (
    RULE_SHORT,
    Band,
    ChartLabels,
    ChartLayout,
    ControlChartData,
    Label,
    Line,
    Marker,
    Polygon,
    Rect,
    display_unit,
    engineering,
    format_value,
    layout_chart,
    round_value,
)
from labctl.platform.documents.dcc import labctl_release
from labctl.platform.documents.pdf import ACCENT, MARGIN, TEXT_GREY, _CertificatePdf, _strings
from labctl.uncertainty import round_result
from labctl.uncertainty.control import DriftChoice, DriftFit, DriftSource, RunRule

__all__ = ["CheckReport", "DriftStatement", "ReportEvent", "ReportPoint", "check_report_pdf"]

#: How each run rule is named in the table's "Signals" column (the full wording follows it).
RULE_NAMES: dict[RunRule, str] = {
    RunRule.BEYOND_3_SIGMA: "beyond 3σ",
    RunRule.TWO_OF_THREE_BEYOND_2_SIGMA: "2 of 3 beyond 2σ",
    RunRule.RUN: "run on one side",
    RunRule.TREND: "trend",
    RunRule.MOVING_RANGE: "moving range",
}

_YEAR = 365.25 * 86400.0
_CHART_W, _CHART_H = 720.0, 440.0  # layout units; drawn 180 mm wide


@dataclass(frozen=True, eq=False)
class ReportPoint:
    """One checked point of the standard (``label``, e.g. "DC voltage 10 V") and its chart."""

    label: str
    chart: ControlChartData


@dataclass(frozen=True)
class ReportEvent:
    """An event the checks opened: when (``opened``), what (``kind``, e.g. "run rule: beyond
    3σ at 10 V"), the status change it made (``status_from`` → ``status_to``), when it was
    ``closed`` (``None``: still open) and a ``note`` (the investigation's finding)."""

    opened: datetime
    kind: str
    status_from: str
    status_to: str
    closed: datetime | None = None
    note: str = ""


@dataclass(frozen=True, eq=False)
class DriftStatement:
    """The drift of one point since the last calibration: the weighted line ``fit`` (``None``
    when there were too few checks), evaluated at the time of use ``at``, and ``choice``,
    the budget's drift term chosen against the stated-accuracy ``allowance`` (± in the
    unit; 0 when none is stated), both in ``unit``."""

    point: str
    unit: str
    at: datetime
    allowance: float
    choice: DriftChoice
    fit: DriftFit | None = None


@dataclass(frozen=True, eq=False)
class CheckReport:
    """Everything a check report states (see the module's docstring). ``produced_at`` is
    timezone-aware; ``language`` the PDF's language tag; ``labels`` the chart's words
    (English by default: the report is in English, and its fonts, the certificate's, print
    no CJK)."""

    laboratory: str
    standard_identifier: str
    standard_name: str
    model: str
    serial_number: str
    quantity: str
    points: tuple[ReportPoint, ...]
    produced_by: str
    produced_at: datetime
    events: tuple[ReportEvent, ...] = ()
    drift: tuple[DriftStatement, ...] = ()
    manufacturer: str = ""
    remarks: tuple[str, ...] = ()
    language: str = "en"
    labels: ChartLabels = field(default_factory=ChartLabels)


def _text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(name, value, "a non-empty text")


def _aware(name: str, value: object) -> None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValidationError(name, value, "a timezone-aware datetime")


def check_report(report: CheckReport) -> None:
    """Refuse a report that cannot be rendered correctly, naming the field."""
    if not isinstance(report, CheckReport):
        raise ValidationError("report", report, "a CheckReport")
    for name in ("laboratory", "standard_identifier", "standard_name", "quantity",
                 "produced_by"):
        _text(name, getattr(report, name))
    _aware("produced_at", report.produced_at)
    if not report.points:
        raise ValidationError("points", report.points, "at least one checked point")
    for i, p in enumerate(report.points):
        _text(f"points[{i}].label", p.label)
        if not isinstance(p.chart, ControlChartData):
            raise ValidationError(f"points[{i}].chart", p.chart, "a ControlChartData")
    for i, e in enumerate(report.events):
        _aware(f"events[{i}].opened", e.opened)
        _text(f"events[{i}].kind", e.kind)
        if e.closed is not None:
            _aware(f"events[{i}].closed", e.closed)
            if e.closed < e.opened:
                raise ValidationError(f"events[{i}].closed", e.closed,
                                      f"not before it was opened ({e.opened})")
    for i, d in enumerate(report.drift):
        _text(f"drift[{i}].point", d.point)
        _aware(f"drift[{i}].at", d.at)
        if not isinstance(d.choice, DriftChoice):
            raise ValidationError(f"drift[{i}].choice", d.choice,
                                  "a DriftChoice from choose_drift_term()")
        if not (isinstance(d.allowance, int | float) and math.isfinite(d.allowance)
                and d.allowance >= 0):
            raise ValidationError(f"drift[{i}].allowance", d.allowance,
                                  "a finite half-width >= 0 (0: none stated)")
    if not isinstance(report.language, str) or len(report.language) != 2:
        raise ValidationError("language", report.language, "an ISO 639-1 code, e.g. 'en'")


# --- the PDF ----------------------------------------------------------------------------------


_BAR = re.compile("([A-Za-z]+)\u0304")


def _printable(text: str) -> str:
    """``text`` as fpdf2 can set it: it places no combining mark over the letter before it
    (no text shaping), so the mean moving range MR̄ is written out as MR-bar."""
    return _BAR.sub(r"\1-bar", text)


def _date(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d")


def _stamp(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


class _ReportPdf(_CertificatePdf):
    """The certificate's page style with the report's running header and footer."""

    def __init__(self, report: CheckReport) -> None:
        # The certificate's __init__ wants a certificate; the page set-up is the same.
        FPDF.__init__(self, orientation="P", unit="mm", format="A4")
        self.report = report
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(auto=True, margin=22)
        self.alias_nb_pages("{nb}")

    def header(self) -> None:
        r = self.report
        left, right = MARGIN, self.w - MARGIN - 80
        self.set_text_color(*ACCENT)
        self.set_font(FAMILY, "B", 11)
        self.put(left, MARGIN, 110, 5.5, r.laboratory)
        self.set_font(FAMILY, "", 7.5)
        self.set_text_color(*TEXT_GREY)
        self.put(left, MARGIN + 5.5, 110, 3.8, "Intermediate checks of a measurement standard "
                 "(ISO/IEC 17025 6.4.10)")
        self.put(right, MARGIN, 80, 4, "Check report", "R")
        self.set_font(FAMILY, "B", 11)
        self.set_text_color(0, 0, 0)
        self.put(right, MARGIN + 4, 80, 5.5, r.standard_identifier, "R")
        self.set_font(FAMILY, "", 7.5)
        self.set_text_color(*TEXT_GREY)
        self.put(right, MARGIN + 9.5, 80, 3.8, f"Produced {_stamp(r.produced_at)}", "R")
        self.rule_under_header()

    def footer(self) -> None:
        r = self.report
        width, y = self.footer_rule()
        self.put(MARGIN, y, width / 2, 3.6, f"Check report {r.standard_identifier}, "
                 f"produced by {r.produced_by}")
        self.set_font(FAMILY, "B", 7.5)
        self.set_text_color(0, 0, 0)
        self.set_xy(MARGIN + width / 2, y)
        self.cell(width / 2, 3.6, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_font(FAMILY, "", 6.5)
        self.set_text_color(*TEXT_GREY)
        self.put(MARGIN, y + 3.6, width, 3, "A record of the laboratory's intermediate checks; "
                 f"not a calibration certificate. Generated by labctl {labctl_release()}.")
        self.set_text_color(0, 0, 0)


def _draw_chart(pdf: _ReportPdf, lay: ChartLayout) -> None:
    """The chart at the current y, the full text width, from the SVG's own layout."""
    s = pdf.epw_ / lay.width
    if pdf.will_page_break(lay.height * s + 2):
        pdf.add_page()
    ox, oy = MARGIN, pdf.get_y()

    def px(x: float) -> float:
        return ox + x * s

    def py(y: float) -> float:
        return oy + y * s

    for shape in lay.shapes:
        if isinstance(shape, Line):
            pdf.set_draw_color(*shape.colour)
            pdf.set_line_width(shape.width * s)
            if shape.dash:  # fpdf2 takes one dash and one gap: the pattern's first pair
                pdf.set_dash_pattern(dash=shape.dash[0] * s, gap=shape.dash[1] * s)
            pdf.line(px(shape.x1), py(shape.y1), px(shape.x2), py(shape.y2))
            if shape.dash:
                pdf.set_dash_pattern()
        elif isinstance(shape, Band):
            pdf.set_fill_color(*shape.fill)
            with pdf.local_context(fill_opacity=shape.opacity):
                pdf.rect(px(shape.x), py(shape.y), shape.w * s, shape.h * s, style="F")
        elif isinstance(shape, Rect):
            style = ("F" if shape.fill else "") + ("D" if shape.stroke else "")
            if shape.fill:
                pdf.set_fill_color(*shape.fill)
            if shape.stroke:
                pdf.set_draw_color(*shape.stroke)
                pdf.set_line_width(s)
            if style:
                pdf.rect(px(shape.x), py(shape.y), shape.w * s, shape.h * s, style=style)
        elif isinstance(shape, Polygon):
            pdf.set_fill_color(*shape.fill)
            with pdf.local_context(fill_opacity=shape.opacity):
                pdf.polygon([(px(x), py(y)) for x, y in shape.points], style="F")
        elif isinstance(shape, Label):
            pdf.set_font(FAMILY, "B" if shape.bold else "", shape.size * s * 72 / 25.4)
            pdf.set_text_color(*shape.colour)
            text = _printable(shape.text)
            width = pdf.measure(text)
            dx = {"start": 0.0, "middle": -width / 2, "end": -width}[shape.anchor]
            pdf.text(px(shape.x) + dx, py(shape.y), text)
        elif isinstance(shape, Marker):
            _draw_marker(pdf, shape, px, py, s)
    pdf.set_text_color(0, 0, 0)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.2)
    pdf.set_y(oy + lay.height * s + 1)


def _draw_marker(pdf: _ReportPdf, m: Marker, px: Callable[[float], float],
                 py: Callable[[float], float], s: float) -> None:
    x, y, r = px(m.x), py(m.y), m.size * s
    if m.bar is not None:
        pdf.set_draw_color(150, 155, 160)
        pdf.set_line_width(s)
        pdf.line(x, py(m.bar[0]), x, py(m.bar[1]))
    pdf.set_fill_color(*m.colour)
    pdf.set_draw_color(255, 255, 255)
    pdf.set_line_width(0.8 * s)
    if m.shape == "circle":
        pdf.circle(x, y, r, style="FD")
    elif m.shape == "square":
        pdf.rect(x - r, y - r, 2 * r, 2 * r, style="FD")
    elif m.shape == "diamond":
        pdf.polygon([(x, y - 1.2 * r), (x + r, y), (x, y + 1.2 * r), (x - r, y)], style="FD")
    else:
        pdf.polygon([(x, y - 1.15 * r), (x + r, y + 0.75 * r), (x - r, y + 0.75 * r)],
                    style="FD")


def _check_rows(data: ControlChartData) -> tuple[list[str], list[list[str]]]:
    """The table of checks: headings (with the unit the values are printed in) and rows."""
    unit = display_unit(data.unit, False)
    scale, prefixed, _ = engineering([max(abs(v) for v in data.values)], 1.0, unit)
    headings = ["#", "Date (UTC)", f"Value ({prefixed})", f"U ({prefixed}, k = {data.k:g})",
                "En", "Signals"]
    rows = []
    for i in range(data.n):
        U = data.k * data.u[i]
        rounded = round_result(data.values[i] / scale, U / scale)
        signals = [RULE_NAMES[r] for r in RunRule if r in data.rules[i]]
        if data.en_failed(i):
            signals.append("|En| > 1")
        if data.beyond_tolerance(i):
            signals.append("beyond tolerance")
        en = "–" if data.en is None else f"{data.en[i]:.2f}".replace("-", "−")
        rows.append([str(i + 1), data.times[i].strftime("%Y-%m-%d %H:%M"),
                     str(rounded.value_str).replace("-", "−"), str(rounded.U_str), en,
                     "; ".join(signals) or "–"])
    return headings, rows


def _point(pdf: _ReportPdf, p: ReportPoint, lay: ChartLayout) -> None:
    data = p.chart
    pdf.heading(f"{p.label}: control chart")
    _draw_chart(pdf, lay)
    pdf.paragraph(_printable(lay.description), size=8)
    fired = [r for r in RunRule if any(r in f for f in data.rules)]
    if fired:
        pdf.paragraph(_printable("Run rules (ISO 7870-2 individuals chart), with the code "
                                 "printed above a check where one fired: " + "; ".join(
            f"{RULE_SHORT[r]} = {RULE_NAMES[r]}: {r.text}" for r in fired)
            + "; En = |En| > 1; Tol = beyond tolerance; a + after the code: more than one "
            "fired."), size=7)
    pdf.heading(f"{p.label}: checks")
    headings, rows = _check_rows(data)
    widths = [8.0, 27.0, 30.0, 25.0, 13.0, 77.0]
    scale = pdf.epw_ / sum(widths)
    pdf.grid(headings, rows, [w * scale for w in widths],
             ["RIGHT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "LEFT"], size=7)
    pdf.ln(1)
    tol = (f"Certified value {_certified(data)}; "
           f"tolerance {round_value(data.nominal, data.unit)} ± "
           f"{round_value(data.tolerance, data.unit)}. "
           "En = (x − x_cert) / √(U² + U_cert²); |En| > 1 fails.")
    pdf.paragraph(tol, size=7)


def _certified(data: ControlChartData) -> str:
    """The certified value and its U in one unit (the table's), rounded as a certificate
    rounds them (EA-4/02: U to two significant digits, the value to the same place)."""
    if data.certified_U == 0:
        return f"{format_value(data.certified_value, data.unit)} (no U stated)"
    unit = display_unit(data.unit, False)
    scale, prefixed, _ = engineering([data.certified_value or data.certified_U], 1.0, unit)
    r = round_result(data.certified_value / scale, data.certified_U / scale)
    value = str(r.value_str).replace("-", "−")
    return f"{value} {prefixed} with U = {r.U_str} {prefixed}".replace("  ", " ").strip()


def _resolution(x: float) -> float:
    return 10.0 ** (math.floor(math.log10(abs(x))) - 1) if x else 1.0


def _events(pdf: _ReportPdf, report: CheckReport) -> None:
    pdf.heading("Events opened by the checks")
    if not report.events:
        pdf.paragraph("None.")
        return
    rows = [[_stamp(e.opened), e.kind, f"{e.status_from} → {e.status_to}",
             _stamp(e.closed) if e.closed else "open", e.note or "–"] for e in report.events]
    widths = [30.0, 48.0, 38.0, 30.0, 34.0]
    scale = pdf.epw_ / sum(widths)
    pdf.grid(["Opened", "Kind", "Status change", "Closed", "Note"], rows,
             [w * scale for w in widths], ["LEFT", "LEFT", "LEFT", "LEFT", "LEFT"], size=7)
    pdf.ln(1)


def _drift(pdf: _ReportPdf, report: CheckReport) -> None:
    if not report.drift:
        return
    pdf.heading("Drift since the last calibration")
    rows = []
    for d in report.drift:
        unit = display_unit(d.unit, True)
        if d.fit is not None:
            res = _resolution(d.fit.u_slope * _YEAR or 1.0)
            slope = (f"{format_value(d.fit.slope * _YEAR, unit, res)} per year "
                     f"(u = {format_value(d.fit.u_slope * _YEAR, unit, res)}; {d.fit.n} checks)")
            drift, u_drift = d.fit.drift(d.at.timestamp())
            at = (f"{format_value(float(drift), unit, _resolution(float(u_drift) or 1.0))} "
                  f"(u = {format_value(float(u_drift), unit, _resolution(float(u_drift) or 1.0))})")
        else:
            slope, at = "no fit", "–"
        allowance = (f"± {format_value(d.allowance, unit, _resolution(d.allowance))} "
                     f"(u = {format_value(d.choice.u_allowance, unit, _resolution(d.allowance))})"
                     if d.allowance > 0 else "none stated")
        used = ("fitted drift" if d.choice.source is DriftSource.FIT
                else "stated allowance")
        rows.append([d.point, slope, f"{at} on {_date(d.at)}", allowance,
                     f"{used}: {d.choice.reason}"])
    widths = [25.0, 40.0, 35.0, 30.0, 50.0]
    scale = pdf.epw_ / sum(widths)
    pdf.grid(["Point", "Fitted drift rate", "Drift at the time of use", "Stated allowance",
              "Used in the budgets"], rows, [w * scale for w in widths],
             ["LEFT", "LEFT", "LEFT", "LEFT", "LEFT"], size=7)
    pdf.ln(1)
    pdf.paragraph("The fitted drift is a weighted straight line through the checks (its "
                  "uncertainty scaled by the Birge ratio when the checks scatter more than "
                  "their u); it replaces the stated-accuracy allowance in the budgets that use "
                  "the standard only when it has enough checks, a line describes them and "
                  "its u is smaller than the allowance's.", size=7)


def _texts(report: CheckReport, layouts: list[ChartLayout]) -> Iterator[str]:
    yield from _strings(report)
    for lay in layouts:
        yield _printable(lay.description)
        yield from (_printable(s.text) for s in lay.shapes if isinstance(s, Label))
    yield from RULE_NAMES.values()
    yield from (_printable(r.text) for r in RunRule)
    yield "→–±µ·√²≤≥|×"
    for d in report.drift:
        yield d.choice.reason


def check_report_pdf(report: CheckReport) -> bytes:
    """``report`` as PDF bytes (A4, fonts embedded). Raises
    :class:`~labctl.errors.ValidationError` naming the field for a report that cannot be
    rendered, or for text the embedded fonts cannot print."""
    check_report(report)
    pdf = _ReportPdf(report)
    layouts = [layout_chart(p.chart, width=_CHART_W, height=_CHART_H, labels=report.labels)
               for p in report.points]
    install_fonts(pdf, _texts(report, layouts))
    pdf.set_title(f"Check report {report.standard_identifier}")
    pdf.set_author(report.laboratory)
    pdf.set_subject(f"{report.standard_name} {report.serial_number}".strip())
    pdf.set_creator(f"labctl {labctl_release()}")
    pdf.set_lang(report.language)
    # Fixed to the production time: the same report gives the same bytes.
    pdf.set_creation_date(report.produced_at.astimezone(UTC))
    pdf.add_page()
    first, last = _period(report)
    pdf.key_values([
        ("Standard", f"{report.standard_name} ({report.standard_identifier})"),
        ("Manufacturer", report.manufacturer),
        ("Model / type", report.model),
        ("Serial number", report.serial_number),
        ("Quantity", report.quantity),
        ("Checked points", ", ".join(p.label for p in report.points)),
        ("Period", f"{first} to {last}"),
        ("Produced by", f"{report.produced_by}, {_stamp(report.produced_at)}"),
    ], width=pdf.epw_)
    for p, lay in zip(report.points, layouts, strict=True):
        _point(pdf, p, lay)
    _events(pdf, report)
    _drift(pdf, report)
    if report.remarks:
        pdf.heading("Remarks")
        for remark in report.remarks:
            pdf.paragraph(remark)
    return output_pdf(pdf)


def _period(report: CheckReport) -> tuple[str, str]:
    first = min(p.chart.times[0] for p in report.points)
    last = max(p.chart.times[-1] for p in report.points)
    return _date(first), _date(last)
