"""Intermediate checks of a standard: control chart, run rules, En test, tolerance, drift.

A laboratory shows that a standard stays fit between calibrations by checking it on a
schedule (ISO/IEC 17025 6.4.10) and charting the checks. This module is the statistics of
that, pure functions on arrays:

* :func:`individuals_chart` — the individuals / moving-range chart of ISO 7870-2 (Shewhart):
  centre line X̄ and mean moving range MR̄ (span 2) from a baseline period, σ̂ = MR̄/d₂,
  limits X̄ ± 3σ̂ (zones at 2σ̂ and 1σ̂), moving-range limit D₄·MR̄ (lower limit 0).
* :func:`run_rules` — the run rules of issue 12 (:class:`RunRule`), vectorized over the
  whole series: a point beyond 3σ̂, 2 of 3 beyond 2σ̂ on one side, a run on one side of the
  centre line (8 by default), 6 steadily increasing or decreasing, a moving range beyond its
  limit. Each returns the indices of the points where it fires.
* En of each check against the certified value is the comparison module's
  :func:`~labctl.uncertainty.comparison.en_numbers` (one formula, one owner).
* :func:`beyond_tolerance` — a check outside the standard's tolerance (± limit about its
  nominal value).
* :func:`evaluate_checks` — all of the above on one series of checks, with the outcome
  (:class:`CheckOutcome`) and the last good check before the first signal.
* :func:`drift_fit` / :func:`drift_term` / :func:`choose_drift_term` — the drift since the
  last calibration as a weighted straight line (:func:`~labctl.uncertainty.curve_fit`), the
  budget term it gives, and whether it or the stated-accuracy allowance is better supported.

Times are float seconds (any epoch; the project's convention for time everywhere), values in
the unit of the checked quantity. Points are in time order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

from labctl.errors import UncertaintyInputError
from labctl.uncertainty._model import reject_unknown
from labctl.uncertainty.comparison import Scores, en_numbers
from labctl.uncertainty.distributions import Normal, Rectangular
from labctl.uncertainty.leastsquares import CurveFit, curve_fit

__all__ = [
    "D2",
    "D4",
    "CheckEvaluation",
    "CheckOutcome",
    "ControlLimits",
    "DriftChoice",
    "DriftFit",
    "DriftSource",
    "RunRule",
    "allowance_term",
    "beyond_tolerance",
    "choose_drift_term",
    "drift_fit",
    "drift_term",
    "evaluate_checks",
    "individuals_chart",
    "run_rules",
]

Array = NDArray[np.float64]
Indices = NDArray[np.intp]
Mask = NDArray[np.bool_]

#: d₂ for subgroups of 2 (a moving range of span 2): E(range)/σ of two normal values.
#: ISO 7870-2 Table 2; NIST/SEMATECH e-Handbook 6.3.2.1 table, n = 2.
D2 = 1.128
#: D₄ for subgroups of 2: the moving-range chart's upper limit is D₄·MR̄ (D₃ = 0: lower 0).
D4 = 3.267

#: A baseline: ``None`` (every point), a ``slice``/``range`` of indices, a ``(start, stop)``
#: pair (stop excluded, as in Python), or a boolean mask with one entry per point.
Baseline: TypeAlias = slice | range | tuple[int, int] | ArrayLike | None


class RunRule(StrEnum):
    """The run rules evaluated on a chart (Western Electric / Nelson tests as issue 12 lists
    them). The value is a stable code for storage and APIs; :attr:`text` says it in words.

    ``RUN`` fires on the ``run_length``-th consecutive point on one side of the centre line
    (8 by default as the issue says, as in the Western Electric rules; Nelson's tests
    (1984) and ISO 7870-2 in some editions use 9: pass ``run_length=9`` for that). A point
    exactly on the centre line ends a run.
    ``TREND`` fires on the ``trend_length``-th point (6 by default) of a series steadily
    increasing or decreasing; two equal consecutive values end a trend.
    """

    BEYOND_3_SIGMA = "beyond_3_sigma"
    TWO_OF_THREE_BEYOND_2_SIGMA = "two_of_three_beyond_2_sigma"
    RUN = "run_one_side"
    TREND = "trend"
    MOVING_RANGE = "moving_range_beyond_limit"

    @property
    def code(self) -> str:
        """The stable code (the enum's value)."""
        return self.value

    @property
    def text(self) -> str:
        """What the rule means, for people (reports, the portal, the runner's warning)."""
        return _RULE_TEXT[self]


_RULE_TEXT: dict[RunRule, str] = {
    RunRule.BEYOND_3_SIGMA: "one point beyond the 3σ control limits",
    RunRule.TWO_OF_THREE_BEYOND_2_SIGMA: "2 of 3 consecutive points beyond 2σ on the same side",
    RunRule.RUN: "a run of consecutive points on one side of the centre line (8 by default)",
    RunRule.TREND: "consecutive points steadily increasing or decreasing (6 by default)",
    RunRule.MOVING_RANGE: "a moving range above the moving-range chart's upper limit (D4·MR̄)",
}


class CheckOutcome(StrEnum):
    """What a series of checks says about the standard (the platform maps it to a status).

    ``OUT_OF_TOLERANCE`` — a check lies beyond the standard's tolerance: quarantine.
    ``INVESTIGATE`` — a run rule fired or an En test failed: under investigation.
    ``IN_CONTROL`` — neither.
    """

    IN_CONTROL = "in_control"
    INVESTIGATE = "investigate"
    OUT_OF_TOLERANCE = "out_of_tolerance"


class DriftSource(StrEnum):
    """Where a budget's drift term comes from."""

    FIT = "fit"
    ALLOWANCE = "allowance"


@dataclass(frozen=True)
class ControlLimits:
    """The limits of an individuals / moving-range chart (ISO 7870-2), from a baseline.

    ``centre`` X̄ of the baseline values, ``mr_bar`` their mean moving range (span 2, only
    between neighbouring points both in the baseline), ``sigma`` σ̂ = MR̄/d₂, ``ucl``/``lcl``
    X̄ ± 3σ̂, ``upper_2``/``lower_2`` and ``upper_1``/``lower_1`` the 2σ̂ and 1σ̂ zone
    limits, ``mr_ucl`` D₄·MR̄ and ``mr_lcl`` 0 for the moving-range chart, ``n_baseline``
    the number of baseline points and ``baseline`` their mask over the series. Unit of the
    values.
    """

    centre: float
    mr_bar: float
    sigma: float
    ucl: float
    lcl: float
    upper_2: float
    lower_2: float
    upper_1: float
    lower_1: float
    mr_ucl: float
    mr_lcl: float
    n_baseline: int
    baseline: Mask


@dataclass(frozen=True)
class CheckEvaluation:
    """Everything the chart, the run rules, the En test and the tolerance say about a series
    of checks of one standard at one point.

    ``times`` (s) and ``values`` as given; ``limits`` the chart; ``moving_range`` |x_i − x_i−1|
    (NaN at index 0); ``fired`` the indices where each :class:`RunRule` fires; ``flags`` a
    boolean (N, 5) array, one column per rule in :class:`RunRule` order; ``en`` the
    :class:`~labctl.uncertainty.comparison.Scores` of :func:`en_numbers`;
    ``out_of_tolerance`` a boolean per point; ``outcome``; ``first_signal``
    the first index where anything fired (a rule, a failed En, the tolerance), ``None`` when
    in control; ``last_good`` the last check before the first point implicated in a signal
    (the start of the run or trend that fired, not only the point that completed it): the
    reverse-impact report starts after it. ``last_good`` is the last index when in control
    and ``None`` when even the first check is implicated.
    """

    times: Array
    values: Array
    limits: ControlLimits
    moving_range: Array
    fired: Mapping[RunRule, Indices]
    flags: Mask
    en: Scores
    out_of_tolerance: Mask
    outcome: CheckOutcome
    first_signal: int | None
    last_good: int | None
    run_length: int
    trend_length: int

    def rule_flags(self, rule: RunRule) -> Mask:
        """The per-point flags of one rule."""
        return self.flags[:, list(RunRule).index(rule)]


@dataclass(frozen=True)
class DriftFit:
    """A weighted straight line through the checks: value = intercept + slope·(t − t_cal).

    ``slope`` (unit of value per second) with ``u_slope``; ``intercept`` the line's value at
    the calibration time ``t_cal`` with ``u_intercept``; ``cov`` their 2×2 covariance
    (intercept first); ``n`` points; ``chi2`` Σ(r/u)² and ``chi2_p`` its upper-tail
    probability; ``birge`` √(χ²/ν) when the covariance was scaled up by it (the checks
    scatter more than their stated u), else 1; ``dof`` ∞ for the unscaled fit, n − 2 when
    scaled; ``fit`` the :class:`~labctl.uncertainty.CurveFit` it came from.
    """

    slope: float
    u_slope: float
    intercept: float
    u_intercept: float
    cov: Array
    t_cal: float
    n: int
    chi2: float
    chi2_p: float | None
    birge: float
    dof: float
    fit: CurveFit

    def predict(self, t: ArrayLike) -> tuple[float | Array, float | Array]:
        """The line's value at time(s) ``t`` (s) and its standard uncertainty."""
        x = np.asarray(_vector("t", t, ndim=None), dtype=float) - self.t_cal
        val = self.intercept + self.slope * x
        var = self.cov[0, 0] + 2 * x * self.cov[0, 1] + x**2 * self.cov[1, 1]
        u = np.sqrt(np.maximum(var, 0.0))
        if np.ndim(x) == 0:
            return float(val), float(u)
        return val, u

    def drift(self, t: ArrayLike) -> tuple[float | Array, float | Array]:
        """The drift since the calibration at time(s) ``t``: slope·(t − t_cal) and its
        standard uncertainty |t − t_cal|·u(slope) (the intercept cancels)."""
        x = np.asarray(_vector("t", t, ndim=None), dtype=float) - self.t_cal
        d = self.slope * x
        u = np.abs(x) * self.u_slope
        if np.ndim(x) == 0:
            return float(d), float(u)
        return d, u


@dataclass(frozen=True)
class DriftChoice:
    """Which drift term a budget should use: ``term`` (a distribution for the budget's
    inputs), ``source`` (fit or allowance), the two standard uncertainties compared
    (``u_fit`` at the time of use, ``u_allowance`` = a/√3) and ``reason`` in words."""

    term: Normal | Rectangular
    source: DriftSource
    u_fit: float | None
    u_allowance: float
    reason: str


# --- checked input ------------------------------------------------------------------------


def _vector(name: str, v: ArrayLike, *, ndim: int | None = 1, positive: bool = False
            ) -> Array:
    """A float array of finite values (> 0 with ``positive``), naming the first bad one."""
    try:
        a = np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        raise UncertaintyInputError(name, v, "numbers") from None
    if ndim is not None and a.ndim != ndim:
        raise UncertaintyInputError(name, f"shape {a.shape}", "a 1-D array, one value per check")
    bad = ~np.isfinite(a)
    if positive:
        bad |= a <= 0
    if bad.any():
        what = "finite values > 0" if positive else "finite values"
        if a.ndim == 0:
            raise UncertaintyInputError(name, float(a), what)
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise UncertaintyInputError(f"{name}[{', '.join(map(str, idx))}]", float(a[idx]), what)
    return a


def _scalar(name: str, v: Any, *, positive: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
        raise UncertaintyInputError(name, v, "a number" + (" > 0" if positive else ""))
    x = float(v)
    if not math.isfinite(x) or (positive and x <= 0):
        raise UncertaintyInputError(name, v, "a finite number" + (" > 0" if positive else ""))
    return x


def _integer(name: str, v: Any, minimum: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < minimum:
        raise UncertaintyInputError(name, v, f"an integer >= {minimum}")
    return int(v)


def _same_length(name: str, a: Array, n: int) -> Array:
    if a.ndim == 0:
        return np.full(n, float(a))
    if a.shape != (n,):
        raise UncertaintyInputError(name, f"{a.size} values", f"one value per check ({n})")
    return a


def _baseline_mask(baseline: Baseline, n: int) -> Mask:
    if baseline is None:
        return np.ones(n, dtype=bool)
    if isinstance(baseline, slice | range):
        sl = baseline if isinstance(baseline, slice) else slice(
            baseline.start, baseline.stop, baseline.step)
        mask = np.zeros(n, dtype=bool)
        mask[sl] = True
        return mask
    if (isinstance(baseline, tuple) and len(baseline) == 2
            and all(isinstance(b, int | np.integer) and not isinstance(b, bool)
                    for b in baseline)):
        start, stop = int(baseline[0]), int(baseline[1])
        if not 0 <= start < stop <= n:
            raise UncertaintyInputError("baseline", baseline,
                                        f"(start, stop) with 0 <= start < stop <= {n}")
        mask = np.zeros(n, dtype=bool)
        mask[start:stop] = True
        return mask
    b = np.asarray(baseline)
    if b.dtype != np.bool_ or b.shape != (n,):
        raise UncertaintyInputError(
            "baseline", f"{b.dtype} array of shape {b.shape}",
            f"a slice, range or (start, stop) of indices, or a boolean mask of {n} entries")
    return b.copy()


# --- the chart ------------------------------------------------------------------------------


def individuals_chart(values: ArrayLike, baseline: Baseline = None, *, min_baseline: int = 2,
                      **unknown: object) -> ControlLimits:
    """Limits of the individuals / moving-range chart from the ``baseline`` points.

    ``baseline`` selects the points that set the limits (see :data:`Baseline`); the chart is
    then applied to every point. Moving ranges are taken only between neighbouring points
    that are both in the baseline, so a mask with gaps does not span them. At least
    ``min_baseline`` (>= 2) baseline points and one moving range are needed.
    """
    reject_unknown("individuals_chart", unknown)
    x = _vector("values", values)
    minimum = _integer("min_baseline", min_baseline, 2)
    mask = _baseline_mask(baseline, x.size)
    return _limits(x, mask, minimum)


def _limits(x: Array, mask: Mask, minimum: int) -> ControlLimits:
    nb = int(mask.sum())
    pairs = mask[1:] & mask[:-1]
    if nb < minimum or not pairs.any():
        raise UncertaintyInputError(
            "baseline", f"{nb} points ({int(pairs.sum())} moving ranges)",
            f"at least {minimum} points with at least one pair of neighbours "
            "(the limits come from the baseline's mean and mean moving range)")
    centre = float(np.mean(x[mask]))
    mr_bar = float(np.mean(np.abs(np.diff(x))[pairs]))
    s = mr_bar / D2
    return ControlLimits(
        centre=centre, mr_bar=mr_bar, sigma=s, ucl=centre + 3 * s, lcl=centre - 3 * s,
        upper_2=centre + 2 * s, lower_2=centre - 2 * s, upper_1=centre + s,
        lower_1=centre - s, mr_ucl=D4 * mr_bar, mr_lcl=0.0, n_baseline=nb, baseline=mask)


def _run_lengths(b: Mask) -> NDArray[np.intp]:
    """Length of the run of True ending at each index (0 where False)."""
    idx = np.arange(b.size)
    last_false = np.maximum.accumulate(np.where(b, -1, idx))
    return np.where(b, idx - last_false, 0)


def _rules(x: Array, lim: ControlLimits, run_length: int, trend_length: int
           ) -> tuple[dict[RunRule, Indices], dict[RunRule, Indices]]:
    """Where each rule fires, and where the pattern that fired there began."""
    n = x.size
    idx = np.arange(n)
    fired: dict[RunRule, Indices] = {}
    start: dict[RunRule, Indices] = {}

    r1 = np.flatnonzero((x > lim.ucl) | (x < lim.lcl))
    fired[RunRule.BEYOND_3_SIGMA], start[RunRule.BEYOND_3_SIGMA] = r1, r1

    # The point that completes the pattern must itself be beyond 2σ: the pair before it has
    # already fired on its own second point.
    hits = np.zeros(n, dtype=bool)
    begin = np.full(n, -1)
    for side in (x > lim.upper_2, x < lim.lower_2):
        prev1 = np.concatenate([[False], side[:-1]])
        prev2 = np.concatenate([[False, False], side[:-2]])[:n]
        h = side & (prev1 | prev2)
        hits |= h
        begin = np.where(h, np.where(prev2, idx - 2, idx - 1), begin)
    r2 = np.flatnonzero(hits)
    fired[RunRule.TWO_OF_THREE_BEYOND_2_SIGMA], start[RunRule.TWO_OF_THREE_BEYOND_2_SIGMA] = (
        r2, begin[r2])

    above = _run_lengths(x > lim.centre)
    below = _run_lengths(x < lim.centre)
    r3 = np.flatnonzero(np.maximum(above, below) >= run_length)
    fired[RunRule.RUN], start[RunRule.RUN] = r3, r3 - (run_length - 1)

    d = np.diff(x)
    up = np.concatenate([[0], _run_lengths(d > 0)])
    down = np.concatenate([[0], _run_lengths(d < 0)])
    r4 = np.flatnonzero(np.maximum(up, down) >= trend_length - 1)
    fired[RunRule.TREND], start[RunRule.TREND] = r4, r4 - (trend_length - 1)

    mr = np.concatenate([[0.0], np.abs(d)])
    r5 = np.flatnonzero(mr > lim.mr_ucl)
    fired[RunRule.MOVING_RANGE], start[RunRule.MOVING_RANGE] = r5, r5 - 1
    return fired, start


def run_rules(values: ArrayLike, limits: ControlLimits, *, run_length: int = 8,
              trend_length: int = 6, **unknown: object) -> dict[RunRule, Indices]:
    """Indices of the points where each :class:`RunRule` fires on the chart ``limits``.

    A rule fires on the point that completes its pattern and on every later point while the
    pattern holds (the 9th point of a run of 9 fires as the 8th does). "Beyond" is strict:
    a point exactly on a limit is inside. ``run_length`` >= 2 (default 8; 9 for ISO 7870-2
    and Nelson), ``trend_length`` >= 3 (default 6).
    """
    reject_unknown("run_rules", unknown)
    x = _vector("values", values)
    rl = _integer("run_length", run_length, 2)
    tl = _integer("trend_length", trend_length, 3)
    if not isinstance(limits, ControlLimits):
        raise UncertaintyInputError("limits", limits, "ControlLimits from individuals_chart()")
    fired, _ = _rules(x, limits, rl, tl)
    return fired


# --- En and tolerance -------------------------------------------------------------------------


def beyond_tolerance(values: ArrayLike, nominal: float, tolerance: float,
                     **unknown: object) -> Mask:
    """True where a value lies beyond ``nominal`` ± ``tolerance`` (strictly; a value on the
    limit is within). ``tolerance`` > 0, unit of the values."""
    reject_unknown("beyond_tolerance", unknown)
    x = _vector("values", values, ndim=None)
    nom = _scalar("nominal", nominal)
    tol = _scalar("tolerance", tolerance, positive=True)
    return np.atleast_1d(np.abs(x - nom) > tol)


# --- one series of checks -------------------------------------------------------------------


def evaluate_checks(times: ArrayLike, values: ArrayLike, u: ArrayLike, certified_value: float,
                    certified_U: float, tolerance: float, baseline: Baseline, *,
                    k: float = 2.0, nominal: float | None = None, min_baseline: int = 2,
                    run_length: int = 8, trend_length: int = 6,
                    **unknown: object) -> CheckEvaluation:
    """Evaluate a series of checks of one standard at one point.

    ``times`` float seconds, strictly increasing; ``values`` the check results; ``u`` their
    standard uncertainties (> 0, scalar or one per check); ``certified_value`` and its
    expanded uncertainty ``certified_U`` from the last calibration certificate; ``k`` the
    coverage factor that turns ``u`` into the checks' U for the En test (the certificate's
    U is taken at the same coverage); ``tolerance`` the ± limit about ``nominal`` (the
    certified value unless given) beyond which the standard is out of tolerance;
    ``baseline`` the points that set the chart's limits (see :func:`individuals_chart`).

    The outcome is ``OUT_OF_TOLERANCE`` when any check is beyond tolerance, else
    ``INVESTIGATE`` when any run rule fired or any En test failed, else ``IN_CONTROL``.
    """
    reject_unknown("evaluate_checks", unknown)
    t = _vector("times", times)
    x = _vector("values", values)
    n = x.size
    if t.size != n:
        raise UncertaintyInputError("times", f"{t.size} values", f"one per check ({n})")
    if n > 1 and np.any(np.diff(t) <= 0):
        i = int(np.flatnonzero(np.diff(t) <= 0)[0]) + 1
        raise UncertaintyInputError(f"times[{i}]", float(t[i]),
                                    f"strictly increasing times (> times[{i - 1}] = {t[i - 1]})")
    ua = _same_length("u", _vector("u", u, ndim=None, positive=True), n)
    x_cert = _scalar("certified_value", certified_value)
    U_cert = _scalar("certified_U", certified_U)
    if U_cert < 0:
        raise UncertaintyInputError("certified_U", certified_U, "an expanded uncertainty >= 0")
    kk = _scalar("k", k, positive=True)
    nom = x_cert if nominal is None else _scalar("nominal", nominal)
    tol = _scalar("tolerance", tolerance, positive=True)
    minimum = _integer("min_baseline", min_baseline, 2)
    rl = _integer("run_length", run_length, 2)
    tl = _integer("trend_length", trend_length, 3)

    limits = _limits(x, _baseline_mask(baseline, n), minimum)
    fired, starts = _rules(x, limits, rl, tl)
    rules = list(RunRule)
    flags = np.zeros((n, len(rules)), dtype=bool)
    for j, rule in enumerate(rules):
        flags[fired[rule], j] = True

    en = en_numbers(x, kk * ua, x_cert, U_cert)
    oot = np.abs(x - nom) > tol

    signal_at = [fired[r][:1] for r in rules] + [np.flatnonzero(~en.satisfactory)[:1],
                                                  np.flatnonzero(oot)[:1]]
    begun_at = [starts[r][:1] for r in rules] + signal_at[-2:]
    first = np.concatenate(signal_at)
    first_signal: int | None
    last_good: int | None
    if first.size == 0:
        outcome, first_signal, last_good = CheckOutcome.IN_CONTROL, None, n - 1
    else:
        outcome = CheckOutcome.OUT_OF_TOLERANCE if oot.any() else CheckOutcome.INVESTIGATE
        first_signal = int(first.min())
        begin = int(np.concatenate(begun_at).min())
        last_good = begin - 1 if begin > 0 else None

    return CheckEvaluation(
        times=t, values=x, limits=limits,
        moving_range=np.concatenate([[math.nan], np.abs(np.diff(x))]),
        fired=MappingProxyType(fired), flags=flags, en=en, out_of_tolerance=oot,
        outcome=outcome, first_signal=first_signal, last_good=last_good, run_length=rl,
        trend_length=tl)


# --- drift since the last calibration -----------------------------------------------------------


def drift_fit(times: ArrayLike, values: ArrayLike, u: ArrayLike, t_cal: float, *,
              scale_by_chi2: bool = True, **unknown: object) -> DriftFit:
    """Weighted straight line through the checks against time since the calibration at
    ``t_cal`` (s), by :func:`~labctl.uncertainty.curve_fit` with the checks' standard
    uncertainties ``u`` (ISO/TS 28037 clause 6).

    With ``scale_by_chi2`` (default) the covariance is multiplied by χ²/ν when that exceeds
    1 (the Birge ratio squared): checks that scatter more than their stated u — a u that
    covers repeatability only, say — must not give a drift that looks better known than the
    scatter allows. ν = n − 2 is then the fit's degrees of freedom. Needs >= 2 points at
    distinct times (>= 3 to have a χ² at all).
    """
    reject_unknown("drift_fit", unknown)
    t = _vector("times", times)
    x = _vector("values", values)
    if t.size != x.size:
        raise UncertaintyInputError("times", f"{t.size} values", f"one per check ({x.size})")
    ua = _same_length("u", _vector("u", u, ndim=None, positive=True), x.size)
    tc = _scalar("t_cal", t_cal)
    if x.size < 2:
        raise UncertaintyInputError("values", f"{x.size} checks", "at least 2 checks for a line")
    if np.unique(t).size < 2:
        raise UncertaintyInputError("times", f"{np.unique(t).size} distinct times",
                                    "checks at 2 or more different times for a slope")
    fit = curve_fit(t - tc, x, degree=1, u_y=ua)
    nu = x.size - 2
    chi2 = float(fit.chi2) if fit.chi2 is not None else 0.0
    ratio2 = chi2 / nu if nu > 0 else 1.0
    birge, dof, cov = 1.0, math.inf, fit.cov
    if scale_by_chi2 and ratio2 > 1.0:
        birge, dof, cov = math.sqrt(ratio2), float(nu), fit.cov * ratio2
    u_par = np.sqrt(np.diag(cov))
    return DriftFit(
        slope=float(fit.params[1]), u_slope=float(u_par[1]), intercept=float(fit.params[0]),
        u_intercept=float(u_par[0]), cov=cov, t_cal=tc, n=int(x.size), chi2=chi2,
        chi2_p=fit.chi2_p, birge=birge, dof=dof, fit=fit)


def drift_term(fit: DriftFit, t: float, **unknown: object) -> Normal:
    """The drift since calibration at the time of use ``t`` (s) as a budget input.

    A **normal** distribution: value slope·(t − t_cal) (the estimated drift, a correction)
    and standard uncertainty |t − t_cal|·u(slope), with the fit's degrees of freedom. The
    line's slope is a linear combination of the checks, so its uncertainty is a standard
    deviation of an (approximately) normal estimate, not the half-width of a bound: that is
    what distinguishes it from a stated-accuracy allowance, which :func:`allowance_term`
    gives as rectangular.
    """
    reject_unknown("drift_term", unknown)
    if not isinstance(fit, DriftFit):
        raise UncertaintyInputError("fit", fit, "a DriftFit from drift_fit()")
    d, ud = fit.drift(_scalar("t", t))
    return Normal(d, ud, dof=fit.dof)


def allowance_term(allowance: float, **unknown: object) -> Rectangular:
    """A stated-accuracy (drift) allowance ±``allowance`` as a budget input: rectangular
    about 0, u = a/√3 (GUM 4.3.7: only the bounds are known)."""
    reject_unknown("allowance_term", unknown)
    return Rectangular(0.0, _scalar("allowance", allowance, positive=True))


def choose_drift_term(fit: DriftFit | None, t: float, allowance: float, *, min_points: int = 5,
                      min_chi2_p: float = 0.01, **unknown: object) -> DriftChoice:
    """Which drift term is better supported at the time of use ``t``: the fitted drift
    (:func:`drift_term`) or the stated allowance ±``allowance`` (:func:`allowance_term`).

    The fit is used when it has at least ``min_points`` checks, a straight line is
    consistent with them (χ² upper-tail probability >= ``min_chi2_p``), and its standard
    uncertainty at ``t`` is smaller than the allowance's (a/√3); otherwise the allowance.
    ``allowance`` 0 means none is stated: the fit is then used when it passes the first two
    tests (there is nothing better supported to compare it with).
    """
    reject_unknown("choose_drift_term", unknown)
    if fit is None:
        return choose_drift(None, allowance=allowance, n=0, chi2_p=None,
                            min_points=min_points, min_chi2_p=min_chi2_p)
    return choose_drift(drift_term(fit, t), allowance=allowance, n=fit.n, chi2_p=fit.chi2_p,
                        min_points=min_points, min_chi2_p=min_chi2_p)


def choose_drift(fitted: Normal | None, *, allowance: float, n: int, chi2_p: float | None,
                 min_points: int = 5, min_chi2_p: float = 0.01,
                 **unknown: object) -> DriftChoice:
    """:func:`choose_drift_term` on a fitted drift already evaluated at the time of use:
    ``fitted`` the drift term (:func:`drift_term`, or the same numbers carried by a register
    snapshot), ``n`` the checks behind it and ``chi2_p`` the fit's χ² upper-tail probability
    (``None``: too few points for one). ``allowance`` >= 0 (0: none stated)."""
    reject_unknown("choose_drift", unknown)
    a = _scalar("allowance", allowance)
    if a < 0:
        raise UncertaintyInputError("allowance", allowance, "a half-width >= 0")
    mp = _integer("min_points", min_points, 3)
    pmin = _scalar("min_chi2_p", min_chi2_p)
    if not 0.0 <= pmin < 1.0:
        raise UncertaintyInputError("min_chi2_p", min_chi2_p, "a probability in [0, 1)")
    allowed: Normal | Rectangular = allowance_term(a) if a > 0 else Normal(0.0, 0.0)
    u_allow = float(allowed.u)
    if fitted is None:
        return DriftChoice(allowed, DriftSource.ALLOWANCE, None, u_allow,
                           "no drift fit: the stated allowance applies")
    if not isinstance(fitted, Normal):
        raise UncertaintyInputError("fitted", fitted, "a Normal drift term (drift_term())")
    u_fit = float(fitted.u)
    if n < mp:
        reason = f"the fit has {n} checks, fewer than {mp}"
    elif chi2_p is not None and chi2_p < pmin:
        reason = (f"a straight line does not describe the checks (χ² p = {chi2_p:.3g} "
                  f"< {pmin:g})")
    elif a > 0 and not u_fit < u_allow:
        reason = (f"the fitted drift's u ({u_fit:.3g}) is not smaller than the allowance's "
                  f"({u_allow:.3g})")
    elif a == 0:
        return DriftChoice(fitted, DriftSource.FIT, u_fit, u_allow,
                           f"{n} checks and no stated allowance: the fitted drift applies")
    else:
        return DriftChoice(fitted, DriftSource.FIT, u_fit, u_allow,
                           f"{n} checks; the fitted drift's u ({u_fit:.3g}) is smaller "
                           f"than the allowance's ({u_allow:.3g})")
    return DriftChoice(allowed, DriftSource.ALLOWANCE, u_fit, u_allow, reason)
