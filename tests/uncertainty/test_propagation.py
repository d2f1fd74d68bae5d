"""Law of propagation (GUM clause 5): analytic models, correlation, W–S, k, several outputs."""

import math

import numpy as np
import pytest
from scipy import stats

from labctl.uncertainty import (
    Constant,
    Normal,
    Rectangular,
    StudentT,
    coverage_factor,
    gum,
    type_a_joint,
    welch_satterthwaite,
)


def test_linear_model_matches_eq_13_with_correlation():
    inputs = {"a": Normal(1.0, 0.1), "b": Normal(2.0, 0.2), "c": Rectangular(0.5, 0.3)}
    r = gum(lambda a, b, c: 2 * a - 3 * b + c, inputs, {("a", "b"): 0.25})
    ua, ub, uc = 0.1, 0.2, 0.3 / math.sqrt(3)
    var = 4 * ua**2 + 9 * ub**2 + uc**2 + 2 * 2 * (-3) * 0.25 * ua * ub
    assert r.value == pytest.approx(2 - 6 + 0.5)
    assert r.u == pytest.approx(math.sqrt(var), rel=1e-9)
    assert r.budget.sensitivity == pytest.approx([2, -3, 1], rel=1e-9)
    assert r.budget.contribution == pytest.approx([2 * ua, 3 * ub, uc], rel=1e-9)
    assert r.dof == math.inf
    assert r.k == pytest.approx(stats.norm.ppf(0.975))
    assert np.isclose(r.U, r.k * r.u)


def test_product_first_and_second_order():
    # y = a·b: u² = b²u_a² + a²u_b² (+ u_a²u_b² at second order, GUM 5.1.2 note)
    inputs = {"a": Normal(3.0, 0.2), "b": Normal(-2.0, 0.5)}
    first = gum(lambda a, b: a * b, inputs)
    second = gum(lambda a, b: a * b, inputs, order=2)
    v1 = 4 * 0.04 + 9 * 0.25
    assert first.u == pytest.approx(math.sqrt(v1), rel=1e-9)
    assert second.u == pytest.approx(math.sqrt(v1 + 0.04 * 0.25), rel=1e-6)


def test_second_order_square_of_a_normal_is_exact():
    # y = x² with x ~ N(μ, σ²): Var = 4μ²σ² + 2σ⁴ exactly; eq. (10) gives that.
    r = gum(lambda x: x**2, {"x": Normal(1.5, 0.4)}, order=2)
    assert r.u == pytest.approx(math.sqrt(4 * 1.5**2 * 0.16 + 2 * 0.4**4), rel=1e-6)


def test_nonlinear_sensitivity_central_and_richardson():
    # c = exp(x) exactly; a large u/x stresses the step (truncation ∝ (step·u)²)
    inputs = {"x": Normal(0.3, 0.5)}
    central = gum(lambda x: np.exp(x), inputs)
    rich = gum(lambda x: np.exp(x), inputs, derivative="richardson")
    assert central.budget.sensitivity[0] == pytest.approx(math.exp(0.3), rel=1e-4)
    assert rich.budget.sensitivity[0] == pytest.approx(math.exp(0.3), rel=1e-9)


def test_user_gradient_is_used():
    inputs = {"V": Normal(10.0, 0.01), "R": Normal(100.0, 0.05)}
    num = gum(lambda V, R: V**2 / R, inputs)
    ana = gum(lambda V, R: V**2 / R, inputs,
              gradient=lambda V, R: {"V": 2 * V / R, "R": -(V**2) / R**2})
    assert ana.budget.sensitivity == pytest.approx([0.2, -0.01], rel=1e-12)
    assert num.u == pytest.approx(ana.u, rel=1e-8)


def test_welch_satterthwaite_and_t_based_k():
    # two Type A components: ν_eff by eq. (G.2b) written out
    inputs = {"a": StudentT(0.0, 0.3, 4), "b": Normal(0.0, 0.4, dof=9), "c": Constant(2.0)}
    r = gum(lambda a, b, c: a + b + c, inputs)
    nu = (0.09 + 0.16) ** 2 / (0.3**4 / 4 + 0.4**4 / 9)
    assert r.dof == pytest.approx(nu)
    assert r.k == pytest.approx(stats.t.ppf(0.975, math.floor(nu)))
    assert r.budget["c"].u == 0.0 and r.budget["c"].contribution == 0.0
    no_trunc = gum(lambda a, b, c: a + b + c, inputs, truncate_dof=False)
    assert no_trunc.k == pytest.approx(stats.t.ppf(0.975, nu))
    assert welch_satterthwaite([0.3, 0.4], [4, 9]) == pytest.approx(nu)


def test_fixed_k_reports_the_implied_coverage():
    r = gum(lambda a: a, {"a": Normal(1.0, 0.1)}, k=2.0)
    assert r.k == 2.0 and np.isclose(r.U, 0.2)
    assert r.coverage == pytest.approx(0.9544997, abs=1e-6)


