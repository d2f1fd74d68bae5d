"""Power-moderated mean, arithmetic mean and their degrees of equivalence (issue 12).

Properties from the definitions (Pommé & Keightley, Metrologia 52 (2015) S200): the
weights, the limits of the moderation, the Mandel-Paule condition, equivariance; the degrees
of equivalence against the law of propagation (``gum``) and against the weighted-mean ones of
Cox 2002. Expected values are derived in the test, never pasted from the engine.
"""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from labctl.errors import UncertaintyInputError
from labctl.uncertainty import (
    Normal,
    arithmetic_mean,
    degrees_of_equivalence,
    gum,
    linear_degrees_of_equivalence,
    power_moderated_mean,
    weighted_mean,
)

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

values = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)
uncertainties = st.floats(min_value=1e-2, max_value=10.0, allow_nan=False)


@st.composite
def results(draw, min_size=2, max_size=9):
    n = draw(st.integers(min_value=min_size, max_value=max_size))
    x = np.array(draw(st.lists(values, min_size=n, max_size=n)))
    u = np.array(draw(st.lists(uncertainties, min_size=n, max_size=n)))
    return x, u


def reduced_chi2(x, u, s2=0.0):
    v = u**2 + s2
    m = np.sum(x / v) / np.sum(1 / v)
    return float(np.sum((x - m) ** 2 / v) / (x.size - 1))


# --- power-moderated mean: definition ----------------------------------------------------


def test_pmm_by_hand_for_three_consistent_results():
    # x = (0, 1, 2), u = (1, 1, 2): consistent (χ²/ν < 1), so s = 0; the rest by hand.
    x, u = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 2.0])
    assert reduced_chi2(x, u) < 1
    r = power_moderated_mean(x, u)
    alpha = 2 - 3 / 3
    u2_ext = np.sum((x - x.mean()) ** 2) / (3 * 2)
    u2_int = 1 / np.sum(u**-2)
    big_s = math.sqrt(3 * max(u2_ext, u2_int))
    den = u**alpha * big_s ** (2 - alpha)
    w = (1 / den) / np.sum(1 / den)
    assert r.s == 0.0
    assert r.alpha == pytest.approx(alpha)
    assert r.S == pytest.approx(big_s)  # noqa: SIM300 (S is the paper's symbol)
    np.testing.assert_allclose(r.weights, w)
    assert r.value == pytest.approx(np.sum(w * x))
    assert r.u == pytest.approx(np.sum(1 / den) ** -0.5)
    assert r.birge_ratio == pytest.approx(math.sqrt(reduced_chi2(x, u)))


@FAST
@given(results())
def test_pmm_weights_are_a_convex_combination(xu):
    x, u = xu
    r = power_moderated_mean(x, u)
    assert np.all(r.weights > 0)
    assert math.fsum(r.weights) == pytest.approx(1.0)
    span = max(np.ptp(x), 1e-12)
    assert x.min() - 1e-9 * span <= r.value <= x.max() + 1e-9 * span
    assert r.alpha == pytest.approx(2 - 3 / x.size)
    assert r.u > 0 and r.S > 0


@FAST
@given(results(min_size=3))
def test_pmm_between_result_spread_is_mandel_paule(xu):
    x, u = xu
    r = power_moderated_mean(x, u)
    if reduced_chi2(x, u) <= 1:
        assert r.s == 0.0
    else:
        assert r.s > 0
        assert reduced_chi2(x, u, r.s**2) == pytest.approx(1.0, rel=1e-7)


@FAST
@given(results(), st.floats(min_value=0.01, max_value=100.0),
       st.floats(min_value=-1e6, max_value=1e6), st.randoms(use_true_random=False))
def test_pmm_is_equivariant_and_order_free(xu, a, b, rnd):
    x, u = xu
    r = power_moderated_mean(x, u)
    t = power_moderated_mean(a * x + b, a * u)
    tol = 1e-7 * a * (np.ptp(x) + u.max()) + 1e-12 * (abs(b) + abs(a * r.value))
    assert t.value == pytest.approx(a * r.value + b, abs=tol)
    assert t.u == pytest.approx(a * r.u, rel=1e-7)
    assert t.s == pytest.approx(a * r.s, rel=1e-6, abs=1e-9 * a * u.max())
    order = list(range(x.size))
    rnd.shuffle(order)
    p = power_moderated_mean(x[order], u[order])
    assert p.value == pytest.approx(r.value, abs=1e-9 * (np.ptp(x) + u.max()))
    np.testing.assert_allclose(p.weights, r.weights[order], rtol=1e-9, atol=1e-12)


