"""Intermediate checks of a standard: I-MR chart, run rules, En, tolerance, drift (issue 12)."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from labctl.errors import UncertaintyInputError, UnknownKeywordError
from labctl.uncertainty import (
    CheckOutcome,
    DriftSource,
    Normal,
    Rectangular,
    RunRule,
    allowance_term,
    beyond_tolerance,
    choose_drift_term,
    drift_fit,
    drift_term,
    en_numbers,
    evaluate_checks,
    gum,
    individuals_chart,
    run_rules,
)
from labctl.uncertainty.control import D2, D4

DATA = json.loads((Path(__file__).parent / "data" / "control_charts.json").read_text("utf-8"))
DAY = 86400.0


# --- the published example ------------------------------------------------------------------


def test_nist_individuals_chart_example_to_the_published_digits():
    case = DATA["nist_individuals_flow_rate"]
    limits = individuals_chart(case["values"])
    for name, pub in case["published"].items():
        assert round(getattr(limits, name), pub["decimals"]) == pub["value"], name
    # the moving-range chart's limits from the same table row (D4, D3 = 0)
    assert limits.mr_ucl == pytest.approx(DATA["constants"]["D4"] * limits.mr_bar)
    assert limits.mr_lcl == DATA["constants"]["D3"] * limits.mr_bar
    assert limits.n_baseline == 10


def test_chart_constants_are_the_published_table_row():
    assert DATA["constants"]["d2"] == D2
    assert DATA["constants"]["D4"] == D4


def test_zones_are_one_and_two_sigma_from_the_centre():
    lim = individuals_chart(DATA["nist_individuals_flow_rate"]["values"])
    s = lim.mr_bar / D2
    assert lim.sigma == pytest.approx(s)
    assert (lim.lower_1, lim.upper_1) == pytest.approx((lim.centre - s, lim.centre + s))
    assert (lim.lower_2, lim.upper_2) == pytest.approx((lim.centre - 2 * s, lim.centre + 2 * s))
    assert (lim.lcl, lim.ucl) == pytest.approx((lim.centre - 3 * s, lim.centre + 3 * s))


# --- the baseline ------------------------------------------------------------------------------


def test_baseline_as_range_slice_pair_or_mask_gives_the_same_limits():
    x = np.array([1.0, 3.0, 2.0, 5.0, 4.0, 40.0, -30.0])
    mask = np.array([True] * 5 + [False] * 2)
    by = [individuals_chart(x, b) for b in (range(0, 5), slice(0, 5), (0, 5), mask)]
    for lim in by:
        assert lim.centre == pytest.approx(3.0)
        assert lim.mr_bar == pytest.approx((2 + 1 + 3 + 1) / 4)
        assert lim.baseline.tolist() == mask.tolist()
    # the points outside the baseline do not move the limits but are judged by them
    fired = run_rules(x, by[0])
    assert fired[RunRule.BEYOND_3_SIGMA].tolist() == [5, 6]


def test_a_mask_with_a_gap_does_not_take_the_moving_range_across_it():
    x = np.array([0.0, 1.0, 100.0, 5.0, 6.0])
    lim = individuals_chart(x, np.array([True, True, False, True, True]))
    assert lim.mr_bar == pytest.approx(1.0)  # |1 − 0| and |6 − 5|, not |5 − 1|
    assert lim.centre == pytest.approx(3.0)


# --- run rules: each fires at a known index, and its boundary cases do not --------------------

# Limits from an alternating baseline: centre 0, MR̄ 2, σ̂ = 2/1.128 = 1.773,
# 1σ 1.773, 2σ 3.546, 3σ 5.319, moving-range limit 3.267·2 = 6.534.
LIM = individuals_chart([1.0, -1.0] * 10)


def test_the_reference_limits_used_below():
    assert (LIM.centre, LIM.mr_bar) == pytest.approx((0.0, 2.0))
    assert (LIM.upper_1, LIM.upper_2, LIM.ucl) == pytest.approx((1.7730, 3.5461, 5.3191),
                                                                abs=1e-4)
    assert LIM.mr_ucl == pytest.approx(6.534)


FIRES = [
    (RunRule.BEYOND_3_SIGMA, [0.5, -0.5, 0.5, 6.0, 0.5, -0.5], [3]),
    (RunRule.BEYOND_3_SIGMA, [0.5, -0.5, -5.4, -0.5, 0.5], [2]),
    (RunRule.TWO_OF_THREE_BEYOND_2_SIGMA, [0.5, -0.5, 4.0, 0.5, 4.0, -0.5], [4]),
    (RunRule.TWO_OF_THREE_BEYOND_2_SIGMA, [0.5, -0.5, -4.0, -4.0, 0.5], [3]),
    (RunRule.TWO_OF_THREE_BEYOND_2_SIGMA, [4.0, 4.0, -0.5, 0.5], [1]),
    (RunRule.RUN, [-0.5] + [0.5] * 8 + [-0.5], [8]),
    (RunRule.RUN, [-0.5] + [0.5] * 9 + [-0.5], [8, 9]),  # and every point while it lasts
    (RunRule.RUN, [0.5] + [-0.5] * 8, [8]),
    (RunRule.TREND, [0.3, -0.25, -0.15, -0.05, 0.05, 0.15, 0.25, -0.3], [6]),
    (RunRule.TREND, [-0.3, 0.25, 0.15, 0.05, -0.05, -0.15, -0.25, 0.3], [6]),
    (RunRule.MOVING_RANGE, [0.5, -3.0, 3.6, 0.5], [2]),
]


@pytest.mark.parametrize(("rule", "values", "where"), FIRES)
def test_rule_fires_at_the_point_that_completes_it_and_no_other_rule_does(rule, values, where):
    fired = run_rules(values, LIM)
    assert fired[rule].tolist() == where
    for other, idx in fired.items():
        if other is not rule:
            assert idx.size == 0, other


QUIET = [
    ("exactly on the 3σ limit", [0.5, -0.5, LIM.ucl, -0.5]),
    ("2 beyond 2σ but 4 apart", [4.0, 0.5, 0.5, 4.0, -0.5]),
    ("2 beyond 2σ on opposite sides", [4.0, 0.5, -4.0, 0.5]),
    ("one beyond 2σ", [0.5, -0.5, 4.0, 0.5, -0.5]),
    ("7 on one side", [-0.5] + [0.5] * 7 + [-0.5]),
    ("8 on one side broken by a point on the centre line", [0.5] * 4 + [0.0] + [0.5] * 4),
    ("5 increasing", [0.3, -0.2, -0.1, 0.0, 0.1, 0.2, -0.3]),
    ("6 rising with a tie", [0.3, -0.25, -0.15, -0.05, -0.05, 0.05, 0.15, -0.3]),
    ("moving range just under its limit", [0.5, -3.0, 3.5, 0.5]),
]


@pytest.mark.parametrize(("case", "values"), QUIET, ids=[c for c, _ in QUIET])
def test_boundary_cases_fire_nothing(case, values):
    fired = run_rules(values, LIM)
    assert {r: i.tolist() for r, i in fired.items() if i.size} == {}


def test_run_length_is_a_parameter_iso_7870_uses_nine():
    eight = [-0.5] + [0.5] * 8 + [-0.5]
    nine = [-0.5] + [0.5] * 9 + [-0.5]
    assert run_rules(eight, LIM, run_length=9)[RunRule.RUN].size == 0
    assert run_rules(nine, LIM, run_length=9)[RunRule.RUN].tolist() == [9]
    five_up = [0.3, -0.2, -0.1, 0.0, 0.1, 0.2, -0.3]
    assert run_rules(five_up, LIM, trend_length=5)[RunRule.TREND].tolist() == [5]


def test_rules_have_stable_codes_and_words():
    assert [r.code for r in RunRule] == ["beyond_3_sigma", "two_of_three_beyond_2_sigma",
                                         "run_one_side", "trend", "moving_range_beyond_limit"]
    assert RunRule("trend") is RunRule.TREND
    assert all(r.text and r.text != r.code for r in RunRule)


# --- rule 1's false-alarm rate on stable series ---------------------------------------------


def test_stable_series_fires_rule_one_at_about_the_normal_tail_rate():
    rng = np.random.default_rng(20261205)
    x = rng.normal(10.0, 0.01, 200)
    lim = individuals_chart(x)
    # 0.27 % of 200 is 0.54 expected alarms: more than 4 would be improbable (p < 1e-3)
    assert run_rules(x, lim)[RunRule.BEYOND_3_SIGMA].size <= 4
    # and over 100 such series (limits re-estimated from each) the rate is near 0.27 %
    alarms = 0
    for _ in range(100):
        y = rng.normal(10.0, 0.01, 200)
        alarms += run_rules(y, individuals_chart(y))[RunRule.BEYOND_3_SIGMA].size
    assert 0.0012 < alarms / 20000 < 0.0050


# --- one series of checks ----------------------------------------------------------------------


def test_a_stable_series_is_in_control():
    rng = np.random.default_rng(7)
    t, x = _checks(40, rng)
    ev = evaluate_checks(t, x, 0.001, 10.0, 0.004, 0.05, (0, 30))
    assert ev.outcome is CheckOutcome.IN_CONTROL
    assert ev.first_signal is None and ev.last_good == 39
    assert not ev.flags.any() and ev.en.satisfactory.all()


def _checks(n, rng, sd=0.001):
    t = 1.7e9 + np.arange(n) * 7 * DAY  # weekly checks, float seconds
    return t, 10.0 + rng.normal(0.0, sd, n)


def test_a_drifting_standard_is_caught_after_the_drift_starts():
    rng = np.random.default_rng(7)
    t, x = _checks(60, rng)
    start = 30
    drifting = x.copy()
    drifting[start:] += 0.0006 * np.arange(1, 31)  # 0.6 σ per week from check 30 on
    stable = evaluate_checks(t, x, 0.001, 10.0, 0.004, 0.05, (0, 30))
    ev = evaluate_checks(t, drifting, 0.001, 10.0, 0.004, 0.05, (0, 30))
    # The same noise without the drift is quiet through the baseline and well past the point
    # where the drift is caught (over long runs a stable series does give the odd alarm: the
    # rules together have a false-alarm rate of a few per mille per point).
    assert stable.first_signal is None or stable.first_signal > start + 8
    assert ev.outcome is CheckOutcome.INVESTIGATE
    assert start <= ev.first_signal <= start + 8
    assert ev.last_good is not None and start - 1 <= ev.last_good < ev.first_signal
    assert ev.flags.shape == (60, len(RunRule))
    assert not ev.out_of_tolerance.any()


def test_a_step_is_caught_within_a_few_checks():
    rng = np.random.default_rng(7)
    t, x = _checks(60, rng)
    x[40:] += 0.004  # a 4 σ step
    ev = evaluate_checks(t, x, 0.001, 10.0, 0.01, 0.05, range(30))
    assert ev.outcome is CheckOutcome.INVESTIGATE
    assert 40 <= ev.first_signal <= 43
    assert ev.fired[RunRule.BEYOND_3_SIGMA].size > 0


def test_last_good_is_before_the_run_that_fired_not_its_eighth_point():
    t = np.arange(30) * DAY
    x = np.array([1.0, -1.0] * 10 + [0.5] * 8 + [-1.0, 1.0])
    ev = evaluate_checks(t, x, 0.5, 0.0, 2.0, 10.0, (0, 20))
    assert ev.fired[RunRule.RUN].tolist() == [27]
    assert ev.rule_flags(RunRule.RUN).nonzero()[0].tolist() == [27]
    assert ev.first_signal == 27
    assert ev.last_good == 19  # the run began at check 20
    assert ev.outcome is CheckOutcome.INVESTIGATE


def test_beyond_tolerance_means_quarantine_even_when_the_chart_is_quiet():
    t = np.arange(6) * DAY
    x = np.array([10.0, 10.2, 10.0, 10.2, 10.0, 10.2])
    ev = evaluate_checks(t, x, 0.05, 10.1, 0.1, 0.09, None)
    assert not ev.flags.any() and ev.en.satisfactory.all()
    assert ev.out_of_tolerance.tolist() == [True, True, True, True, True, True]
    assert ev.outcome is CheckOutcome.OUT_OF_TOLERANCE
    assert ev.first_signal == 0 and ev.last_good is None
    # the nominal may differ from the certified value
    ev2 = evaluate_checks(t, x, 0.05, 10.1, 0.1, 0.25, None, nominal=10.0)
    assert ev2.outcome is CheckOutcome.IN_CONTROL


def test_a_failed_en_opens_an_investigation():
    t = np.arange(6) * DAY
    x = np.array([10.0, 10.2, 10.0, 10.2, 10.0, 10.2])
    # u = 0.05, k = 2: U = 0.1; against 10.05 ± 0.05: En = ±0.05/0.112 and 0.15/0.112
    ev = evaluate_checks(t, x, 0.05, 10.05, 0.05, 1.0, None)
    assert ev.en.value == pytest.approx((x - 10.05) / math.hypot(0.1, 0.05))
    assert ev.en.satisfactory.tolist() == [True, False, True, False, True, False]
    assert ev.outcome is CheckOutcome.INVESTIGATE and ev.first_signal == 1


# --- En and tolerance ---------------------------------------------------------------------------


def test_the_checks_en_is_the_comparison_modules():
    """One En formula (comparison.en_numbers) serves checks and comparisons alike."""
    t = np.arange(3) * DAY
    x = np.array([5.0, 5.5, -5.0])
    ev = evaluate_checks(t, x, 1.5, 0.0, 4.0, 100.0, None)
    same = en_numbers(x, 3.0, 0.0, 4.0)
    assert ev.en.value.tolist() == pytest.approx([1.0, 1.1, -1.0]) == same.value.tolist()
    assert ev.en.satisfactory.tolist() == [True, False, True]  # |En| = 1 passes


def test_beyond_tolerance_is_strict():
    assert beyond_tolerance([9.5, 9.4999, 10.5, 10.5001], 10.0, 0.5).tolist() == [
        False, True, False, True]


# --- drift -------------------------------------------------------------------------------------


def test_drift_fit_recovers_a_known_slope_with_the_generators_uncertainty():
    rng = np.random.default_rng(11)
    rate = 2e-4 / (365 * DAY)  # 200 µV per year, in V/s
    t = np.arange(20) * 14 * DAY
    u = 5e-6
    slopes, us = [], []
    for _ in range(200):
        x = 10.0 + 3e-6 + rate * t + rng.normal(0.0, u, t.size)
        f = drift_fit(t, x, u, t_cal=0.0, scale_by_chi2=False)
        slopes.append(f.slope)
        us.append(f.u_slope)
    # the stated u(slope) is the generator's: σ/√Σ(t − t̄)²
    expected = u / math.sqrt(np.sum((t - t.mean()) ** 2))
    assert us[0] == pytest.approx(expected, rel=1e-9)
    assert np.mean(slopes) == pytest.approx(rate, abs=3 * expected / math.sqrt(200))
    assert np.std(slopes, ddof=1) == pytest.approx(expected, rel=0.15)


def test_drift_fit_predicts_and_gives_the_drift_since_calibration():
    t = np.array([0.0, 10.0, 20.0, 30.0]) * DAY
    x = np.array([1.0, 1.1, 1.2, 1.3])
    f = drift_fit(t + 5 * DAY, x, 0.01, t_cal=5 * DAY)
    assert f.slope == pytest.approx(0.01 / DAY)
    assert f.intercept == pytest.approx(1.0)
    assert f.birge == 1.0 and f.dof == math.inf
    v, uv = f.predict(45 * DAY)
    assert v == pytest.approx(1.4)
    assert uv == pytest.approx(math.sqrt(f.cov[0, 0] + 2 * 40 * DAY * f.cov[0, 1]
                                         + (40 * DAY) ** 2 * f.cov[1, 1]))
    d, ud = f.drift(45 * DAY)
    assert d == pytest.approx(0.4)
    assert ud == pytest.approx(40 * DAY * f.u_slope)
    assert f.drift(5 * DAY) == (0.0, 0.0)


def test_checks_that_scatter_more_than_their_u_widen_the_drift_uncertainty():
    rng = np.random.default_rng(3)
    t = np.arange(30) * 7 * DAY
    x = 5.0 + rng.normal(0.0, 5e-6, t.size)  # scatter 5 µ, stated u 1 µ
    raw = drift_fit(t, x, 1e-6, 0.0, scale_by_chi2=False)
    scaled = drift_fit(t, x, 1e-6, 0.0)
    assert scaled.birge == pytest.approx(math.sqrt(raw.chi2 / 28))
    assert 3.5 < scaled.birge < 7
    assert scaled.u_slope == pytest.approx(raw.u_slope * scaled.birge)
    assert scaled.dof == 28


def test_drift_term_is_normal_and_plugs_into_a_budget():
    t = np.arange(10) * 30 * DAY
    rng = np.random.default_rng(5)
    x = 1.0 + 1e-6 / DAY * t + rng.normal(0.0, 2e-6, t.size)
    f = drift_fit(t, x, 2e-6, 0.0)
    term = drift_term(f, 400 * DAY)
    assert isinstance(term, Normal)
    d, ud = f.drift(400 * DAY)
    assert float(term.value) == pytest.approx(d)
    assert float(term.u) == pytest.approx(ud)
    # a budget: reading corrected for the standard's drift
    r = gum(lambda reading, drift: reading - drift,
            {"reading": Normal(1.0004, 3e-6), "drift": term})
    assert r.u == pytest.approx(math.hypot(3e-6, ud))
    a = allowance_term(5e-5)
    assert isinstance(a, Rectangular) and float(a.u) == pytest.approx(5e-5 / math.sqrt(3))


def test_choose_the_better_supported_drift_term():
    t = np.arange(12) * 30 * DAY
    rng = np.random.default_rng(9)
    x = 1.0 + 1e-7 / DAY * t + rng.normal(0.0, 1e-6, t.size)
    f = drift_fit(t, x, 1e-6, 0.0)
    use = 400 * DAY
    good = choose_drift_term(f, use, allowance=2e-5)
    assert good.source is DriftSource.FIT and isinstance(good.term, Normal)
    assert good.u_fit < good.u_allowance
    # an allowance tighter than the fit's u at the time of use wins
    tight = choose_drift_term(f, use, allowance=good.u_fit)
    assert tight.source is DriftSource.ALLOWANCE and isinstance(tight.term, Rectangular)
    # too few checks
    few = drift_fit(t[:4], x[:4], 1e-6, 0.0)
    assert choose_drift_term(few, use, 2e-5).source is DriftSource.ALLOWANCE
    assert choose_drift_term(few, use, 2e-5, min_points=4).source is DriftSource.FIT
    # a curve is not a straight line
    bent = drift_fit(t, 1.0 + 1e-4 * (t / t[-1]) ** 2, 1e-6, 0.0, scale_by_chi2=False)
    choice = choose_drift_term(bent, use, 1.0)
    assert choice.source is DriftSource.ALLOWANCE and "straight line" in choice.reason
    assert choose_drift_term(None, use, 2e-5).source is DriftSource.ALLOWANCE


# --- bad input ---------------------------------------------------------------------------------

T5 = np.arange(5) * DAY
X5 = [1.0, 1.1, 0.9, 1.0, 1.05]


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"values": [1.0, 1.1, math.nan, 1.0, 1.05]}, "values[2]"),
    ({"values": [1.0, 1.1, 0.9, math.inf, 1.05]}, "values[3]"),
    ({"times": [0.0, 1.0, math.inf, 3.0, 4.0]}, "times[2]"),
    ({"times": [0.0, 1.0, 1.0, 3.0, 4.0]}, "times[2]"),
    ({"times": [0.0, 1.0, 2.0]}, "times"),
    ({"u": [0.1, 0.1, 0.0, 0.1, 0.1]}, "u[2]"),
    ({"u": -0.1}, "u"),
    ({"u": [0.1, 0.1]}, "u"),
    ({"u": math.nan}, "u"),
    ({"certified_value": math.nan}, "certified_value"),
    ({"certified_U": -1.0}, "certified_U"),
    ({"tolerance": 0.0}, "tolerance"),
    ({"baseline": (0, 1)}, "baseline"),
    ({"baseline": [True, False, True, False, True]}, "baseline"),  # no neighbouring pair
    ({"baseline": [True, True]}, "baseline"),
    ({"baseline": (0, 3), "min_baseline": 4}, "baseline"),
    ({"min_baseline": 1}, "min_baseline"),
    ({"run_length": 1}, "run_length"),
    ({"trend_length": 2}, "trend_length"),
    ({"k": 0.0}, "k"),
])
def test_bad_input_names_the_field(kwargs, field):
    args = {"times": T5, "values": X5, "u": 0.1, "certified_value": 1.0, "certified_U": 0.2,
            "tolerance": 0.5, "baseline": None} | kwargs
    with pytest.raises(UncertaintyInputError) as e:
        evaluate_checks(**args)
    assert e.value.field == field
    assert isinstance(e.value, ValueError)


def test_unknown_keywords_are_refused():
    with pytest.raises(UnknownKeywordError):
        evaluate_checks(T5, X5, 0.1, 1.0, 0.2, 0.5, None, run_lenght=9)
    with pytest.raises(UnknownKeywordError):
        individuals_chart(X5, baselin=(0, 3))


def test_drift_input_is_checked():
    with pytest.raises(UncertaintyInputError) as e:
        drift_fit(T5, X5, [0.1, 0.1, -0.1, 0.1, 0.1], 0.0)
    assert e.value.field == "u[2]"
    with pytest.raises(UncertaintyInputError) as e:
        drift_fit(T5[:3], X5, 0.1, 0.0)
    assert e.value.field == "times"
    with pytest.raises(UncertaintyInputError) as e:
        drift_fit(np.full(5, 3.0), X5, 0.1, 0.0)
    assert e.value.field == "times"
    with pytest.raises(UncertaintyInputError) as e:
        drift_fit(T5, X5, 0.1, math.nan)
    assert e.value.field == "t_cal"
    with pytest.raises(UncertaintyInputError) as e:
        allowance_term(0.0)
    assert e.value.field == "allowance"
    with pytest.raises(UncertaintyInputError) as e:
        en_numbers(1.0, 0.0, 1.0, 0.0)
    assert e.value.field == "U_x"


def test_choose_drift_takes_a_drift_term_already_evaluated():
    from labctl.uncertainty import Normal, choose_drift

    better = choose_drift(Normal(1e-6, 1e-7, dof=6), allowance=1e-6, n=6, chi2_p=0.4)
    assert better.source == "fit" and better.term.u == 1e-7
    assert better.u_allowance == pytest.approx(1e-6 / math.sqrt(3))
    unstated = choose_drift(Normal(1e-6, 1e-5, dof=6), allowance=0.0, n=6, chi2_p=None)
    assert unstated.source == "fit" and "no stated allowance" in unstated.reason
    few = choose_drift(Normal(1e-6, 1e-9), allowance=0.0, n=2, chi2_p=None)
    assert few.source == "allowance" and few.term.u == 0.0
    with pytest.raises(UncertaintyInputError) as caught:
        choose_drift(None, allowance=-1e-6, n=0, chi2_p=None)
    assert caught.value.field == "allowance"
