"""Comparison engine (issue 12): Cox 2002 Procedure A, Cox 2007 largest consistent subset,
degrees of equivalence, En / z / zeta scores (ISO 13528).

The expectations are derived, not pasted: closed forms worked out in the test, an independent
brute-force search over subsets, and the law of propagation (``gum``) applied to the linear
model that defines each degree of equivalence.
"""

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from labctl.errors import UncertaintyInputError, ValidationError
from labctl.uncertainty import (
    Normal,
    StudentT,
    Verdict,
    degrees_of_equivalence,
    en_numbers,
    evaluate_comparison,
    gum,
    largest_consistent_subset,
    pairwise_degrees_of_equivalence,
    weighted_mean,
    z_scores,
    zeta_scores,
)

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

values = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)
uncertainties = st.floats(min_value=1e-3, max_value=10.0, allow_nan=False)


@st.composite
def results(draw, min_size=2, max_size=8):
    n = draw(st.integers(min_value=min_size, max_value=max_size))
    x = draw(st.lists(values, min_size=n, max_size=n))
    u = draw(st.lists(uncertainties, min_size=n, max_size=n))
    return np.array(x), np.array(u)


def brute_force_lcs(x, u, alpha=0.05):
    """Largest m such that some m-subset's weighted mean passes the chi-squared test, the
    smallest chi-squared among those subsets and how many subsets come within 1e-9 of it (an
    implementation independent of the engine)."""
    n = len(x)
    for m in range(n, 0, -1):
        chi2s = []
        for idx in itertools.combinations(range(n), m):
            xs, us = x[list(idx)], u[list(idx)]
            w = 1 / us**2
            mean = np.sum(w * xs) / np.sum(w)
            chi2 = float(np.sum(w * (xs - mean) ** 2))
            p = 1.0 if m == 1 else stats.chi2.sf(chi2, m - 1)
            if p >= alpha:
                chi2s.append(chi2)
        if chi2s:
            best = min(chi2s)
            ties = sum(c <= best + 1e-9 * max(best, 1.0) for c in chi2s)
            if m == 1:  # every single result has χ² = 0; the engine keeps the smallest u
                ties = int(np.sum(u == u.min()))
            return m, best, ties
    raise AssertionError("a single result is always consistent")


# --- Procedure A: closed forms -----------------------------------------------------------


def test_two_equal_participants_closed_form():
    # x = (0, 1), u = (1, 1): mean 1/2, u = 1/√2, χ² = 2·(1/2)² = 1/2 with ν = 1.
    r = weighted_mean([0.0, 1.0], [1.0, 1.0])
    assert r.value == pytest.approx(0.5)
    assert r.u == pytest.approx(1 / math.sqrt(2))
    assert r.check.chi2 == pytest.approx(0.5)
    assert r.check.dof == 1
    assert r.check.p_value == pytest.approx(stats.chi2.sf(0.5, 1))
    assert r.check.passed
    assert r.check.birge_ratio == pytest.approx(math.sqrt(0.5))
    assert r.check.critical_value == pytest.approx(stats.chi2.ppf(0.95, 1))
    np.testing.assert_allclose(r.weights, [0.5, 0.5])


def test_weights_follow_inverse_variances():
    x, u = np.array([10.0, 10.4, 9.9]), np.array([0.1, 0.2, 0.4])
    r = weighted_mean(x, u)
    w = u**-2 / np.sum(u**-2)
    np.testing.assert_allclose(r.weights, w)
    assert r.value == pytest.approx(np.sum(w * x))
    assert r.u == pytest.approx(np.sum(u**-2) ** -0.5)
    assert r.check.chi2 == pytest.approx(np.sum((x - r.value) ** 2 / u**2))


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.2])
def test_threshold_is_a_parameter_and_decides_on_p(alpha):
    # χ² exactly at the critical value of ν = 2 for this alpha passes (p = alpha).
    crit = stats.chi2.ppf(1 - alpha, 2)
    # Three results with u = 1 at -a, 0, +a: mean 0, χ² = 2a².
    a = math.sqrt(crit / 2)
    r = weighted_mean([-a, 0.0, a], [1.0, 1.0, 1.0], alpha=alpha)
    assert r.check.chi2 == pytest.approx(crit)
    assert r.check.p_value == pytest.approx(alpha)
    fail = weighted_mean([-1.01 * a, 0.0, 1.01 * a], [1.0, 1.0, 1.0], alpha=alpha)
    assert not fail.check.passed


