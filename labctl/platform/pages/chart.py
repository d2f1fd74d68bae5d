"""The control chart on the pages: its words in the page's language.

The chart itself is drawn below the pages (:mod:`labctl.platform.documents.chart_svg`, shared
with the PDF check report and the CLI); the pages only hand it a
:class:`~labctl.platform.documents.chart.ChartLabels` in the reader's language, from the
catalogue (``locale/zh/charts.po``), and put the SVG inline (no script, no style attribute).
Numbers, units and dates are not translated: ISO dates and SI symbols read the same in both.
"""

from __future__ import annotations

from markupsafe import Markup

from labctl.platform.documents.chart import ChartLabels, ControlChartData
from labctl.platform.documents.chart_svg import control_chart_svg
from labctl.platform.pages.render import translator
from labctl.uncertainty.control import RunRule

__all__ = ["chart_labels", "control_chart"]


def chart_labels(language: str) -> ChartLabels:
    """Every word of the chart in ``language`` (English for a language without a catalogue)."""
    _ = translator(language)
    rule_names = {
        RunRule.BEYOND_3_SIGMA: _("one point beyond the 3σ control limits"),
        RunRule.TWO_OF_THREE_BEYOND_2_SIGMA: _(
            "2 of 3 consecutive points beyond 2σ on the same side"),
        RunRule.RUN: _("a run of consecutive points on one side of the centre line "
                       "(8 by default)"),
        RunRule.TREND: _("consecutive points steadily increasing or decreasing (6 by default)"),
        RunRule.MOVING_RANGE: _("a moving range above the moving-range chart's upper limit "
                                "(D4·MR̄)"),
    }
    return ChartLabels(
        value_axis=_("Value"),
        deviation_axis=_("Value − {offset}"),
        time_axis=_("Date (UTC)"),
        moving_range=_("Moving range"),
        centre=_("CL"),
        ucl=_("UCL"),
        lcl=_("LCL"),
        mr_ucl=_("UCL"),
        tolerance_upper=_("Tol +"),
        tolerance_lower=_("Tol −"),
        certified=_("Cert."),
        legend_check=_("check (±U)"),
        legend_rule=_("run rule fired"),
        legend_out=_("beyond tolerance"),
        legend_limits=_("±3σ limits"),
        legend_tolerance=_("tolerance"),
        legend_certified=_("certified value ± U"),
        legend_baseline=_("baseline"),
        legend_drift=_("drift fit ± U"),
        rule_names=tuple(rule_names.items()),
        check_title=_("{date}: {value} (U = {U})"),
        summary=_("{n} checks from {first} to {last}."),
        summary_one=_("1 check on {first}; control limits need at least 2 checks."),
        summary_limits=_("Centre line {centre}, control limits {lcl} to {ucl} from a baseline "
                         "of {baseline} checks."),
        summary_none=_("No run rule fired, every En is within ±1 and no check is beyond the "
                       "tolerance."),
        summary_rule=_("Rule “{rule}”: {count} checks, last on {last}."),
        summary_en=_("|En| > 1: {count} checks, last on {last}."),
        summary_out=_("Beyond the tolerance {nominal} ± {tolerance}: {count} checks, last on "
                      "{last}."),
        summary_tolerance_outside=_("The tolerance band {nominal} ± {tolerance} lies beyond the "
                                    "plotted range."),
        summary_drift=_("Drift fit: {slope} per year (u = {u_slope})."),
    )


def control_chart(data: ControlChartData, language: str, *, chart_id: str = "control-chart",
                  width: float = 720, height: float = 440) -> Markup:
    """The chart as inline SVG for a template (``{{ chart }}``), its words in ``language``.
    The SVG's text is escaped by the renderer, so it is safe to mark as markup."""
    return Markup(control_chart_svg(data, width=width, height=height,
                                    labels=chart_labels(language), chart_id=chart_id))
