"""The control chart's SVG, parsed with lxml: every check drawn once where its value says, the
points the engine flagged marked by shape and carrying the rules' codes, limits and bands in
the right places, and odd series (one check, all equal, tiny and huge values) still drawn."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from labctl.errors import ValidationError
from labctl.platform.documents.chart import (
    ChartLabels,
    ControlChartData,
    axis_ticks,
    date_ticks,
    format_value,
    layout_chart,
)
from labctl.platform.documents.chart_svg import control_chart_svg
from labctl.uncertainty.control import RunRule, evaluate_checks, individuals_chart

from .checks_data import CERTIFIED, CERTIFIED_U, NOMINAL, TOLERANCE, evaluated

NS = {"s": "http://www.w3.org/2000/svg"}


def _svg(data: ControlChartData, **kw: object) -> etree._Element:
    text = control_chart_svg(data, **kw)  # type: ignore[arg-type]
    return etree.fromstring(text.encode())


def _line_y(svg: etree._Element, cls: str) -> float:
    (line,) = svg.findall(f".//s:line[@class='{cls}']", NS)
    assert line.get("y1") == line.get("y2")
    return float(line.get("y1"))


def _checks(svg: etree._Element) -> list[etree._Element]:
    return svg.xpath(".//s:g[contains(concat(' ', @class, ' '), ' check ')]", namespaces=NS)


@pytest.fixture(scope="module")
def drifting() -> tuple[object, ControlChartData, etree._Element]:
    ev, data = evaluated()
    return ev, data, _svg(data)


def test_one_marker_per_check_in_time_order(drifting) -> None:  # type: ignore[no-untyped-def]
    ev, data, svg = drifting
    checks = _checks(svg)
    assert len(checks) == data.n == ev.values.size
    assert [int(g.get("data-index")) for g in checks] == list(range(data.n))
    xs = [float(g.get("data-x")) for g in checks]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    # Weekly checks are evenly spaced on the time axis.
    gaps = np.diff(xs)
    assert np.allclose(gaps, gaps[0], atol=0.02)


def test_points_are_drawn_where_their_values_are(drifting) -> None:  # type: ignore[no-untyped-def]
    ev, _data, svg = drifting
    ucl, lcl, centre = _line_y(svg, "ucl"), _line_y(svg, "lcl"), _line_y(svg, "centre")
    assert ucl < centre < lcl  # SVG y grows downwards
    ys = [float(g.get("data-y")) for g in _checks(svg)]
    for value, y in zip(ev.values, ys, strict=True):
        assert (y < ucl) == (value > ev.limits.ucl)
        assert (y > lcl) == (value < ev.limits.lcl)
        assert (y < centre) == (value > ev.limits.centre)
    # The y scale is linear: any two checks fix it, and every other check agrees.
    a, b = int(np.argmin(ev.values)), int(np.argmax(ev.values))
    slope = (ys[b] - ys[a]) / (ev.values[b] - ev.values[a])
    predicted = ys[a] + slope * (ev.values - ev.values[a])
    assert np.allclose(predicted, ys, atol=0.02)
    assert ucl == pytest.approx(ys[a] + slope * (ev.limits.ucl - ev.values[a]), abs=0.02)
    # ±2σ lines lie between the centre and the 3σ limits.
    assert ucl < _line_y(svg, "upper-2") < centre < _line_y(svg, "lower-2") < lcl


def test_flagged_markers_carry_the_rule_codes_and_another_shape(drifting) -> None:  # type: ignore[no-untyped-def]
    ev, _data, svg = drifting
    for g in _checks(svg):
        i = int(g.get("data-index"))
        codes = set(g.get("data-rules").split())
        fired = {rule.code for rule in RunRule if i in set(ev.fired[rule].tolist())}
        assert codes - {"en", "out_of_tolerance"} == fired
        assert ("out_of_tolerance" in codes) == bool(ev.out_of_tolerance[i])
        assert ("en" in codes) == (not ev.en.satisfactory[i])
        title = g.find("s:title", NS).text
        if codes:
            assert "flagged" in g.get("class").split()
            # Shape, not only colour: flagged checks are never the in-control circle.
            assert g.get("data-shape") != "circle"
            assert g.find("s:circle", NS) is None
            for rule in RunRule:
                if rule.code in codes:
                    assert rule.text in title
        else:
            assert g.get("data-shape") == "circle"
    shapes = {g.get("data-shape") for g in _checks(svg)}
    assert {"circle", "diamond", "square"} <= shapes  # in control, rule fired, out of tolerance
    # Every flagged check has a code printed above it (readable on paper too).
    flagged = [g for g in _checks(svg) if g.get("data-rules")]
    codes_drawn = svg.findall(".//s:text[@class='flag-code']", NS)
    assert len(codes_drawn) == len(flagged)


def test_moving_range_panel_below_with_its_limit(drifting) -> None:  # type: ignore[no-untyped-def]
    ev, data, svg = drifting
    mrs = svg.xpath(".//s:g[contains(concat(' ', @class, ' '), ' mr ')]", namespaces=NS)
    assert len(mrs) == data.n - 1
    lowest_check = max(float(g.get("data-y")) for g in _checks(svg))
    mr_ucl = _line_y(svg, "mr-ucl")
    assert min(float(g.get("data-y")) for g in mrs) > lowest_check
    fired = set(ev.fired[RunRule.MOVING_RANGE].tolist())
    for g in mrs:
        i = int(g.get("data-index"))
        assert (float(g.get("data-y")) < mr_ucl) == (ev.moving_range[i] > ev.limits.mr_ucl)
        assert (g.get("data-rules") == "moving_range_beyond_limit") == (i in fired)


def test_baseline_period_is_shaded(drifting) -> None:  # type: ignore[no-untyped-def]
    ev, _data, svg = drifting
    (band,) = svg.findall(".//s:rect[@class='baseline']", NS)
    x0 = float(band.get("x"))
    x1 = x0 + float(band.get("width"))
    for g in _checks(svg):
        inside = x0 <= float(g.get("data-x")) <= x1
        assert inside == bool(ev.limits.baseline[int(g.get("data-index"))])


def test_tolerance_band_and_certified_value(drifting) -> None:  # type: ignore[no-untyped-def]
    ev, _data, svg = drifting
    upper, lower = _line_y(svg, "tolerance-upper"), _line_y(svg, "tolerance-lower")
    ys = {int(g.get("data-index")): float(g.get("data-y")) for g in _checks(svg)}
    for i, y in ys.items():
        assert (y < upper) == bool(ev.values[i] > NOMINAL + TOLERANCE)
    (band,) = svg.findall(".//s:rect[@class='tolerance']", NS)
    assert float(band.get("y")) == pytest.approx(upper, abs=0.01)
    assert float(band.get("y")) + float(band.get("height")) == pytest.approx(lower, abs=0.01)
    assert upper < _line_y(svg, "certified") < lower


def test_axes_ticks_read_in_engineering_notation(drifting) -> None:  # type: ignore[no-untyped-def]
    _, _data, svg = drifting
    ticks = [t.text for t in svg.findall(".//s:text[@class='value-tick']", NS)]
    # 10 V ± some µV: ticks are deviations from 10 V, in µV.
    assert svg.find(".//s:text[@class='value-axis']", NS).text == "Value − 10 V"
    assert all(re.fullmatch(r"[+−]?\d+(\.\d+)? µV", t) for t in ticks), ticks
    dates = [t.text for t in svg.findall(".//s:text[@class='date-tick']", NS)]
    assert dates and all(re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", d) for d in dates), dates
    assert dates == sorted(dates)


def test_accessible_and_allowed_by_the_page_policy(drifting) -> None:  # type: ignore[no-untyped-def]
    ev, data, svg = drifting
    assert svg.get("role") == "img"
    title_id, desc_id = svg.get("aria-labelledby").split()
    assert svg.find("s:title", NS).get("id") == title_id
    desc = svg.find("s:desc", NS)
    assert desc.get("id") == desc_id
    assert desc.text.startswith(f"{data.n} checks from 2026-01-05 to ")
    for rule in RunRule:
        assert f"“{rule.text}”: {len(ev.fired[rule])} checks" in desc.text
    assert "Beyond the tolerance 10 V ± 20 µV: 2 checks" in desc.text
    text = control_chart_svg(data)
    # The pages' CSP allows no inline style and no script; nothing is fetched.
    for forbidden in ("style=", "<style", "<script", "href", "url(", "javascript:"):
        assert forbidden not in text
    assert "nan" not in text.lower().replace("nano", "")
    assert text == control_chart_svg(data)  # deterministic


def test_labels_are_the_callers() -> None:
    _, data = evaluated()
    svg = _svg(data, labels=ChartLabels(value_axis="值", deviation_axis="值 − {offset}",
                                        ucl="上控制限"), chart_id="c2")
    assert svg.find(".//s:text[@class='value-axis']", NS).text == "值 − 10 V"
    assert svg.find(".//s:text[@class='ucl-label']", NS).text == "上控制限"
    assert svg.find("s:title", NS).get("id") == "c2-title"
    with pytest.raises(ValidationError) as exc:
        control_chart_svg(data, chart_id='x" onload="alert(1)')
    assert exc.value.field == "chart_id"


def _series(values: list[float], unit: str = "V", *, u: float = 1e-7,
            nominal: float | None = None, tolerance: float | None = None) -> ControlChartData:
    n = len(values)
    times = [datetime(2026, 3, 2, tzinfo=UTC) + timedelta(days=7 * i) for i in range(n)]
    t = np.array([x.timestamp() for x in times])
    if n >= 2:
        ev = evaluate_checks(t, values, u, values[0], 2 * u,
                             tolerance or max(abs(values[0]) * 1e-3, 10 * u), None,
                             nominal=nominal)
        return ControlChartData.from_evaluation(
            ev, title="series", unit=unit, u=[u] * n, certified_value=values[0],
            certified_U=2 * u, tolerance=tolerance or max(abs(values[0]) * 1e-3, 10 * u),
            nominal=nominal)
    return ControlChartData(
        title="series", unit=unit, times=tuple(times), values=tuple(values), u=(u,),
        limits=None, rules=(frozenset(),), certified_value=values[0], certified_U=2 * u,
        nominal=values[0] if nominal is None else nominal,
        tolerance=tolerance or max(abs(values[0]) * 1e-3, 10 * u))


def _all_numbers_finite_and_inside(svg_text: str, width: float, height: float) -> None:
    root = etree.fromstring(svg_text.encode())
    for el in root.iter():
        for name in ("x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "width", "height"):
            v = el.get(name)
            if v is not None:
                f = float(v)
                assert np.isfinite(f), (el.tag, name, v)
                assert -1 <= f <= max(width, height) + 1, (el.tag, name, v)


def test_one_check_draws_without_limits() -> None:
    data = _series([10.0000051])
    text = control_chart_svg(data)
    svg = etree.fromstring(text.encode())
    assert len(_checks(svg)) == 1
    assert not svg.findall(".//s:line[@class='ucl']", NS)
    assert "1 check on 2026-03-02" in svg.find("s:desc", NS).text
    _all_numbers_finite_and_inside(text, 720, 440)


def test_all_equal_values_draw() -> None:
    data = _series([1.5] * 6, "A")
    assert data.limits is not None and data.limits.sigma == 0
    text = control_chart_svg(data)
    svg = etree.fromstring(text.encode())
    assert len(_checks(svg)) == 6
    ys = {g.get("data-y") for g in _checks(svg)}
    assert len(ys) == 1
    assert _line_y(svg, "ucl") == _line_y(svg, "centre") == pytest.approx(float(ys.pop()))
    _all_numbers_finite_and_inside(text, 720, 440)


@pytest.mark.parametrize(("values", "unit", "u", "tick"), [
    ([1.2e-12, 1.5e-12, 1.1e-12, 1.3e-12, 1.4e-12], "A", 5e-14, r"[+−]?\d+(\.\d+)? fA|"
                                                                 r"\d+(\.\d+)? pA"),
    ([1.0e9 + d for d in (0.0, 3.0, -2.0, 1.0, 4.0)], "Ω", 1.0, r"[+−]?\d+(\.\d+)? Ω"),
    ([100.0012, 100.0009, 100.0015, 100.0011, 100.0013], "°C", 1e-4, r"[+−]?\d+(\.\d+)? mK"),
    ([0.52, 0.55, 0.51, 0.54, 0.53], "1", 0.005, r"\d\.\d+"),
    ([1.2e15, 1.1e15, 1.3e15], "Pa", 1e13, r"\d+(\.\d+)? ×10¹⁵ Pa"),
])
def test_tiny_huge_and_other_units(values: list[float], unit: str, u: float, tick: str) -> None:
    data = _series(values, unit, u=u)
    text = control_chart_svg(data, width=640, height=400)
    svg = etree.fromstring(text.encode())
    assert len(_checks(svg)) == len(values)
    labels = [t.text for t in svg.findall(".//s:text[@class='value-tick']", NS)]
    assert len(labels) >= 3
    assert all(re.fullmatch(tick, s) for s in labels), labels
    _all_numbers_finite_and_inside(text, 640, 400)
    # Distinct values stay distinct on the chart.
    ys = [float(g.get("data-y")) for g in _checks(svg)]
    assert len(set(ys)) == len(set(values))


def test_bad_input_is_refused_with_the_field() -> None:
    _, data = evaluated()
    cases = {
        "values[3]": dict(values=(*data.values[:3], float("nan"), *data.values[4:])),
        "u[0]": dict(u=(float("inf"), *data.u[1:])),
        "u[1]": dict(u=(data.u[0], 0.0, *data.u[2:])),
        "unit": dict(unit="furlong"),
        "times[2]": dict(times=(*data.times[:2], data.times[1], *data.times[3:])),
        "tolerance": dict(tolerance=float("nan")),
        "certified_U": dict(certified_U=-1e-6),
        "rules": dict(rules=data.rules[:-1]),
        "title": dict(title=" "),
    }
    for field, change in cases.items():
        with pytest.raises(ValidationError) as exc:
            replace(data, **change)  # type: ignore[arg-type]
        assert exc.value.field == field, (field, exc.value)
    naive = (datetime(2026, 1, 1), *data.times[1:])
    with pytest.raises(ValidationError, match="timezone-aware"):
        replace(data, times=naive)
    with pytest.raises(ValidationError) as exc:
        control_chart_svg(data, width=100)
    assert exc.value.field == "width"
    with pytest.raises(ValidationError) as exc:
        control_chart_svg(data, height=float("nan"))
    assert exc.value.field == "height"


def test_tolerance_far_outside_is_said_not_drawn() -> None:
    values = [10.000001, 10.000002, 10.0, 10.000001, 10.000003]
    data = replace(_series(values, u=5e-7), tolerance=1e-3)
    svg = _svg(data)
    assert not svg.findall(".//s:line[@class='tolerance-upper']", NS)
    assert "lies beyond the plotted range" in svg.find("s:desc", NS).text


def test_layout_helpers() -> None:
    assert axis_ticks(0.0, 1.0) == (0.0, 1.0, 0.2)
    first, last, step = axis_ticks(9.9999952, 10.0000213)
    assert step == pytest.approx(5e-6) and first <= 10.0 <= last
    assert format_value(10.0000123, "V", 1e-7) == "10.0000123 V"
    assert format_value(1.5e-5, "V") == "15.0000 µV"
    assert format_value(-0.0, "V", 1e-3) == "0 V"
    start = datetime(2026, 1, 7, 13, tzinfo=UTC)
    weekly = date_ticks(start, start + timedelta(days=40), 8)
    assert all(t.at.weekday() == 0 and t.at.hour == 0 for t in weekly)
    monthly = date_ticks(start, start + timedelta(days=400), 8)
    assert all(t.at.day == 1 for t in monthly) and monthly[0].lines == ("2026-03",)
    hourly = date_ticks(start, start + timedelta(hours=10), 6)
    assert hourly[0].lines == ("2026-01-07", "14:00")
    minutes = date_ticks(start, start + timedelta(minutes=20), 6)
    assert [t.lines[1] for t in minutes] == ["13:00", "13:05", "13:10", "13:15", "13:20"]


def test_layout_positions_for_the_pdf() -> None:
    ev, data = evaluated()
    lay = layout_chart(data, width=720, height=440)
    assert lay.value_panel.bottom < lay.mr_panel.top
    assert lay.x(data.times[0]) > lay.value_panel.left
    assert lay.x(data.times[-1]) < lay.value_panel.right
    assert lay.offset == pytest.approx(10.0)
    assert individuals_chart(ev.values, (0, 12)).ucl == pytest.approx(data.limits.ucl)
    assert data.certified_value == CERTIFIED and data.certified_U == CERTIFIED_U


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 60), power=st.integers(-12, 12), spread=st.floats(1e-9, 0.3),
       gap=st.floats(60.0, 90 * 86400.0), seed=st.integers(0, 2**32 - 1),
       sign=st.sampled_from([1.0, -1.0]), unit=st.sampled_from(["V", "Ω", "°C", "1", "Pa"]))
def test_any_series_draws_inside_the_box_in_value_order(
        n: int, power: int, spread: float, gap: float, seed: int, sign: float,
        unit: str) -> None:
    rng = np.random.default_rng(seed)
    scale = 10.0 ** power
    values = [float(v) for v in sign * scale * (1 + spread * rng.standard_normal(n))]
    times = [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=gap * i) for i in range(n)]
    u = scale * max(spread, 1e-6) / 3
    tolerance = scale * max(spread, 1e-6) * 4
    if n >= 2:
        ev = evaluate_checks([t.timestamp() for t in times], values, u, values[0], 2 * u,
                             tolerance, None)
        data = ControlChartData.from_evaluation(
            ev, title="any", unit=unit, u=u, certified_value=values[0], certified_U=2 * u,
            tolerance=tolerance)
    else:
        data = ControlChartData(title="any", unit=unit, times=tuple(times),
                                values=tuple(values), u=(u,), limits=None,
                                rules=(frozenset(),), certified_value=values[0],
                                certified_U=2 * u, nominal=values[0], tolerance=tolerance)
    text = control_chart_svg(data)
    _all_numbers_finite_and_inside(text, 720, 440)
    svg = etree.fromstring(text.encode())
    checks = _checks(svg)
    assert len(checks) == n
    ys = [float(g.get("data-y")) for g in checks]
    order = np.argsort(values, kind="stable")
    # Higher values are drawn higher (smaller y), to the SVG's two decimals.
    assert all(ys[a] + 0.011 >= ys[b] for a, b in pairwise(order))
    assert svg.findall(".//s:text[@class='date-tick']", NS)