def test_coverage_factor_table_values():
    # GUM Table G.2: t_95(10) = 2.23, t_99(16) = 2.92, k_95(∞) = 1.96
    assert coverage_factor(0.95, 10) == pytest.approx(2.228, abs=1e-3)
    assert coverage_factor(0.99, 16.75) == pytest.approx(2.921, abs=1e-3)
    assert coverage_factor(0.95, math.inf) == pytest.approx(1.960, abs=1e-3)
    assert coverage_factor(0.9545, [math.inf, 3.99999999]) == pytest.approx(
        [2.0, stats.t.ppf((1 + 0.9545) / 2, 4)], abs=1e-4)


def test_several_outputs_gum_h2_resistance_reactance():
    # GUM H.2 (Table H.2 data, Table H.4 results): five simultaneous readings of V, I, φ.
    readings = {
        "V": [5.007, 4.994, 5.005, 4.990, 4.999],
        "I": [19.663e-3, 19.639e-3, 19.640e-3, 19.685e-3, 19.678e-3],
        "phi": [1.0456, 1.0438, 1.0468, 1.0428, 1.0433],
    }
    inputs, corr = type_a_joint(readings)
    assert corr[("V", "I")] == pytest.approx(-0.36, abs=0.005)
    assert corr[("V", "phi")] == pytest.approx(0.86, abs=0.005)
    assert corr[("I", "phi")] == pytest.approx(-0.65, abs=0.005)
    r = gum(lambda V, I, phi: (V / I * np.cos(phi), V / I * np.sin(phi), V / I),  # noqa: E741
            inputs, corr)
    assert r.value == pytest.approx([127.732, 219.847, 254.260], abs=0.0005)
    assert r.u == pytest.approx([0.071, 0.295, 0.236], abs=0.001)
    assert r.correlation[0, 1] == pytest.approx(-0.588, abs=0.0005)
    assert r.correlation[0, 2] == pytest.approx(-0.485, abs=0.0005)
    assert r.correlation[1, 2] == pytest.approx(0.993, abs=0.0005)
    assert r.cov[1, 1] == pytest.approx(r.u[1] ** 2)
    # all three inputs from the same 5 observations: one ensemble with ν = 4 (Willink)
    assert r.dof == pytest.approx([4, 4, 4])
    assert r.k == pytest.approx([stats.t.ppf(0.975, 4)] * 3)
    assert r.budget.sensitivity.shape == (3, 3)


def test_correlation_as_a_full_matrix_in_input_order():
    inputs = {"a": Normal(1.0, 0.1), "b": Normal(2.0, 0.2), "c": Normal(3.0, 0.3)}

    def f(a, b, c):
        return a + b - c

    pairs = gum(f, inputs, {("a", "b"): 0.3, ("b", "c"): -0.2})
    matrix = gum(f, inputs, np.array([[1.0, 0.3, 0.0], [0.3, 1.0, -0.2], [0.0, -0.2, 1.0]]))
    assert matrix.u == pytest.approx(pairs.u, rel=1e-12)


def test_correlation_limits_plus_minus_one():
    inputs = {"a": Normal(1.0, 0.3), "b": Normal(2.0, 0.4)}
    plus = gum(lambda a, b: a + b, inputs, {("a", "b"): 1.0})
    minus = gum(lambda a, b: a + b, inputs, {("b", "a"): -1.0})
    assert plus.u == pytest.approx(0.7)
    assert minus.u == pytest.approx(0.1)


def test_points_as_arrays_and_budget_rows():
    V = np.array([1.0, 5.0, 10.0])
    inputs = {"V_ind": Normal(V * 1.00001, 1e-5 * V, dof=9), "V_cal": Normal(V, 2e-5),
              "g": Rectangular(0.0, 1e-5)}
    r = gum(lambda V_ind, V_cal, g: V_ind - V_cal * (1 + g), inputs)
    assert r.value.shape == (3,) and r.u.shape == (3,) and r.dof.shape == (3,)
    assert r.budget.estimate.shape == (3, 3)
    row = r.budget["g"]
    assert row.sensitivity == pytest.approx(-V, rel=1e-6)
    assert row.dof == pytest.approx([math.inf] * 3)
    assert row.distribution == "rectangular"
    assert np.allclose(r.budget.share.sum(axis=0), 1.0)
    assert r.interval[0] == pytest.approx(r.value - r.U)
    assert "Budget" in str(r.budget)


def test_plain_numbers_are_constants_and_budget_prints():
    r = gum(lambda a, n: a * n, {"a": Normal(2.0, 0.1), "n": 3})
    assert r.u == pytest.approx(0.3)
    text = str(r.budget)
    assert "normal" in text and "constant" in text
    assert str(r) == "y = 6, u = 0.3, ν_eff = inf, k = 1.960, U = 0.588 (95 %)"
