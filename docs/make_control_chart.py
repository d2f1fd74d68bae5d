"""Draw the README's control chart: real output of labctl on a simulated drifting calibrator.

A calibrator's 10 V output is checked weekly with a DMM after its calibration. Its gain drifts
as the simulated bench makes it drift (:class:`simulators.drift.Drift`, the model the 5522A
simulator uses: steady at first, then 0.12 ppm a week from week 20); the DMM's reading adds
seeded noise of the checks' standard uncertainty. The series goes through the engine
(``labctl.uncertainty.control``: ``evaluate_checks``, ``drift_fit``) and the chart is the
portal's own SVG (``labctl.platform.documents.chart_svg.control_chart_svg``).

Run ``python docs/make_control_chart.py`` to rewrite ``docs/img/control_chart.svg``;
``tests/documents/test_readme_chart.py`` regenerates it and fails when the committed file
differs, so the picture cannot go stale.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from labctl.platform.documents.chart import ControlChartData
from labctl.platform.documents.chart_svg import control_chart_svg
from labctl.uncertainty.control import drift_fit, evaluate_checks
from simulators.drift import Drift

OUTPUT = Path(__file__).resolve().parent / "img" / "control_chart.svg"

CALIBRATED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # the last calibration
NOMINAL = 10.0  # V
CERTIFIED = 10.000008  # V, the output's value on the certificate
CERTIFIED_U = 4e-6  # V (k = 2)
TOLERANCE = 20e-6  # V, ± about the nominal value
U_CHECK = 0.8e-6  # V, standard uncertainty of one check
WEEK = 7 * 86400.0
CHECKS = 32
BASELINE = (0, 12)  # the first 12 checks set the limits
SEED = 2026


def checks() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Times (POSIX s), values (V) and standard uncertainties (V) of the weekly checks."""
    t_cal = CALIBRATED.timestamp()
    times = t_cal + WEEK * (1 + np.arange(CHECKS))
    drift = Drift(unit="1")
    drift.set(now=t_cal + 20 * WEEK, rate=0.12e-6 / WEEK)
    rng = np.random.default_rng(SEED)
    values = np.array([CERTIFIED * (1 + drift.value(float(t))) for t in times])
    values += rng.normal(0.0, U_CHECK, CHECKS)
    return times, values, np.full(CHECKS, U_CHECK)


def chart_data() -> ControlChartData:
    times, values, u = checks()
    evaluation = evaluate_checks(times, values, u, CERTIFIED, CERTIFIED_U, TOLERANCE, BASELINE,
                                 nominal=NOMINAL)
    fit = drift_fit(times, values, u, CALIBRATED.timestamp())
    return ControlChartData.from_evaluation(
        evaluation, title="Calibrator LAB-CAL-01, 10 V DC: weekly checks", unit="V", u=u,
        certified_value=CERTIFIED, certified_U=CERTIFIED_U, tolerance=TOLERANCE,
        nominal=NOMINAL, drift=fit)


def make_chart() -> str:
    """The SVG text of the README's chart."""
    return control_chart_svg(chart_data(), width=760, height=460, chart_id="readme-chart")


def main() -> int:
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(make_chart(), encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
