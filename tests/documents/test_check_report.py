"""The PDF check report, read back with pypdf: the standard, every check with its En and the
rules that fired, the events and the drift choice are on it; a 200-check series fits in a
sane number of pages; the chart is vector drawing laid out like the SVG; bad input is
refused before anything is drawn."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pypdf
import pytest

from labctl.errors import ValidationError
from labctl.platform.documents.chart import RULE_SHORT, ControlChartData
from labctl.platform.documents.check_report import (
    RULE_NAMES,
    CheckReport,
    DriftStatement,
    ReportEvent,
    ReportPoint,
    check_report_pdf,
)
from labctl.uncertainty.control import DriftSource, RunRule, choose_drift_term

from .checks_data import evaluated

PRODUCED = datetime(2026, 9, 1, 10, 0, tzinfo=UTC)


def _report(data: ControlChartData, **changes: object) -> CheckReport:
    at = data.times[-1] + timedelta(days=30)
    choice = choose_drift_term(data.drift, at.timestamp(), 30e-6)
    report = CheckReport(
        laboratory="Provincial Institute of Metrology", standard_identifier="LAB-CAL-01",
        standard_name="Multifunction calibrator", model="5522A", serial_number="SN-7741203",
        quantity="DC voltage", manufacturer="Fluke",
        points=(ReportPoint("DC voltage 10 V", data),), produced_by="Li Wei",
        produced_at=PRODUCED,
        events=(ReportEvent(data.times[22], "run rule: beyond 3σ at 10 V", "in_service",
                            "under_investigation", data.times[24], "cable reseated"),
                ReportEvent(data.times[-2], "beyond tolerance at 10 V", "under_investigation",
                            "quarantined")),
        drift=(DriftStatement("DC voltage 10 V", "V", at, 30e-6, choice, data.drift),))
    return replace(report, **changes)  # type: ignore[arg-type]


def _text(pdf: bytes) -> tuple[pypdf.PdfReader, str]:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    flat = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    return reader, flat


@pytest.fixture(scope="module")
def rendered() -> tuple[object, ControlChartData, bytes, pypdf.PdfReader, str]:
    ev, data = evaluated()
    pdf = check_report_pdf(_report(data))
    return (ev, data, pdf, *_text(pdf))


def test_identifies_the_standard_on_every_page(rendered) -> None:  # type: ignore[no-untyped-def]
    _, _, pdf, reader, flat = rendered
    assert pdf.startswith(b"%PDF-")
    assert 2 <= len(reader.pages) <= 3
    for i, page in enumerate(reader.pages, start=1):
        text = page.extract_text()
        assert "LAB-CAL-01" in text and "Provincial Institute of Metrology" in text
        assert f"Page {i} of {len(reader.pages)}" in text
    for words in ("Multifunction calibrator", "Fluke", "5522A", "SN-7741203", "DC voltage",
                  "Produced by Li Wei, 2026-09-01 10:00 UTC", "2026-01-05 to 2026-08-10"):
        assert words in flat
    fonts = {str(page["/Resources"]["/Font"][f]["/BaseFont"]) for page in reader.pages
             for f in page["/Resources"]["/Font"]}
    assert all("DejaVu" in f for f in fonts)
    assert reader.metadata.title == "Check report LAB-CAL-01"


def test_every_check_with_its_en_and_signals(rendered) -> None:  # type: ignore[no-untyped-def]
    ev, data, _, _, flat = rendered
    for i in range(data.n):
        row = re.search(rf"\b{i + 1} {data.times[i]:%Y-%m-%d %H:%M} (\S+) (\S+) (\S+) ", flat)
        assert row is not None, i
        value, U, en = row.groups()
        assert float(value) == pytest.approx(data.values[i], abs=1e-7)
        assert U == "0.0000016"  # k·u = 1.6 µV, two significant digits (EA-4/02)
        assert float(en.replace("−", "-")) == pytest.approx(float(ev.en.value[i]), abs=0.005)
    for rule in RunRule:
        if len(ev.fired[rule]):
            assert RULE_NAMES[rule] in flat
            assert rule.text.replace("MR\u0304", "MR-bar") in flat
            # The code printed above a flagged check is explained on paper.
            assert f"{RULE_SHORT[rule]} = {RULE_NAMES[rule]}" in flat
    # The last check: beyond tolerance, and it says so in its row.
    last = flat[flat.index(f"{data.n} {data.times[-1]:%Y-%m-%d %H:%M}"):]
    assert "beyond tolerance" in last[:200] and "|En| > 1" in last[:200]
    # In the table's unit, rounded as a certificate rounds it (EA-4/02).
    assert "Certified value 10.0000080 V with U = 0.0000040 V" in flat
    assert "tolerance 10 V ± 20 µV" in flat


def test_events_and_the_drift_choice(rendered) -> None:  # type: ignore[no-untyped-def]
    _, data, _, _, flat = rendered
    assert "run rule: beyond 3σ at 10 V" in flat
    assert "in_service → under_investigation" in flat
    assert "under_investigation → quarantined" in flat
    assert "cable reseated" in flat and " open " in flat
    choice = choose_drift_term(data.drift, (data.times[-1] + timedelta(days=30)).timestamp(),
                               30e-6)
    used = "fitted drift" if choice.source is DriftSource.FIT else "stated allowance"
    assert f"{used}: {choice.reason}"[:40] in flat
    assert "± 30 µV" in flat
    assert "per year" in flat


def test_drift_with_no_stated_allowance() -> None:
    _, data = evaluated()
    at = data.times[-1] + timedelta(days=30)
    choice = choose_drift_term(data.drift, at.timestamp(), 0.0)
    report = _report(data, drift=(DriftStatement("DC voltage 10 V", "V", at, 0.0, choice,
                                                 data.drift),))
    _, flat = _text(check_report_pdf(report))
    assert "none stated" in flat
    with pytest.raises(ValidationError) as exc:
        check_report_pdf(replace(report, drift=(replace(report.drift[0], allowance=-1e-6),)))
    assert exc.value.field == "drift[0].allowance"


def test_chart_is_drawn_as_vectors_laid_out_like_the_svg(rendered) -> None:  # type: ignore[no-untyped-def]
    _, _, _, reader, flat = rendered
    page = reader.pages[0]
    assert not page.images  # no raster picture: lines and shapes
    for label in ("UCL", "LCL", "CL", "Tol +", "Value − 10 V", "Moving range", "+10 µV"):
        assert label in flat
    # fpdf2 cannot put a combining bar over a letter: the mean moving range is spelt out.
    assert "MR-bar" in flat and "\u0304" not in flat
    found: dict[str, float] = {}

    def visit(text: str, cm: list[float], tm: list[float], *_: object) -> None:
        if text.strip() in ("UCL", "LCL", "Tol +", "Tol −") and text.strip() not in found:
            found[text.strip()] = tm[5]

    page.extract_text(visitor_text=visit)
    # PDF y grows upwards: the upper limits above the lower ones, the tolerance outside.
    assert found["Tol +"] > found["UCL"] > found["LCL"] > found["Tol −"]


def test_two_hundred_checks_fit() -> None:
    _, data = evaluated(200, drift_from=188)
    pdf = check_report_pdf(_report(data))
    reader, flat = _text(pdf)
    assert 4 <= len(reader.pages) <= 8
    positions = [flat.index(f" {i + 1} {data.times[i]:%Y-%m-%d %H:%M} ") for i in range(200)]
    assert positions == sorted(positions)  # every row once, in order
    assert "200 checks from 2026-01-05" in flat
    assert check_report_pdf(_report(data)) == pdf  # deterministic


def test_two_points_one_with_a_single_check_and_no_drift() -> None:
    _, data = evaluated()
    one = ControlChartData(
        title="LAB-CAL-01 · 1 V", unit="V", times=data.times[:1], values=(1.0000021,),
        u=(4e-7,), limits=None, rules=(frozenset(),), certified_value=1.000002,
        certified_U=1e-6, nominal=1.0, tolerance=5e-6)
    pdf = check_report_pdf(_report(data, points=(ReportPoint("DC voltage 10 V", data),
                                                 ReportPoint("DC voltage 1 V", one)),
                                   drift=(), events=()))
    reader, flat = _text(pdf)
    assert "1 check on 2026-01-05" in flat and "None." in flat
    assert "1.0000021" in flat
    assert "Checked points DC voltage 10 V, DC voltage 1 V" in flat
    assert flat.index("DC voltage 10 V: checks") < flat.index("DC voltage 1 V: control chart")
    assert "Drift since the last calibration" not in flat
    assert len(reader.pages) <= 4


def test_bad_reports_are_refused_naming_the_field() -> None:
    _, data = evaluated()
    good = _report(data)
    cases = {
        "standard_identifier": dict(standard_identifier=" "),
        "points": dict(points=()),
        "produced_at": dict(produced_at=datetime(2026, 9, 1)),
        "events[0].closed": dict(events=(ReportEvent(PRODUCED, "x", "a", "b",
                                                     PRODUCED - timedelta(days=1)),)),
        "drift[0].allowance": dict(drift=(replace(good.drift[0], allowance=float("nan")),)),
        "points[0].chart": dict(points=(ReportPoint("x", "not a chart"),)),  # type: ignore[arg-type]
        "language": dict(language="english"),
    }
    for field, change in cases.items():
        with pytest.raises(ValidationError) as exc:
            check_report_pdf(replace(good, **change))  # type: ignore[arg-type]
        assert exc.value.field == field, (field, exc.value)


def test_text_the_fonts_cannot_print_is_refused_like_the_certificate() -> None:
    # The certificate's faces (DejaVu Sans) have no CJK glyphs: a Chinese name is refused
    # with the characters named instead of printing empty boxes.
    _, data = evaluated()
    with pytest.raises(ValidationError, match="U\\+7701"):
        check_report_pdf(_report(data, laboratory="省计量研究院"))
    # Cyrillic and Greek take the full faces and print.
    _, flat = _text(check_report_pdf(_report(data, produced_by="Ирина Σοφία")))
    assert "Ирина Σοφία" in flat