@FAST
@given(st.integers(min_value=2, max_value=9), uncertainties, values)
def test_pmm_of_equal_uncertainties_and_no_scatter_beyond_them_is_the_plain_mean(n, u0, c):
    # Equal u: every weight is 1/N whatever α, S and s are.
    x = c + u0 * np.linspace(-0.5, 0.5, n)
    u = np.full(n, u0)
    r = power_moderated_mean(x, u)
    np.testing.assert_allclose(r.weights, np.full(n, 1 / n))
    assert r.value == pytest.approx(x.mean(), abs=1e-9 * (abs(c) + u0))


@pytest.mark.parametrize("n", [3, 5, 10, 30])
def test_pmm_moderates_a_dominant_result(n):
    # One result ten times more precise than the rest: the weighted mean gives it nearly all
    # the weight; the PMM (α = 2 − 3/N < 2) gives it less, and still the largest.
    x = np.zeros(n)
    u = np.ones(n)
    u[0] = 0.1
    w_pmm = power_moderated_mean(x, u).weights
    w_wm = weighted_mean(x, u).weights
    assert w_pmm[0] < w_wm[0]
    assert w_pmm[0] > w_pmm[1:].max()


def test_pmm_keeps_digits_of_a_large_common_value():
    x, u = np.array([1.0, 1.3, 0.8, 1.1]), np.array([0.1, 0.2, 0.1, 0.3])
    r = power_moderated_mean(x, u)
    big = power_moderated_mean(x + 1e9, u)
    # x + 1e9 is itself rounded to ~1e-7: agreement to that, not to 1e-16.
    assert big.value - 1e9 == pytest.approx(r.value, abs=1e-6)
    assert big.u == pytest.approx(r.u, rel=1e-5)


def test_pmm_included_mask_leaves_results_out():
    x, u = np.array([1.0, 1.2, 50.0, 0.9]), np.array([0.1, 0.2, 0.1, 0.1])
    inc = np.array([True, True, False, True])
    r = power_moderated_mean(x, u, included=inc)
    alone = power_moderated_mean(x[inc], u[inc])
    assert r.weights[2] == 0.0
    assert r.value == pytest.approx(alone.value)
    assert r.u == pytest.approx(alone.u)
    assert r.alpha == pytest.approx(2 - 3 / 3)


# --- arithmetic mean -----------------------------------------------------------------------


@FAST
@given(results())
def test_arithmetic_mean_and_its_two_uncertainties(xu):
    x, u = xu
    r = arithmetic_mean(x, u)
    n = x.size
    assert r.value == pytest.approx(x.mean(), abs=1e-9 * (np.abs(x).max() + 1))
    assert r.u == pytest.approx(np.std(x, ddof=1) / math.sqrt(n), rel=1e-9, abs=1e-12)
    assert r.u_propagated == pytest.approx(math.sqrt(np.sum(u**2)) / n)
    np.testing.assert_allclose(r.weights, np.full(n, 1 / n))


# --- degrees of equivalence -------------------------------------------------------------


def _doe_by_propagation(x, u, weights, i):
    """u(d_i) from gum() applied to d_i = x_i − Σ w_j x_j (the definition)."""
    names = [f"x{j}" for j in range(len(x))]
    inputs = {n: Normal(x[j], u[j]) for j, n in enumerate(names)}

    def model(**kw):
        xs = [kw[n] for n in names]
        return xs[i] - sum(wj * xj for wj, xj in zip(weights, xs, strict=True))

    return gum(model, inputs).u


@FAST
@given(results(min_size=3, max_size=6), st.data())
def test_arithmetic_mean_doe_is_the_law_of_propagation(xu, data):
    x, u = xu
    inc = np.array(data.draw(st.lists(st.booleans(), min_size=x.size, max_size=x.size)))
    assume(inc.sum() >= 2)
    ref = arithmetic_mean(x, u, included=inc)
    doe = linear_degrees_of_equivalence(x, u, ref, k=2.0)
    for i in range(x.size):
        assert doe.u[i] == pytest.approx(_doe_by_propagation(x, u, ref.weights, i), rel=1e-6)
    np.testing.assert_allclose(doe.d, x - ref.value)
    np.testing.assert_allclose(doe.U, 2.0 * doe.u)
    assert doe.contributing.tolist() == inc.tolist()


