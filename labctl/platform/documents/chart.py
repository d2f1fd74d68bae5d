"""The control chart of a standard's intermediate checks, laid out once for every output.

A standard is checked between calibrations (ISO/IEC 17025 6.4.10) and its checks are charted
as an individuals / moving-range chart (ISO 7870-2). The statistics are the engine's
(:mod:`labctl.uncertainty.control`); this module turns its outputs into a picture:

* :class:`ControlChartData` — what one chart shows (checks with their times and u, the
  engine's :class:`~labctl.uncertainty.control.ControlLimits`, the run rules that fired per
  check, En, tolerance, certified value and U, an optional drift line), checked on creation
  (a NaN, an unknown unit or a misaligned series is a :class:`~labctl.errors.ValidationError`);
  :meth:`ControlChartData.from_evaluation` builds it from
  :func:`~labctl.uncertainty.control.evaluate_checks`.
* :func:`layout_chart` — the chart as a flat list of shapes (:class:`Line`, :class:`Band`,
  :class:`Marker`, :class:`Label`, ...) in user units with the origin top left: axes and
  their ticks (dates, values in engineering notation), limits, bands, markers, legend. Pure
  arithmetic, so the inline SVG (:mod:`.chart_svg`) and the PDF check report
  (:mod:`.check_report`) draw exactly the same chart, and tests can check positions without
  a browser.

Every word on the chart comes from :class:`ChartLabels` (English by default; the pages pass
their translation). Every mark that means something is a shape *and* a colour (and a short
code above the point), never colour alone.

Times are timezone-aware datetimes; the engine's float seconds are POSIX seconds (UTC), the
scale :class:`~labctl.uncertainty.control.DriftFit` uses here too.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from labctl import units
from labctl.errors import ValidationError
from labctl.uncertainty.control import CheckEvaluation, ControlLimits, DriftFit, RunRule

__all__ = [
    "Band",
    "ChartLabels",
    "ChartLayout",
    "ControlChartData",
    "Label",
    "Line",
    "Marker",
    "Polygon",
    "Rect",
    "Shape",
    "axis_ticks",
    "date_ticks",
    "describe",
    "display_unit",
    "engineering",
    "format_value",
    "layout_chart",
    "round_value",
]

RGB = tuple[int, int, int]

# Colours (each paired with a shape or a dash pattern; none carries meaning alone). Those
# that colour text keep a contrast of at least 4.5:1 (WCAG AA) on white and on the bands.
INK: RGB = (33, 37, 41)
GRID: RGB = (222, 226, 230)
ACCENT: RGB = (0, 60, 110)  # points in control, the centre line
SIGMA2: RGB = (95, 102, 110)  # ±2σ, dashed
SIGMA3: RGB = (176, 42, 55)  # ±3σ, solid
RULE: RGB = (178, 80, 0)  # a run rule fired: orange diamond
EN_FAIL: RGB = (128, 0, 128)  # |En| > 1: purple triangle
OUT: RGB = (176, 0, 0)  # beyond tolerance: red square
TOLERANCE: RGB = (20, 108, 67)  # tolerance band edges, dash-dot
TOLERANCE_FILL: RGB = (209, 231, 221)
CERTIFIED: RGB = (10, 88, 202)  # certified value, dotted
DRIFT: RGB = (111, 66, 193)
DRIFT_FILL: RGB = (226, 217, 243)
BASELINE_FILL: RGB = (233, 236, 239)
ERROR_BAR: RGB = (150, 155, 160)

#: Short codes printed above a flagged point (shape and colour say "flagged", these say why).
RULE_SHORT: dict[RunRule, str] = {
    RunRule.BEYOND_3_SIGMA: "3σ",
    RunRule.TWO_OF_THREE_BEYOND_2_SIGMA: "2/3",
    RunRule.RUN: "R",
    RunRule.TREND: "T",
    RunRule.MOVING_RANGE: "MR",
}

#: Units shown with an SI prefix on the axis (µV, mK); others keep a power of ten.
_PREFIXABLE = frozenset({"V", "A", "Ω", "W", "Hz", "K", "s", "m", "Pa"})
_PREFIX_BY_POWER = {-12: "p", -9: "n", -6: "µ", -3: "m", 0: "", 3: "k", 6: "M", 9: "G"}
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


# --- what is charted --------------------------------------------------------------------------


def _finite(field_name: str, value: Any, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValidationError(field_name, value, "a number" + (" > 0" if positive else ""))
    x = float(value)
    if not math.isfinite(x) or (positive and x <= 0):
        raise ValidationError(field_name, value,
                              "a finite number" + (" > 0" if positive else ""))
    return x


def _floats(field_name: str, values: Iterable[Any], *, positive: bool = False
            ) -> tuple[float, ...]:
    return tuple(_finite(f"{field_name}[{i}]", v, positive=positive)
                 for i, v in enumerate(values))


@dataclass(frozen=True, eq=False)
class ControlChartData:
    """One control chart: the checks of one standard at one point and what they mean.

    ``times`` timezone-aware, strictly increasing; ``values`` the check results and ``u``
    their standard uncertainties (> 0), in ``unit`` (a symbol of :mod:`labctl.units`, e.g.
    ``"V"``, ``"°C"``); ``k`` the coverage factor of the error bars (±k·u) and of the En test;
    ``limits`` the chart's limits from its baseline (``None`` with fewer than two checks:
    there is no moving range yet); ``rules`` per check the :class:`RunRule` s that fired on it;
    ``en`` per check its En number against the certified value (``None``: not computed);
    ``out_of_tolerance`` per check; ``certified_value`` and its expanded uncertainty
    ``certified_U`` (the last calibration's); ``nominal`` ± ``tolerance`` the band the
    standard must stay in; ``drift`` the weighted line through the checks (times as POSIX
    seconds) drawn with its ±k·u band; ``title`` says which standard and point.
    """

    title: str
    unit: str
    times: tuple[datetime, ...]
    values: tuple[float, ...]
    u: tuple[float, ...]
    limits: ControlLimits | None
    rules: tuple[frozenset[RunRule], ...]
    certified_value: float
    certified_U: float  # noqa: N815 (GUM symbol U, as the engine names it)
    nominal: float
    tolerance: float
    en: tuple[float, ...] | None = None
    out_of_tolerance: tuple[bool, ...] | None = None
    drift: DriftFit | None = None
    k: float = 2.0

    def __post_init__(self) -> None:
        if not isinstance(self.title, str) or not self.title.strip():
            raise ValidationError("title", self.title, "a non-empty text")
        try:
            units.unit(self.unit)
        except ValidationError as exc:
            raise ValidationError("unit", self.unit, exc.allowed) from None
        n = len(self.values)
        if n == 0:
            raise ValidationError("values", self.values, "at least one check")
        set_ = object.__setattr__  # frozen: normalise once, here
        set_(self, "values", _floats("values", self.values))
        set_(self, "u", _floats("u", self.u, positive=True))
        for name in ("u", "times", "rules"):
            if len(getattr(self, name)) != n:
                raise ValidationError(name, f"{len(getattr(self, name))} entries",
                                      f"one per check ({n})")
        for i, t in enumerate(self.times):
            if not isinstance(t, datetime) or t.tzinfo is None or t.utcoffset() is None:
                raise ValidationError(f"times[{i}]", t, "a timezone-aware datetime")
            if i and t <= self.times[i - 1]:
                raise ValidationError(f"times[{i}]", t,
                                      f"strictly increasing times (after {self.times[i - 1]})")
        set_(self, "times", tuple(t.astimezone(UTC) for t in self.times))
        for i, fired in enumerate(self.rules):
            if not isinstance(fired, frozenset) or not all(isinstance(r, RunRule)
                                                           for r in fired):
                raise ValidationError(f"rules[{i}]", fired, "a frozenset of RunRule")
        if self.en is not None:
            if len(self.en) != n:
                raise ValidationError("en", f"{len(self.en)} entries", f"one per check ({n})")
            set_(self, "en", _floats("en", self.en))
        if self.out_of_tolerance is not None:
            if len(self.out_of_tolerance) != n:
                raise ValidationError("out_of_tolerance", f"{len(self.out_of_tolerance)} "
                                      "entries", f"one per check ({n})")
            set_(self, "out_of_tolerance", tuple(bool(b) for b in self.out_of_tolerance))
        set_(self, "certified_value", _finite("certified_value", self.certified_value))
        set_(self, "certified_U", _finite("certified_U", self.certified_U))
        if self.certified_U < 0:
            raise ValidationError("certified_U", self.certified_U, "an expanded uncertainty >= 0")
        set_(self, "nominal", _finite("nominal", self.nominal))
        set_(self, "tolerance", _finite("tolerance", self.tolerance, positive=True))
        set_(self, "k", _finite("k", self.k, positive=True))
        if self.limits is not None:
            if not isinstance(self.limits, ControlLimits):
                raise ValidationError("limits", self.limits, "ControlLimits or None")
            for name in ("centre", "sigma", "ucl", "lcl", "upper_2", "lower_2", "mr_bar",
                         "mr_ucl"):
                _finite(f"limits.{name}", getattr(self.limits, name))
            if np.shape(self.limits.baseline) != (n,):
                raise ValidationError("limits.baseline", f"{np.shape(self.limits.baseline)}",
                                      f"a mask with one entry per check ({n})")
        if self.drift is not None and not isinstance(self.drift, DriftFit):
            raise ValidationError("drift", self.drift, "a DriftFit or None")

    @classmethod
    def from_evaluation(cls, evaluation: CheckEvaluation, *, title: str, unit: str,
                        u: Sequence[float] | float, certified_value: float, certified_U: float,
                        tolerance: float, nominal: float | None = None,
                        drift: DriftFit | None = None, k: float = 2.0) -> ControlChartData:
        """The chart of :func:`~labctl.uncertainty.control.evaluate_checks`' result (its
        times POSIX seconds), with the same ``u``, certified value, tolerance and ``k`` that
        were passed to it."""
        n = evaluation.values.size
        u_seq = [u] * n if isinstance(u, int | float) else list(u)
        rule_list = list(RunRule)
        return cls(
            title=title, unit=unit,
            times=tuple(_from_posix(float(t)) for t in evaluation.times),
            values=tuple(float(v) for v in evaluation.values), u=tuple(u_seq),
            limits=evaluation.limits,
            rules=tuple(frozenset(rule_list[j] for j in np.flatnonzero(row))
                        for row in evaluation.flags),
            en=tuple(float(e) for e in np.atleast_1d(evaluation.en.value)),
            out_of_tolerance=tuple(bool(b) for b in evaluation.out_of_tolerance),
            certified_value=certified_value, certified_U=certified_U,
            nominal=certified_value if nominal is None else nominal, tolerance=tolerance,
            drift=drift, k=k)

    @property
    def n(self) -> int:
        return len(self.values)

    def en_failed(self, i: int) -> bool:
        return self.en is not None and abs(self.en[i]) > 1.0

    def beyond_tolerance(self, i: int) -> bool:
        if self.out_of_tolerance is not None:
            return self.out_of_tolerance[i]
        return abs(self.values[i] - self.nominal) > self.tolerance

    def moving_ranges(self) -> tuple[float, ...]:
        """|x_i − x_i−1| for i = 1 … n−1."""
        return tuple(abs(b - a) for a, b in zip(self.values, self.values[1:], strict=False))


def _from_posix(t: float) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=t)


def _posix(t: datetime) -> float:
    return (t - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()


# --- words ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartLabels:
    """Every word the chart prints, English by default. Templates use ``str.format`` fields
    named as in the defaults. The pages build a translated one (``pages/chart.py``)."""

    value_axis: str = "Value"
    deviation_axis: str = "Value − {offset}"
    time_axis: str = "Date (UTC)"
    moving_range: str = "Moving range"
    centre: str = "CL"
    ucl: str = "UCL"
    lcl: str = "LCL"
    plus_2: str = "+2σ"
    minus_2: str = "−2σ"
    mr_bar: str = "MR̄"
    mr_ucl: str = "UCL"
    tolerance_upper: str = "Tol +"
    tolerance_lower: str = "Tol −"
    certified: str = "Cert."
    legend_check: str = "check (±U)"
    legend_rule: str = "run rule fired"
    legend_en: str = "|En| > 1"
    legend_out: str = "beyond tolerance"
    legend_limits: str = "±3σ limits"
    legend_2sigma: str = "±2σ"
    legend_tolerance: str = "tolerance"
    legend_certified: str = "certified value ± U"
    legend_baseline: str = "baseline"
    legend_drift: str = "drift fit ± U"
    rule_names: tuple[tuple[RunRule, str], ...] = tuple((r, r.text) for r in RunRule)
    check_title: str = "{date}: {value} (U = {U})"
    summary: str = "{n} checks from {first} to {last}."
    summary_one: str = "1 check on {first}; control limits need at least 2 checks."
    summary_limits: str = ("Centre line {centre}, control limits {lcl} to {ucl} "
                           "from a baseline of {baseline} checks.")
    summary_none: str = "No run rule fired, every En is within ±1 and no check is beyond " \
                        "the tolerance."
    summary_rule: str = "Rule “{rule}”: {count} checks, last on {last}."
    summary_en: str = "|En| > 1: {count} checks, last on {last}."
    summary_out: str = "Beyond the tolerance {nominal} ± {tolerance}: {count} checks, last on " \
                       "{last}."
    summary_tolerance_outside: str = "The tolerance band {nominal} ± {tolerance} lies beyond " \
                                     "the plotted range."
    summary_drift: str = "Drift fit: {slope} per year (u = {u_slope})."

    def rule_name(self, rule: RunRule) -> str:
        return dict(self.rule_names).get(rule, rule.text)


# --- axes -------------------------------------------------------------------------------------


def _nice_step(span: float, target: int) -> float:
    raw = span / max(target, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if m * power >= raw * (1 - 1e-9):
            return m * power
    return 10 * power  # pragma: no cover - the loop always returns


def axis_ticks(lo: float, hi: float, target: int = 6) -> tuple[float, float, float]:
    """A nice (1, 2, 2.5, 5 × 10ⁿ) ``step`` for the range [lo, hi] and the first and last tick
    inside it: returns ``(first, last, step)``. ``hi > lo``."""
    step = _nice_step(hi - lo, target)
    first = math.ceil(lo / step - 1e-9) * step
    last = math.floor(hi / step + 1e-9) * step
    return first, last, step


def display_unit(unit: str, deviation: bool) -> str:
    symbol = units.unit(unit).symbol
    # A difference of Celsius temperatures is a temperature interval: kelvin, which prefixes.
    if deviation and symbol == "°C":
        return "K"
    return symbol


def engineering(values: Sequence[float], resolution: float, unit: str) -> tuple[float, str, int]:
    """Scale, unit text and decimals for printing ``values`` to ``resolution``: an SI prefix
    (or a power of ten, for units that take none) chosen in steps of 10³."""
    biggest = max((abs(v) for v in values), default=0.0)
    if biggest == 0:
        return 1.0, "" if unit == "1" else unit, 0
    power = 3 * math.floor(math.log10(biggest) / 3)
    shown = "" if unit == "1" else unit
    if shown not in _PREFIXABLE and 1e-3 <= biggest < 1e6:
        power = 0  # 0.52, 25.3 °C, 950 hPa: plain numbers read best
    if shown in _PREFIXABLE and power in _PREFIX_BY_POWER:
        text = _PREFIX_BY_POWER[power] + shown
    elif power == 0:
        text = shown
    else:
        text = f"×10{str(power).translate(_SUPERSCRIPT)} {shown}".strip()
    scale = 10.0 ** power
    decimals = max(0, -math.floor(math.log10(resolution / scale) + 1e-9)) if resolution else 0
    return scale, text, min(decimals, 12)


def _number(x: float, decimals: int) -> str:
    text = f"{x:.{decimals}f}"
    if float(text) == 0:
        text = text.lstrip("-")
    return text.replace("-", "−")


def round_value(value: float, unit: str) -> str:
    """A round value (an axis offset) with no more digits than it has: ``10 V``."""
    scale, text, _ = engineering([value], abs(value) or 1.0, display_unit(unit, False))
    return f"{value / scale:.10g} {text}".replace("-", "−").strip()


def format_value(value: float, unit: str, resolution: float | None = None) -> str:
    """``value`` in ``unit`` in engineering notation (``10.000012 V``, ``15 µV``), to
    ``resolution`` (default: 6 significant digits)."""
    shown = display_unit(unit, False)
    if resolution is None or resolution <= 0:
        resolution = abs(value) * 1e-5 if value else 1.0
    scale, text, decimals = engineering([value], resolution, shown)
    return f"{_number(value / scale, decimals)} {text}".strip()


@dataclass(frozen=True)
class DateTick:
    at: datetime
    lines: tuple[str, ...]  # one or two lines of text


_HOUR = 3600.0
_DAY = 86400.0
_SPANS: tuple[tuple[str, float], ...] = (
    ("minutes", 1), ("minutes", 2), ("minutes", 5), ("minutes", 10), ("minutes", 15),
    ("minutes", 30), ("hours", 1), ("hours", 2), ("hours", 3), ("hours", 6), ("hours", 12),
    ("days", 1), ("days", 2), ("weeks", 1), ("weeks", 2),
    ("months", 1), ("months", 2), ("months", 3), ("months", 6),
    ("years", 1), ("years", 2), ("years", 5), ("years", 10), ("years", 20), ("years", 50),
    ("years", 100),
)


def _approx_seconds(kind: str, n: float) -> float:
    return n * {"minutes": 60.0, "hours": _HOUR, "days": _DAY, "weeks": 7 * _DAY,
                "months": 30.44 * _DAY, "years": 365.25 * _DAY}[kind]


def date_ticks(start: datetime, end: datetime, target: int) -> list[DateTick]:
    """Ticks on calendar boundaries (hours, midnights, Mondays, first of the month, 1 January)
    between ``start`` and ``end`` (UTC), at most about ``target`` of them, labelled as ISO
    dates (``2026-03-02``, ``2026-03``, ``2026``; hours on two lines)."""
    span = (end - start).total_seconds()
    kind, n = _SPANS[-1]
    for kind, n in _SPANS:
        if span / _approx_seconds(kind, n) <= max(target, 1):
            break
    ticks: list[DateTick] = []
    step = int(n)
    if kind in ("minutes", "hours", "days", "weeks"):
        seconds = _approx_seconds(kind, n)
        # The epoch is a Thursday: weeks start four days later (Mondays).
        shift = 4 * _DAY if kind == "weeks" else 0.0
        t = math.ceil((_posix(start) - shift) / seconds) * seconds + shift
        while t <= _posix(end) + 1e-6:
            at = _from_posix(t)
            lines = ((at.strftime("%Y-%m-%d"), at.strftime("%H:%M"))
                     if kind in ("minutes", "hours")
                     else (at.strftime("%Y-%m-%d"),))
            ticks.append(DateTick(at, lines))
            t += seconds
    elif kind == "months":
        year, month = start.year, start.month
        while True:
            at = datetime(year, month, 1, tzinfo=UTC)
            if at > end:
                break
            if at >= start and (month - 1) % step == 0:
                ticks.append(DateTick(at, (at.strftime("%Y-%m"),)))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    else:
        year = start.year
        while year <= min(end.year, 9999):
            at = datetime(year, 1, 1, tzinfo=UTC)
            if at >= start and year % step == 0:
                ticks.append(DateTick(at, (str(year),)))
            year += 1
    return ticks


# --- shapes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    colour: RGB = INK
    width: float = 1.0
    dash: tuple[float, ...] = ()
    role: str = ""  # what it is ("ucl", "centre", "tick" ...): the SVG's class, tests' handle


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    fill: RGB | None = None
    stroke: RGB | None = None
    opacity: float = 1.0
    role: str = ""


@dataclass(frozen=True)
class Band:
    """A horizontal or vertical filled area (tolerance band, baseline period)."""

    x: float
    y: float
    w: float
    h: float
    fill: RGB
    opacity: float
    role: str


@dataclass(frozen=True)
class Polygon:
    points: tuple[tuple[float, float], ...]
    fill: RGB
    opacity: float
    role: str


@dataclass(frozen=True)
class Label:
    """Text with its baseline at ``y``; ``anchor`` start, middle or end."""

    x: float
    y: float
    text: str
    size: float = 11.0
    anchor: str = "start"
    colour: RGB = INK
    bold: bool = False
    role: str = ""


@dataclass(frozen=True)
class Marker:
    """A check (``panel`` "value") or a moving range ("mr") at (x, y). ``shape`` circle,
    diamond, triangle or square; ``codes`` what fired there (run rule codes, ``en``,
    ``out_of_tolerance``); ``title`` what a pointer shows; ``bar`` the ±U error bar's y
    ends (value panel)."""

    x: float
    y: float
    shape: str
    size: float
    colour: RGB
    panel: str
    index: int
    codes: tuple[str, ...]
    title: str
    bar: tuple[float, float] | None = None


Shape = Line | Rect | Band | Polygon | Label | Marker


@dataclass(frozen=True)
class Panel:
    """A plotting area and its scales: value ``lo``..``hi`` maps to ``bottom``..``top``."""

    left: float
    top: float
    right: float
    bottom: float
    lo: float
    hi: float

    def y(self, value: float) -> float:
        return self.bottom - (value - self.lo) / (self.hi - self.lo) * (self.bottom - self.top)


@dataclass(frozen=True)
class ChartLayout:
    """The chart, ready to draw: its size, shapes in drawing order, the two panels and the
    time scale (``t0``..``t1`` POSIX seconds over the panels' width), the accessible title
    and description."""

    width: float
    height: float
    title: str
    description: str
    shapes: tuple[Shape, ...]
    value_panel: Panel
    mr_panel: Panel
    t0: float
    t1: float
    offset: float | None
    axis_unit: str

    def x(self, t: datetime) -> float:
        p = self.value_panel
        return p.left + (_posix(t) - self.t0) / (self.t1 - self.t0) * (p.right - p.left)


# --- layout -----------------------------------------------------------------------------------

TEXT_W = 0.58  # average glyph advance as a fraction of the font size (sans-serif, digits)


def _text_width(text: str, size: float) -> float:
    # Chinese characters take a full em; Latin letters and digits about 0.58 of one.
    return sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else TEXT_W
               for ch in text) * size


def _value_range(data: ControlChartData) -> tuple[float, float, bool]:
    """The value panel's range and whether the tolerance band's edges are inside it."""
    vals = list(data.values)
    vals += [v + s * data.k * u for v, u in zip(data.values, data.u, strict=True)
             for s in (-1, 1)]
    if data.limits is not None:
        vals += [data.limits.ucl, data.limits.lcl]
    vals += [data.certified_value - data.certified_U, data.certified_value + data.certified_U]
    if data.drift is not None:
        for t in (data.times[0], data.times[-1]):
            v, u = data.drift.predict(_posix(t))
            vals += [float(v) - data.k * float(u), float(v) + data.k * float(u)]
    lo, hi = min(vals), max(vals)
    tol_lo, tol_hi = data.nominal - data.tolerance, data.nominal + data.tolerance
    wide_lo, wide_hi = min(lo, tol_lo), max(hi, tol_hi)
    span = hi - lo
    # The tolerance is shown when it does not squash the checks into a few pixels.
    show_tolerance = span > 0 and (wide_hi - wide_lo) <= 3 * span
    if show_tolerance:
        lo, hi = wide_lo, wide_hi
    span = hi - lo
    if span <= abs(max(abs(lo), abs(hi))) * 1e-12 or span == 0:
        # Every value the same (or nearly): a range from the uncertainty, else the magnitude.
        half = max(max(data.u) * data.k, abs(hi) * 1e-6, 1e-30)
        lo, hi = lo - half, hi + half
        span = hi - lo
    return lo - 0.06 * span, hi + 0.06 * span, show_tolerance


def _offset_for(lo: float, hi: float, step: float) -> tuple[float, float] | None:
    """A round value subtracted from every tick when the ticks would need more than six
    significant digits (10.000 005 V reads "+5 µV" from 10 V), with the power of ten it is
    rounded to."""
    big = max(abs(lo), abs(hi))
    if big == 0 or step <= 0 or big / step < 1e5:
        return None
    q = 10.0 ** math.ceil(math.log10((hi - lo) * 100))
    return round(((lo + hi) / 2) / q) * q, q


def _spread(ys: list[float], gap: float) -> list[float]:
    """Label positions pushed apart to at least ``gap`` (order kept)."""
    order = sorted(range(len(ys)), key=lambda i: ys[i])
    placed = [ys[i] for i in order]
    for j in range(1, len(placed)):
        placed[j] = max(placed[j], placed[j - 1] + gap)
    out = [0.0] * len(ys)
    for j, i in enumerate(order):
        out[i] = placed[j]
    return out


def _runs(mask: Sequence[bool]) -> list[tuple[int, int]]:
    runs, start = [], None
    for i, b in enumerate([*mask, False]):
        if b and start is None:
            start = i
        elif not b and start is not None:
            runs.append((start, i - 1))
            start = None
    return runs


@dataclass
class _Builder:
    shapes: list[Shape] = field(default_factory=list)

    def add(self, *shapes: Shape) -> None:
        self.shapes.extend(shapes)


def layout_chart(data: ControlChartData, *, width: float = 720, height: float = 440,
                 labels: ChartLabels | None = None) -> ChartLayout:
    """Lay out ``data`` as an individuals chart above its moving-range chart in a
    ``width`` × ``height`` box (user units; >= 360 × 260)."""
    if not isinstance(data, ControlChartData):
        raise ValidationError("data", data, "a ControlChartData")
    w = _finite("width", width, positive=True)
    h = _finite("height", height, positive=True)
    if w < 360 or h < 260 or w > 10000 or h > 10000:
        raise ValidationError("width" if not 360 <= w <= 10000 else "height",
                              width if not 360 <= w <= 10000 else height,
                              "width 360 to 10000 and height 260 to 10000 user units")
    lab = labels or ChartLabels()
    b = _Builder()
    fs = 11.0  # font size of ticks and labels

    # Value scale and ticks first: the left margin depends on the tick labels' width.
    lo, hi, show_tol = _value_range(data)
    first, last, step = axis_ticks(lo, hi, 6)
    rounded = _offset_for(lo, hi, step)
    offset = rounded[0] if rounded is not None else None
    deviation = offset is not None
    shown_unit = display_unit(data.unit, deviation)
    ticks = [first + i * step for i in range(round((last - first) / step) + 1)]
    ref = offset or 0.0
    scale, unit_text, decimals = engineering([t - ref for t in ticks], step, shown_unit)
    tick_text = [_number((t - ref) / scale, decimals) for t in ticks]
    if deviation:
        tick_text = [s if s.startswith("−") or float(s.replace("−", "-")) == 0 else "+" + s
                     for s in tick_text]
    tick_text = [f"{s} {unit_text}".strip() for s in tick_text]
    left = 14 + max(_text_width(s, fs) for s in tick_text) + 8
    # Room on the right for the names of the horizontal lines, in the labels' language.
    names = [lab.ucl, lab.lcl, lab.centre, lab.plus_2, lab.minus_2, lab.certified, lab.mr_bar,
             lab.mr_ucl, lab.tolerance_upper, lab.tolerance_lower]
    right = w - 12 - max(36.0, max(_text_width(t, fs - 1) for t in names))
    # Title, legend, then the panels.
    b.add(Label(left, 20, data.title, 14, bold=True, role="title"))
    legend_y = _legend(b, data, lab, left, right, 38, fs, show_tol)
    top = legend_y + 22
    # Time scale (its tick labels decide the room under the panels).
    t_first, t_last = _posix(data.times[0]), _posix(data.times[-1])
    if data.n == 1:  # a day either side: the date reads at once
        t0, t1 = t_first - _DAY, t_first + _DAY
    else:
        pad = max(0.03 * (t_last - t_first), 30.0)
        t0, t1 = t_first - pad, t_last + pad
    time_ticks = date_ticks(_from_posix(t0), _from_posix(t1), max(2, int((right - left) // 95)))
    tick_lines = max((len(t.lines) for t in time_ticks), default=1)
    date_room = 20 + tick_lines * (fs + 1) + 4
    mr_h = max(50.0, (h - top - date_room) * 0.24)
    gap = 30.0
    value_bottom = h - date_room - mr_h - gap
    if value_bottom - top < 80:
        raise ValidationError("height", height, f"at least {height + 80 - (value_bottom - top):.0f}"
                              " user units for this chart's legend and panels")
    vp = Panel(left, top, right, value_bottom, lo, hi)

    def xt(t: float) -> float:
        return left + (t - t0) / (t1 - t0) * (right - left)

    # Baseline shading behind everything.
    if data.limits is not None:
        for a, z in _runs([bool(m) for m in data.limits.baseline]):
            xa = xt(_posix(data.times[a])) - 4
            xz = xt(_posix(data.times[z])) + 4
            b.add(Band(xa, vp.top, xz - xa, vp.bottom - vp.top, BASELINE_FILL, 1.0, "baseline"))
            b.add(Label((xa + xz) / 2, vp.top + fs + 2, lab.legend_baseline, fs - 1,
                        "middle", SIGMA2, role="baseline-label"))
    # Tolerance band.
    tol_lo, tol_hi = data.nominal - data.tolerance, data.nominal + data.tolerance
    if show_tol:
        b.add(Band(left, vp.y(tol_hi), right - left, vp.y(tol_lo) - vp.y(tol_hi),
                   TOLERANCE_FILL, 0.45, "tolerance"))
    # Grid and value ticks.
    for t, s in zip(ticks, tick_text, strict=True):
        y = vp.y(t)
        b.add(Line(left, y, right, y, GRID, 0.6, role="grid"),
              Line(left - 4, y, left, y, INK, 1, role="tick"),
              Label(left - 7, y + fs * 0.35, s, fs, "end", role="value-tick"))
    axis_title = (lab.deviation_axis.format(offset=round_value(rounded[0], data.unit))
                  if rounded is not None else lab.value_axis)
    b.add(Label(left - 7, top - 8, axis_title, fs, "start" if left < 120 else "end",
                role="value-axis"))
    # Horizontal reference lines, labelled at the right edge (labels pushed apart).
    refs: list[tuple[float, str, RGB, float, tuple[float, ...], str]] = []
    if show_tol:
        refs += [(tol_hi, lab.tolerance_upper, TOLERANCE, 1.2, (8, 3, 2, 3), "tolerance-upper"),
                 (tol_lo, lab.tolerance_lower, TOLERANCE, 1.2, (8, 3, 2, 3), "tolerance-lower")]
    cv, cu = data.certified_value, data.certified_U
    refs.append((cv, lab.certified, CERTIFIED, 1.0, (2, 3), "certified"))
    if cu > 0:
        refs += [(cv + cu, "", CERTIFIED, 0.6, (2, 3), "certified-U"),
                 (cv - cu, "", CERTIFIED, 0.6, (2, 3), "certified-U")]
    if data.limits is not None:
        lim = data.limits
        refs += [(lim.ucl, lab.ucl, SIGMA3, 1.4, (), "ucl"),
                 (lim.lcl, lab.lcl, SIGMA3, 1.4, (), "lcl"),
                 (lim.upper_2, lab.plus_2, SIGMA2, 1.0, (5, 4), "upper-2"),
                 (lim.lower_2, lab.minus_2, SIGMA2, 1.0, (5, 4), "lower-2"),
                 (lim.centre, lab.centre, ACCENT, 1.4, (), "centre")]
    named = [r for r in refs if r[1]]
    label_y = _spread([vp.y(r[0]) + fs * 0.35 for r in named], fs + 1)
    for value, _text, colour, lw, dash, role in refs:
        y = vp.y(value)
        b.add(Line(left, y, right, y, colour, lw, dash, role=role))
    for (_value, text, colour, _lw, _dash, role), y in zip(named, label_y, strict=True):
        b.add(Label(right + 5, y, text, fs - 1, colour=colour, role=f"{role}-label"))
    # Drift line and its ±k·u band.
    if data.drift is not None:
        ts = np.linspace(t0, t1, 25)
        v, u = data.drift.predict(ts)
        va, ua = np.atleast_1d(v), np.atleast_1d(u)
        upper = [(xt(float(t)), vp.y(float(a + data.k * s))) for t, a, s in zip(ts, va, ua,
                                                                               strict=True)]
        lower = [(xt(float(t)), vp.y(float(a - data.k * s))) for t, a, s in zip(ts, va, ua,
                                                                               strict=True)]
        b.add(Polygon(tuple(upper + lower[::-1]), DRIFT_FILL, 0.6, "drift-band"),
              Line(xt(t0), vp.y(float(va[0])), xt(t1), vp.y(float(va[-1])), DRIFT, 1.4,
                   (10, 4), role="drift"))
    # Panel frames.
    b.add(Rect(left, vp.top, right - left, vp.bottom - vp.top, stroke=INK, role="frame"))

    # Checks. Codes above flagged points only while there is room for them (the shapes and
    # each point's title still say it on a dense chart).
    res = step / 10
    dense_ok = data.n < 2 or (right - left) / (data.n - 1) >= 14
    last_code: tuple[float, float] | None = None  # right end and baseline of the last code
    for i in range(data.n):
        when = data.times[i]
        x, y = xt(_posix(when)), vp.y(data.values[i])
        codes = [r.code for r in RunRule if r in data.rules[i]]
        if data.en_failed(i):
            codes.append("en")
        if data.beyond_tolerance(i):
            codes.append("out_of_tolerance")
        if data.beyond_tolerance(i):
            shape, colour, size = "square", OUT, 5.5
        elif data.rules[i]:
            shape, colour, size = "diamond", RULE, 6.0
        elif data.en_failed(i):
            shape, colour, size = "triangle", EN_FAIL, 6.0
        else:
            shape, colour, size = "circle", ACCENT, 3.4
        U = data.k * data.u[i]
        title = lab.check_title.format(date=when.strftime("%Y-%m-%d %H:%M"),
                                       value=format_value(data.values[i], data.unit, res),
                                       U=format_value(U, data.unit, _resolution_of(U)))
        reasons = [lab.rule_name(r) for r in RunRule if r in data.rules[i]]
        if data.en_failed(i) and data.en is not None:
            reasons.append(f"En = {data.en[i]:.2f}")
        if data.beyond_tolerance(i):
            reasons.append(lab.legend_out)
        if reasons:
            title += " — " + "; ".join(reasons)
        bar = (vp.y(data.values[i] + U), vp.y(data.values[i] - U))
        b.add(Marker(x, y, shape, size, colour, "value", i, tuple(codes), title, bar))
        # One code above the point, the gravest (all of them are in its title and data-rules):
        # a code per rule would pile up along a drifting series.
        short = ["Tol"] if data.beyond_tolerance(i) else []
        short += [RULE_SHORT[r] for r in RunRule if r in data.rules[i]]
        if data.en_failed(i):
            short.append("En")
        if short and dense_ok:
            text = short[0] + ("+" if len(short) > 1 else "")
            ly = min(y, bar[0]) - 5
            half = _text_width(text, fs - 2) / 2
            # A code that would overlap its left neighbour's goes up a line.
            if (last_code is not None and x - half < last_code[0] + 2
                    and abs(ly - last_code[1]) < fs - 1):
                ly = last_code[1] - (fs - 1)
            b.add(Label(x, ly, text, fs - 2, "middle", colour, role="flag-code"))
            last_code = (x + half, ly)

    # Moving-range panel.
    mr = data.moving_ranges()
    mr_top = value_bottom + gap
    mr_hi_val = max([*mr, data.limits.mr_ucl if data.limits is not None else 0.0])
    if mr_hi_val <= 0:
        mr_hi_val = max(max(data.u) * data.k, 1e-30)
    mp = Panel(left, mr_top, right, mr_top + mr_h, 0.0, mr_hi_val * 1.12)
    m_first, m_last, m_step = axis_ticks(0.0, mp.hi, 3)
    m_ticks = [m_first + i * m_step for i in range(round((m_last - m_first) / m_step) + 1)]
    m_scale, m_unit, m_dec = engineering(m_ticks, m_step, display_unit(data.unit, True))
    for t in m_ticks:
        y = mp.y(t)
        b.add(Line(left, y, right, y, GRID, 0.6, role="grid"),
              Line(left - 4, y, left, y, INK, 1, role="tick"),
              Label(left - 7, y + fs * 0.35, f"{_number(t / m_scale, m_dec)} {m_unit}".strip(),
                    fs, "end", role="mr-tick"))
    b.add(Label(left - 7, mr_top - 8, lab.moving_range, fs, "start" if left < 120 else "end",
                role="mr-axis"))
    if data.limits is not None:
        mr_refs = [(data.limits.mr_ucl, lab.mr_ucl, SIGMA3, 1.4, (), "mr-ucl"),
                   (data.limits.mr_bar, lab.mr_bar, ACCENT, 1.2, (), "mr-bar")]
        ys = _spread([mp.y(r[0]) + fs * 0.35 for r in mr_refs], fs + 1)
        for (value, text, colour, lw, dash, role), ly in zip(mr_refs, ys, strict=True):
            b.add(Line(left, mp.y(value), right, mp.y(value), colour, lw, dash, role=role),
                  Label(right + 5, ly, text, fs - 1, colour=colour, role=f"{role}-label"))
    b.add(Rect(left, mp.top, right - left, mp.bottom - mp.top, stroke=INK, role="frame"))
    prev: tuple[float, float] | None = None
    mr_points = []
    for i, r in enumerate(mr, start=1):
        x, y = xt(_posix(data.times[i])), mp.y(r)
        if prev is not None:
            b.add(Line(prev[0], prev[1], x, y, SIGMA2, 0.8, role="mr-path"))
        prev = (x, y)
        fired = RunRule.MOVING_RANGE in data.rules[i]
        mr_points.append(Marker(
            x, y, "diamond" if fired else "circle", 5.0 if fired else 2.6,
            RULE if fired else ACCENT, "mr", i, (RunRule.MOVING_RANGE.code,) if fired else (),
            f"{data.times[i].strftime('%Y-%m-%d %H:%M')}: MR = "
            f"{format_value(r, display_unit(data.unit, True), _resolution_of(r))}"))
    b.add(*mr_points)

    # Time axis under both panels; labels under the moving-range panel only.
    for tick in time_ticks:
        x = xt(_posix(tick.at))
        for panel in (vp, mp):
            b.add(Line(x, panel.top, x, panel.bottom, GRID, 0.6, role="grid"),
                  Line(x, panel.bottom, x, panel.bottom + 4, INK, 1, role="tick"))
        for k, line in enumerate(tick.lines):
            b.add(Label(x, mp.bottom + 16 + k * (fs + 1), line, fs, "middle",
                        role="date-tick"))
    b.add(Label(right, h - 4, lab.time_axis, fs - 1, "end", SIGMA2, role="time-axis"))
    # The checks' path in the value panel goes under the markers: insert it before them.
    path = [Line(xt(_posix(data.times[i - 1])), vp.y(data.values[i - 1]),
                 xt(_posix(data.times[i])), vp.y(data.values[i]), SIGMA2, 0.8, role="path")
            for i in range(1, data.n)]
    first_marker = next(j for j, s in enumerate(b.shapes)
                        if isinstance(s, Marker) and s.panel == "value")
    b.shapes[first_marker:first_marker] = path

    return ChartLayout(width=w, height=h, title=data.title,
                       description=describe(data, lab, show_tol),
                       shapes=tuple(b.shapes), value_panel=vp, mr_panel=mp, t0=t0, t1=t1,
                       offset=offset, axis_unit=unit_text)


def _resolution_of(x: float) -> float:
    """Three significant digits of ``x``."""
    return 10.0 ** (math.floor(math.log10(abs(x))) - 2) if x else 1.0


def _legend(b: _Builder, data: ControlChartData, lab: ChartLabels, left: float, right: float,
            y: float, fs: float, show_tol: bool) -> float:
    """The legend's rows from ``y``; returns the y of the last row."""
    items: list[tuple[str, str, RGB, tuple[float, ...]]] = [
        ("circle", lab.legend_check, ACCENT, ())]
    # A shape is explained only if some check is drawn with it (the gravest finding wins).
    if any(data.rules[i] and not data.beyond_tolerance(i) for i in range(data.n)):
        items.append(("diamond", lab.legend_rule, RULE, ()))
    if any(data.en_failed(i) and not data.rules[i] and not data.beyond_tolerance(i)
           for i in range(data.n)):
        items.append(("triangle", lab.legend_en, EN_FAIL, ()))
    if any(data.beyond_tolerance(i) for i in range(data.n)):
        items.append(("square", lab.legend_out, OUT, ()))
    if data.limits is not None:
        items += [("line", lab.legend_limits, SIGMA3, ()), ("line", lab.legend_2sigma, SIGMA2,
                                                            (5, 4))]
    if show_tol:
        items.append(("line", lab.legend_tolerance, TOLERANCE, (8, 3, 2, 3)))
    items.append(("line", lab.legend_certified, CERTIFIED, (2, 3)))
    if data.limits is not None:
        items.append(("band", lab.legend_baseline, BASELINE_FILL, ()))
    if data.drift is not None:
        items.append(("line", lab.legend_drift, DRIFT, (10, 4)))
    x, size = left, fs - 1
    for shape, text, colour, dash in items:
        item_w = 22 + _text_width(text, size) + 14
        if x + item_w > right + 40 and x > left:
            x, y = left, y + size + 6
        if shape == "line":
            b.add(Line(x, y - size * 0.35, x + 18, y - size * 0.35, colour, 1.6, dash,
                       role="legend"))
        elif shape == "band":
            b.add(Rect(x, y - size * 0.8, 18, size, fill=colour, stroke=SIGMA2, role="legend"))
        else:
            b.add(Marker(x + 9, y - size * 0.35, shape, 4.2 if shape != "circle" else 3.4,
                         colour, "legend", -1, (), text))
        b.add(Label(x + 22, y, text, size, role="legend"))
        x += item_w
    return y


def _dates(data: ControlChartData, idx: Sequence[int]) -> str:
    return data.times[idx[-1]].strftime("%Y-%m-%d")


def describe(data: ControlChartData, lab: ChartLabels, show_tolerance: bool = True) -> str:
    """The findings in words (the SVG's ``<desc>``, the report's summary)."""
    first = data.times[0].strftime("%Y-%m-%d")
    last = data.times[-1].strftime("%Y-%m-%d")
    parts: list[str] = []
    if data.n == 1 or data.limits is None:
        parts.append(lab.summary_one.format(first=first) if data.n == 1 else
                     lab.summary.format(n=data.n, first=first, last=last))
    else:
        parts.append(lab.summary.format(n=data.n, first=first, last=last))
        lim = data.limits
        # Two significant digits of σ̂ (of U when every check is the same).
        res = 10 * _resolution_of(lim.sigma or data.k * max(data.u))
        parts.append(lab.summary_limits.format(
            centre=format_value(lim.centre, data.unit, res),
            lcl=format_value(lim.lcl, data.unit, res), ucl=format_value(lim.ucl, data.unit, res),
            baseline=lim.n_baseline))
    flagged = False
    for rule in RunRule:
        idx = [i for i in range(data.n) if rule in data.rules[i]]
        if idx:
            flagged = True
            parts.append(lab.summary_rule.format(rule=lab.rule_name(rule), count=len(idx),
                                                 last=_dates(data, idx)))
    en_idx = [i for i in range(data.n) if data.en_failed(i)]
    if en_idx:
        flagged = True
        parts.append(lab.summary_en.format(count=len(en_idx), last=_dates(data, en_idx)))
    tol = dict(nominal=round_value(data.nominal, data.unit),
               tolerance=round_value(data.tolerance, data.unit))
    out_idx = [i for i in range(data.n) if data.beyond_tolerance(i)]
    if out_idx:
        flagged = True
        parts.append(lab.summary_out.format(count=len(out_idx), last=_dates(data, out_idx),
                                            **tol))
    if not flagged:
        parts.append(lab.summary_none)
    if not show_tolerance:
        parts.append(lab.summary_tolerance_outside.format(**tol))
    if data.drift is not None:
        year = 365.25 * _DAY
        slope, u_slope = data.drift.slope * year, data.drift.u_slope * year
        unit = display_unit(data.unit, True)
        parts.append(lab.summary_drift.format(
            slope=format_value(slope, unit, _resolution_of(u_slope or slope or 1.0)),
            u_slope=format_value(u_slope, unit, _resolution_of(u_slope or 1.0))))
    return " ".join(parts)
