"""Series of intermediate checks for the chart and check-report tests, evaluated by the
engine (:mod:`labctl.uncertainty.control`) as the platform evaluates them.

A 10 V calibrator output checked weekly against a DMM: 12 baseline checks in control, then the
output drifts up (1.2 µV per week) until the 3σ limit, the run and trend rules and finally the
tolerance fire. Seeded, so every test sees the same series.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from labctl.platform.documents.chart import ControlChartData
from labctl.uncertainty.control import CheckEvaluation, drift_fit, evaluate_checks

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
WEEK = 7 * 86400.0
NOMINAL = 10.0
CERTIFIED = 10.000008
CERTIFIED_U = 4e-6
TOLERANCE = 20e-6
U = 0.8e-6


def drifting_series(n: int = 32, *, seed: int = 1, drift_from: int = 20,
                    rate: float = 1.2e-6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Times (POSIX s), values (V) and u (V) of ``n`` weekly checks, drifting after
    ``drift_from`` by ``rate`` V per week."""
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    t = START.timestamp() + i * WEEK
    x = CERTIFIED + rng.normal(0, 1e-6, n) + np.where(i > drift_from, (i - drift_from) * rate,
                                                      0.0)
    return t, x, np.full(n, U)


def evaluated(n: int = 32, **kw: float) -> tuple[CheckEvaluation, ControlChartData]:
    t, x, u = drifting_series(n, **kw)  # type: ignore[arg-type]
    ev = evaluate_checks(t, x, u, CERTIFIED, CERTIFIED_U, TOLERANCE, (0, min(12, n)),
                         nominal=NOMINAL)
    fit = drift_fit(t, x, u, START.timestamp() - 4 * WEEK)
    data = ControlChartData.from_evaluation(
        ev, title="LAB-CAL-01 · DC voltage 10 V", unit="V", u=u, certified_value=CERTIFIED,
        certified_U=CERTIFIED_U, tolerance=TOLERANCE, nominal=NOMINAL, drift=fit)
    return ev, data
