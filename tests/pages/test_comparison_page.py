"""The comparison page's plot of degrees of equivalence: laid out around zero with each
participant's expanded uncertainty as its bar, rendered as an inline SVG with a title and a
description (no script), in English and Chinese. Rendered without a server or browser, from
an evaluation by the same service the page uses."""

from __future__ import annotations

import re
from xml.etree import ElementTree

from labctl.platform.comparisons import Design, Entry
from labctl.platform.comparisons import evaluate_entries as evaluate
from labctl.platform.models.comparisons import ReferenceMethod
from labctl.platform.pages.public.comparisons import doe_plot, exponent_of, rows_of, scale_for

ENTRIES = [Entry("NMI", 10.0000011, 0.3e-6), Entry("PROV", 10.0000014, 0.5e-6),
           Entry("LAB", 10.0000090, 1.0e-6)]
EV = evaluate(Design(identifier="CCEM-K4-T", method=ReferenceMethod.WEIGHTED_MEAN), ENTRIES)


def test_scale_picks_the_si_prefix() -> None:
    assert scale_for(8.1e-6) == -6 and scale_for(0.02) == -3 and scale_for(3.0) == 0
    assert scale_for(0.0) == 0 and exponent_of(EV) == -6


def test_points_sit_at_their_doe_with_bars_of_their_u_around_zero() -> None:
    plot = doe_plot(EV.participants, "V", exponent=-6)
    assert plot.unit_label == "µV" and [p.label for p in plot.points] == ["NMI", "PROV", "LAB"]
    pixels_per_unit = (plot.ticks[0].y - plot.ticks[-1].y) / (
        float(plot.ticks[-1].label) - float(plot.ticks[0].label))
    for point, score in zip(plot.points, EV.participants, strict=True):
        # the point is d below/above the zero line, the bar U(d) either side of it
        assert abs((plot.zero_y - point.y) / pixels_per_unit - score.d * 1e6) < 0.02
        assert abs((point.y_low - point.y) / pixels_per_unit - score.U_d * 1e6) < 0.02
        assert abs((point.y - point.y_high) / pixels_per_unit - score.U_d * 1e6) < 0.02
        crosses_zero = point.y_high <= plot.zero_y <= point.y_low
        assert crosses_zero == score.passed
    assert [p.passed for p in plot.points] == [True, True, False]
    assert all(p.y_high >= 0 and p.y_low <= plot.height for p in plot.points)


def test_table_rows_round_doe_to_its_uncertainty() -> None:
    rows = rows_of(EV, -6)
    lab = rows[2]
    assert lab["en"] == f"{EV.participants[2].en:.2f}"
    # U(d) to two significant digits, d to the same decimal place
    decimals = len(lab["U_doe"].split(".")[1]) if "." in lab["U_doe"] else 0
    assert len(re.sub(r"[^0-9]", "", lab["U_doe"]).lstrip("0")) <= 2
    assert (len(lab["doe"].split(".")[1]) if "." in lab["doe"] else 0) == decimals


def _page(language: str) -> str:
    from datetime import UTC, datetime

    from labctl.platform.models.comparisons import ComparisonPublic, ParticipantPublic
    from labctl.platform.pages.public import comparisons as page
    from labctl.platform.pages.public import view
    from labctl.platform.pages.render import environment

    now = datetime(2026, 12, 1, tzinfo=UTC)
    public = ComparisonPublic(
        identifier="CCEM-K4-T", kind="key", title="10 V", quantity="DC voltage",
        measurand="", nominal_value="10", unit="V", pilot_code="NMI", pilot_name="NMI",
        status="published", reference_method="weighted_mean", assigned_value=None,
        assigned_u=None, sigma_pt=None, en_limit="1", created_at=now, published_at=now,
        evaluation=None, participants=[ParticipantPublic(
            participant_code=e.participant, participant_name=f"{e.participant} name",
            standard=None, value=repr(e.value), u=repr(e.u), dof=None, coverage_factor="2",
            U=repr(2 * e.u), reported_at=now, contributing=True) for e in ENTRIES])
    exponent = exponent_of(EV)
    return environment(language).get_template("public/comparison.html").render(
        request=None, lang=language, csrf="x", page_title="", current_path="/",
        current_url="/", user=None, c=public, view=view, KIND=page.KIND, STATUS=page.STATUS,
        METHOD=page.METHOD, ev=EV, rows=rows_of(EV, exponent),
        reference=("10.0000012", "0.00000026"),
        plot=doe_plot(EV.participants, "V", exponent=exponent), scaled_unit="µV",
        names={e.participant: f"{e.participant} name" for e in ENTRIES},
        standards={e.participant: None for e in ENTRIES})


def test_the_page_has_an_accessible_svg_and_no_script() -> None:
    html = _page("en")
    svg = html[html.index("<svg"):html.index("</svg>") + 6]
    root = ElementTree.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.get("role") == "img" and root.get("aria-labelledby") == "doe-title doe-desc"
    assert root.find(f"{ns}title").text == "Degrees of equivalence of CCEM-K4-T"
    assert "expanded uncertainty" in root.find(f"{ns}desc").text
    # the plot needs no script: nothing in the SVG runs or links one
    assert len(root.findall(f"{ns}g")) == 3 and "script" not in svg and " on" not in svg
    assert html.count('class="badge bad"') == 1 and "the largest consistent subset" in html
    assert "LAB name" in html and "µV" in html


def test_the_page_reads_in_chinese() -> None:
    html = _page("zh")
    assert "CCEM-K4-T 的等效度" in html and "参加者" in html and "关键比对" in html