def test_included_mask_leaves_results_out_of_the_mean():
    r = weighted_mean([1.0, 2.0, 50.0], [0.5, 0.5, 0.5], included=[True, True, False])
    assert r.value == pytest.approx(1.5)
    assert r.weights[2] == 0.0
    assert r.check.dof == 1


# --- degrees of equivalence --------------------------------------------------------------


def test_degrees_of_equivalence_contributing_and_not():
    x, u = np.array([1.0, 2.0, 5.0]), np.array([0.5, 0.5, 1.0])
    ref = weighted_mean(x, u, included=[True, True, False])
    doe = degrees_of_equivalence(x, u, ref, k=2.0)
    uref2 = ref.u**2
    np.testing.assert_allclose(doe.d, x - 1.5)
    np.testing.assert_allclose(doe.u**2, [0.25 - uref2, 0.25 - uref2, 1.0 + uref2])
    np.testing.assert_allclose(doe.U, 2.0 * doe.u)
    np.testing.assert_allclose(doe.en, doe.d / doe.U)
    assert doe.contributing.tolist() == [True, True, False]


def _doe_by_propagation(x, u, dof, included, i):
    """u(d_i) and ν_eff from gum() applied to d_i = x_i − Σ w_j x_j (the definition)."""
    w = np.where(included, u**-2, 0.0)
    w = w / w.sum()
    names = [f"x{j}" for j in range(len(x))]
    inputs = {n: StudentT(x[j], u[j], dof[j]) if math.isfinite(dof[j]) else Normal(x[j], u[j])
              for j, n in enumerate(names)}

    def model(**kw):
        xs = [kw[n] for n in names]
        return xs[i] - sum(wj * xj for wj, xj in zip(w, xs, strict=True))

    return gum(model, inputs)


def test_doe_uncertainty_and_dof_agree_with_the_law_of_propagation():
    x = np.array([100.02, 100.05, 99.97, 100.30])
    u = np.array([0.02, 0.04, 0.03, 0.05])
    dof = np.array([8.0, 20.0, np.inf, 5.0])
    res = evaluate_comparison(x, u, dof, candidates=[True, True, True, False])
    for i in range(4):
        g = _doe_by_propagation(x, u, dof, res.subset.included, i)
        assert res.doe.d[i] == pytest.approx(g.value, abs=1e-12)
        assert res.doe.u[i] == pytest.approx(g.u, rel=1e-6)
        assert res.doe.dof[i] == pytest.approx(g.dof, rel=1e-6)


def test_reference_dof_is_welch_satterthwaite():
    x, u, dof = np.array([1.0, 1.1, 0.95]), np.array([0.1, 0.2, 0.1]), np.array([4.0, 9.0, 30.0])
    names = ["a", "b", "c"]
    w = u**-2 / np.sum(u**-2)
    g = gum(lambda a, b, c: w[0] * a + w[1] * b + w[2] * c,
            {n: StudentT(x[j], u[j], dof[j]) for j, n in enumerate(names)})
    r = weighted_mean(x, u, dof)
    assert r.value == pytest.approx(g.value)
    assert r.u == pytest.approx(g.u, rel=1e-6)
    assert r.dof == pytest.approx(g.dof, rel=1e-6)


def test_infinite_dof_everywhere_gives_infinite_effective_dof():
    res = evaluate_comparison([1.0, 1.1, 0.9], [0.1, 0.1, 0.1])
    assert math.isinf(res.reference.dof)
    assert np.all(np.isinf(res.doe.dof))


def test_pairwise_degrees_of_equivalence():
    x, u = np.array([1.0, 1.3, 0.8]), np.array([0.1, 0.2, 0.3])
    pw = pairwise_degrees_of_equivalence(x, u, k=2.0)
    np.testing.assert_allclose(pw.d, x[:, None] - x[None, :])
    np.testing.assert_allclose(pw.d, -pw.d.T)
    np.testing.assert_allclose(pw.u, np.sqrt(u[:, None] ** 2 + u[None, :] ** 2))
    np.testing.assert_allclose(pw.U, 2.0 * pw.u)
    assert np.all(np.diag(pw.d) == 0.0)
    # d_ij = d_i − d_j whatever the reference value.
    res = evaluate_comparison(x, u)
    np.testing.assert_allclose(pw.d, res.doe.d[:, None] - res.doe.d[None, :], atol=1e-12)