@FAST
@given(results(min_size=3, max_size=7), st.data())
def test_weighted_mean_doe_is_cox_2002(xu, data):
    x, u = xu
    inc = np.array(data.draw(st.lists(st.booleans(), min_size=x.size, max_size=x.size)))
    assume(inc.sum() >= 1)
    ref = weighted_mean(x, u, included=inc)
    lin = linear_degrees_of_equivalence(x, u, ref, k=2.5)
    cox = degrees_of_equivalence(x, u, ref, k=2.5)
    np.testing.assert_allclose(lin.u, cox.u)
    np.testing.assert_allclose(lin.U, cox.U)
    # and (1 − 2w_i)u_i² + u²(x_ref) is the same expression as Cox's u_i² ∓ u²(x_ref)
    np.testing.assert_allclose(
        lin.u**2, np.maximum((1 - 2 * ref.weights) * u**2 + ref.u**2, 0.0),
        rtol=1e-9, atol=1e-12 * float(np.max(u**2)))


@FAST
@given(results(min_size=3, max_size=7))
def test_pmm_doe_contributors_and_others(xu):
    x, u = xu
    inc = np.ones(x.size, dtype=bool)
    inc[-1] = False
    ref = power_moderated_mean(x, u, included=inc)
    doe = linear_degrees_of_equivalence(x, u, ref, k=2.0)
    w = ref.weights
    np.testing.assert_allclose(doe.u[:-1] ** 2, (1 - 2 * w[:-1]) * u[:-1] ** 2 + ref.u**2,
                               rtol=1e-12)
    assert doe.u[-1] ** 2 == pytest.approx(u[-1] ** 2 + ref.u**2)  # w = 0: independent
    assert doe.contributing.tolist() == inc.tolist()
    np.testing.assert_allclose(doe.en, doe.d / doe.U)


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize("fn", [power_moderated_mean, arithmetic_mean])
@pytest.mark.parametrize(("x", "u", "field"), [
    ([1.0, math.nan], [1.0, 1.0], "x[1]"),
    ([1.0, math.inf], [1.0, 1.0], "x[1]"),
    ([1.0, 2.0], [1.0, 0.0], "u[1]"),
    ([1.0, 2.0], [-1.0, 1.0], "u[0]"),
    ([1.0, 2.0], [1.0, math.nan], "u[1]"),
    ([1.0], [1.0], "x"),
    ([1.0, 2.0], [1.0], "u"),
])
def test_bad_results_are_refused(fn, x, u, field):
    with pytest.raises(UncertaintyInputError) as e:
        fn(x, u)
    assert e.value.field == field


@pytest.mark.parametrize("fn", [power_moderated_mean, arithmetic_mean])
def test_fewer_than_two_included_results_are_refused(fn):
    with pytest.raises(UncertaintyInputError) as e:
        fn([1.0, 2.0, 3.0], [1.0, 1.0, 1.0], included=[True, False, False])
    assert e.value.field == "included"
    with pytest.raises(UncertaintyInputError):
        fn([1.0, 2.0, 3.0], [1.0, 1.0, 1.0], included=[1, 1, 1])  # not booleans


def test_doe_refuses_a_reference_of_other_results_and_a_bad_k():
    ref = power_moderated_mean([1.0, 2.0, 3.0], [1.0, 1.0, 1.0])
    with pytest.raises(UncertaintyInputError) as e:
        linear_degrees_of_equivalence([1.0, 2.0], [1.0, 1.0], ref)
    assert e.value.field == "reference"
    for k in (0.0, -2.0, math.nan, math.inf):
        with pytest.raises(UncertaintyInputError) as e:
            linear_degrees_of_equivalence([1.0, 2.0, 3.0], [1.0, 1.0, 1.0], ref, k=k)
        assert e.value.field == "k"


def test_huge_values_stay_finite():
    x = np.array([1e300, 1.0000001e300, 0.9999999e300])
    u = np.array([1e293, 2e293, 1e293])
    r = power_moderated_mean(x, u)
    assert math.isfinite(r.value) and math.isfinite(r.u)
    assert x.min() <= r.value <= x.max()