# --- largest consistent subset ------------------------------------------------------------


def test_consistent_data_keep_everyone():
    res = evaluate_comparison([10.0, 10.1, 9.95, 10.02], [0.1, 0.1, 0.1, 0.05])
    assert res.first_check.passed
    assert res.subset.method == "all"
    assert res.excluded == ()
    assert res.reference.included.all()


def test_an_outlier_is_excluded_and_gets_the_non_contributing_uncertainty():
    x = np.array([10.0, 10.1, 9.95, 10.02, 12.0])
    u = np.array([0.1, 0.1, 0.1, 0.05, 0.1])
    res = evaluate_comparison(x, u)
    assert not res.first_check.passed
    assert res.excluded == (4,)
    assert res.subset.method == "exhaustive"
    assert res.reference.check.passed
    assert res.doe.u[4] == pytest.approx(math.sqrt(u[4] ** 2 + res.reference.u**2))
    assert abs(res.doe.en[4]) > 1


def test_iterative_fallback_also_removes_the_outlier():
    x = np.array([10.0, 10.1, 9.95, 10.02, 12.0])
    u = np.array([0.1, 0.1, 0.1, 0.05, 0.1])
    s = largest_consistent_subset(x, u, method="iterative")
    assert s.excluded == (4,)
    assert s.reference.check.passed


def test_exhaustive_search_refuses_more_than_twenty_but_iterative_does_not():
    rng = np.random.default_rng(7)
    x, u = rng.normal(size=21), np.full(21, 0.01)
    with pytest.raises(UncertaintyInputError) as exc:
        largest_consistent_subset(x, u)
    assert exc.value.field == "x"
    assert "iterative" in str(exc.value)
    s = largest_consistent_subset(x, u, method="iterative")
    assert s.reference.check.passed


def test_candidates_bound_the_search():
    x = np.array([0.0, 0.05, 3.0, 3.05])
    u = np.full(4, 0.1)
    s = largest_consistent_subset(x, u, candidates=[False, False, True, True])
    assert s.excluded == (0, 1)
    assert s.reference.value == pytest.approx(3.025)


@FAST
@given(data=results(min_size=2, max_size=7), alpha=st.sampled_from([0.01, 0.05, 0.1]))
def test_largest_consistent_subset_is_largest_and_smallest_chi2(data, alpha):
    x, u = data
    s = largest_consistent_subset(x, u, alpha=alpha)
    m, chi2, _ = brute_force_lcs(x, u, alpha)
    assert s.included.sum() == m
    assert s.reference.check.passed
    assert s.reference.check.chi2 == pytest.approx(chi2, rel=1e-9, abs=1e-9)
    assert s.excluded == tuple(int(i) for i in np.flatnonzero(~s.included))


@FAST
@given(data=results(min_size=2, max_size=7))
def test_iterative_subset_passes_and_is_never_larger_than_the_exhaustive_one(data):
    x, u = data
    it = largest_consistent_subset(x, u, method="iterative")
    ex = largest_consistent_subset(x, u)
    assert it.reference.check.passed
    assert it.included.sum() <= ex.included.sum()


# --- properties ---------------------------------------------------------------------------


@FAST
@given(data=results())
def test_reference_value_lies_between_min_and_max(data):
    x, u = data
    r = weighted_mean(x, u)
    tol = 1e-12 * max(1.0, float(np.max(np.abs(x))))
    assert x.min() - tol <= r.value <= x.max() + tol
    assert r.u <= u.min() * (1 + 1e-12)


@FAST
@given(data=results(), seed=st.integers(0, 2**32 - 1))
def test_permutation_invariance(data, seed):
    x, u = data
    assume(brute_force_lcs(x, u)[2] == 1)  # tied subsets are told apart by their order
    perm = np.random.default_rng(seed).permutation(len(x))
    a = evaluate_comparison(x, u)
    b = evaluate_comparison(x[perm], u[perm])
    assert b.reference.value == pytest.approx(a.reference.value, rel=1e-12, abs=1e-9)
    assert b.reference.u == pytest.approx(a.reference.u, rel=1e-12)
    assert b.first_check.chi2 == pytest.approx(a.first_check.chi2, rel=1e-9, abs=1e-9)
    np.testing.assert_allclose(b.doe.d, a.doe.d[perm], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(b.doe.U, a.doe.U[perm], rtol=1e-9)
    assert b.subset.included.tolist() == a.subset.included[perm].tolist()


@FAST
@given(data=results(), scale=st.floats(min_value=-50.0, max_value=50.0).filter(
    lambda s: abs(s) > 1e-2), shift=values)
def test_scale_and_shift_equivariance(data, scale, shift):
    x, u = data
    assume(brute_force_lcs(x, u)[2] == 1)  # tied subsets may swap under rounding
    a = evaluate_comparison(x, u)
    assume(not math.isclose(a.first_check.p_value, 0.05, rel_tol=1e-6))
    b = evaluate_comparison(scale * x + shift, abs(scale) * u)
    span = abs(scale) * float(np.max(np.abs(x))) + abs(shift) + 1.0
    assert b.reference.value == pytest.approx(scale * a.reference.value + shift, abs=1e-9 * span)
    assert b.reference.u == pytest.approx(abs(scale) * a.reference.u, rel=1e-9)
    assert b.first_check.chi2 == pytest.approx(a.first_check.chi2, rel=1e-6, abs=1e-6)
    assert b.subset.included.tolist() == a.subset.included.tolist()
    np.testing.assert_allclose(b.doe.d, scale * a.doe.d, atol=1e-9 * span)
    np.testing.assert_allclose(b.doe.U, abs(scale) * a.doe.U, rtol=1e-6, atol=1e-12 * span)


@FAST
@given(data=results())
def test_weighted_mean_of_contributing_degrees_of_equivalence_is_zero(data):
    x, u = data
    res = evaluate_comparison(x, u)
    c = res.doe.contributing
    w = u[c] ** -2
    # as a weighted mean of the d_i: zero to the rounding of the x_i
    assert abs(float(np.sum(w * res.doe.d[c]) / np.sum(w))) <= 1e-12 * (np.max(np.abs(x)) + 1)


@FAST
@given(data=results())
def test_contributing_doe_variance_is_nonnegative(data):
    x, u = data
    r = weighted_mean(x, u)
    var = u**2 - r.u**2
    assert np.all(var >= -1e-15 * u**2)
    doe = degrees_of_equivalence(x, u, r)
    np.testing.assert_allclose(doe.u**2, np.maximum(var, 0.0), rtol=1e-9, atol=1e-15)


@FAST
@given(x=values, U=uncertainties, U_ref=st.floats(min_value=0.0, max_value=10.0))
def test_en_of_identical_values_is_zero(x, U, U_ref):
    s = en_numbers(x, U, x, U_ref)
    assert s.value == 0.0
    assert s.verdict[()] is Verdict.SATISFACTORY


# --- scores -------------------------------------------------------------------------------


def test_en_numbers_formula_and_verdicts():
    s = en_numbers([10.3, 10.6, 9.0], [0.3, 0.3, 0.5], 10.0, 0.4)
    np.testing.assert_allclose(s.value, [0.6, 1.2, -1.0 / math.sqrt(0.41)])
    assert s.verdict.tolist() == [Verdict.SATISFACTORY, Verdict.UNSATISFACTORY,
                                  Verdict.UNSATISFACTORY]
    assert s.satisfactory.tolist() == [True, False, False]
    edge = en_numbers(1.0, 0.6, 0.0, 0.8)  # |En| = 1 exactly: satisfactory
    assert edge.value == pytest.approx(1.0)
    assert edge.verdict[()] is Verdict.SATISFACTORY


@pytest.mark.parametrize(("z", "verdict"), [
    (0.0, Verdict.SATISFACTORY), (2.0, Verdict.SATISFACTORY), (-2.0, Verdict.SATISFACTORY),
    (2.5, Verdict.QUESTIONABLE), (-2.9, Verdict.QUESTIONABLE),
    (3.0, Verdict.UNSATISFACTORY), (-3.5, Verdict.UNSATISFACTORY),
])
def test_z_score_bands(z, verdict):
    s = z_scores(5.0 + 0.5 * z, 5.0, 0.5)
    assert s.value == pytest.approx(z)
    assert s.verdict[()] is verdict


def test_zeta_scores_use_standard_uncertainties_and_broadcast():
    s = zeta_scores([[1.0, 1.5], [0.2, 2.2]], 0.3, 1.0, 0.4)
    np.testing.assert_allclose(s.value, (np.array([[1.0, 1.5], [0.2, 2.2]]) - 1.0) / 0.5)
    assert s.verdict.shape == (2, 2)
    assert s.verdict[1, 1] is Verdict.QUESTIONABLE
    assert s.verdict[1, 0] is Verdict.SATISFACTORY


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(("call", "field", "text"), [
    (lambda: weighted_mean([1.0, math.nan], [1.0, 1.0]), "x[1]", "nan"),
    (lambda: weighted_mean([1.0, math.inf], [1.0, 1.0]), "x[1]", "inf"),
    (lambda: weighted_mean([1.0, 2.0], [1.0, 0.0]), "u[1]", "0.0"),
    (lambda: weighted_mean([1.0, 2.0], [-1.0, 1.0]), "u[0]", "-1.0"),
    (lambda: weighted_mean([1.0, 2.0], [1.0, math.inf]), "u[1]", "inf"),
    (lambda: weighted_mean([1.0, 2.0, 3.0], [1.0, 1.0]), "u", "2 values"),
    (lambda: weighted_mean([1.0], [1.0]), "x", "1 participant"),
    (lambda: weighted_mean([[1.0, 2.0]], [[1.0, 1.0]]), "x", "(1, 2)"),
    (lambda: weighted_mean(["a", "b"], [1.0, 1.0]), "x", "a"),
    (lambda: weighted_mean([1.0, 2.0], [1.0, 1.0], [3.0, 0.0]), "dof[1]", "0.0"),
    (lambda: weighted_mean([1.0, 2.0], [1.0, 1.0], [3.0]), "dof", "1 values"),
    (lambda: weighted_mean([1.0, 2.0], [1.0, 1.0], alpha=1.5), "alpha", "1.5"),
    (lambda: weighted_mean([1.0, 2.0], [1.0, 1.0], included=[False, False]), "included",
     "False"),
    (lambda: weighted_mean([1.0, 2.0], [1.0, 1.0], included=[1, 0]), "included", "[1, 0]"),
    (lambda: evaluate_comparison([1.0, 2.0], [1.0, 1.0], k=0.0), "k", "0.0"),
    (lambda: evaluate_comparison([1.0, 9.0], [0.1, 0.1], subset="greedy"), "subset", "greedy"),
    (lambda: largest_consistent_subset([1.0, 2.0], [1.0, 1.0], method="greedy"), "method",
     "greedy"),
    (lambda: degrees_of_equivalence([1.0, 2.0, 3.0], [1.0, 1.0, 1.0],
                                    weighted_mean([1.0, 2.0], [1.0, 1.0])), "reference",
     "2 participants"),
    (lambda: en_numbers(1.0, 0.0, 1.0, 0.1), "U_x", "0.0"),
    (lambda: en_numbers([1.0, 2.0], [0.1, 0.1], 1.0, -0.1), "U_X", "-0.1"),
    (lambda: z_scores([1.0, math.nan], 1.0, 0.1), "x[1]", "nan"),
    (lambda: z_scores(1.0, 1.0, 0.0), "sigma_pt", "0.0"),
    (lambda: zeta_scores([1.0, 2.0, 3.0], [0.1, 0.1], 1.0, 0.1), "u_x", "(2,)"),
])
def test_bad_input_names_field_value_and_allowed(call, field, text):
    with pytest.raises(UncertaintyInputError) as exc:
        call()
    assert isinstance(exc.value, ValidationError)
    assert isinstance(exc.value, ValueError)
    assert exc.value.field == field
    assert text in str(exc.value)
    assert exc.value.allowed
