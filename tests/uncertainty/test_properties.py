"""Property tests (hypothesis) of the law of propagation and its agreement with Monte Carlo."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labctl.uncertainty import Normal, Rectangular, StudentT, gum, mcm

coef = st.floats(min_value=-5.0, max_value=5.0, allow_nan=False).filter(lambda c: abs(c) > 0.05)
unc = st.floats(min_value=1e-3, max_value=10.0, allow_nan=False)
val = st.floats(min_value=-100.0, max_value=100.0, allow_nan=False)
dof = st.one_of(st.just(math.inf), st.integers(min_value=1, max_value=60).map(float))
FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(c1=coef, c2=coef, u1=unc, u2=unc, x1=val, x2=val, seed=st.integers(0, 2**32 - 1))
def test_linear_model_gum_and_monte_carlo_agree(c1, c2, u1, u2, x1, x2, seed):
    inputs = {"a": Normal(x1, u1), "b": Rectangular(x2, u2 * math.sqrt(3))}

    def f(a, b):
        return c1 * a + c2 * b

    g = gum(f, inputs)
    m = mcm(f, inputs, trials=200_000, rng=seed)
    assert m.value == pytest.approx(g.value, abs=6 * g.u / math.sqrt(200_000) + 1e-9)
    assert m.u == pytest.approx(g.u, rel=0.02)


@FAST
@given(c=coef, u=unc, x=val, scale=st.floats(min_value=0.01, max_value=100.0))
def test_scaling_an_input_uncertainty_scales_its_contribution(c, u, x, scale):
    def f(a, b):
        return c * a * (1 + 0 * b) + b

    base = gum(f, {"a": Normal(x, u), "b": Normal(1.0, 0.5)})
    scaled = gum(f, {"a": Normal(x, u * scale), "b": Normal(1.0, 0.5)})
    assert scaled.budget["a"].contribution == pytest.approx(
        scale * base.budget["a"].contribution, rel=1e-6)
    assert scaled.budget["b"].contribution == pytest.approx(base.budget["b"].contribution,
                                                            rel=1e-6)


@FAST
@given(c1=coef, c2=coef, u1=unc, u2=unc)
def test_correlation_plus_and_minus_one_limits(c1, c2, u1, u2):
    inputs = {"a": Normal(1.0, u1), "b": Normal(2.0, u2)}

    def f(a, b):
        return c1 * a + c2 * b

    plus = gum(f, inputs, {("a", "b"): 1.0})
    minus = gum(f, inputs, {("a", "b"): -1.0})
    g1, g2 = c1 * u1, c2 * u2
    # u = √var: near total cancellation a rounding of ε·g² in var shows as √ε·g in u
    tol = 1e-7 * (abs(g1) + abs(g2))
    assert plus.u == pytest.approx(abs(g1 + g2), rel=1e-6, abs=tol)
    assert minus.u == pytest.approx(abs(g1 - g2), rel=1e-6, abs=tol)


@FAST
@given(us=st.lists(unc, min_size=1, max_size=6), dofs=st.lists(dof, min_size=6, max_size=6),
       cs=st.lists(coef, min_size=6, max_size=6))
def test_welch_satterthwaite_never_below_the_smallest_input_dof(us, dofs, cs):
    names = [f"x{i}" for i in range(len(us))]
    inputs = {n: StudentT(0.0, u, d) if math.isfinite(d) else Normal(0.0, u)
              for n, u, d in zip(names, us, dofs, strict=False)}

    def f(**x):
        return sum(c * x[n] for n, c in zip(names, cs, strict=False))

    r = gum(f, inputs)
    assert r.dof >= min(dofs[: len(us)]) * (1 - 1e-9)


@FAST
@given(n=st.integers(min_value=1, max_value=12), seed=st.integers(0, 2**32 - 1))
def test_n_points_in_one_call_equal_n_single_calls(n, seed):
    rng = np.random.default_rng(seed)
    V = rng.uniform(0.1, 10.0, n)
    uV = rng.uniform(1e-6, 1e-4, n) * V
    dofV = rng.integers(2, 30, n).astype(float)

    def f(V, alpha, T, g):
        return V * (1 + alpha * (T - 20.0)) / (1 + g)

    def inputs(v, u, nu):
        return {"V": Normal(v, u, dof=nu), "alpha": Rectangular(4e-6, 1e-6),
                "T": Normal(23.0, 0.2), "g": Rectangular(0.0, 2e-6, dof=50)}

    many = gum(f, inputs(V, uV, dofV), {("V", "T"): 0.3}, coverage=0.99)
    for i in range(n):
        one = gum(f, inputs(V[i], uV[i], dofV[i]), {("V", "T"): 0.3}, coverage=0.99)
        assert many.value[i] == pytest.approx(one.value, rel=1e-12)
        assert many.u[i] == pytest.approx(one.u, rel=1e-9)
        assert many.dof[i] == pytest.approx(one.dof, rel=1e-9)
        assert many.k[i] == pytest.approx(one.k, rel=1e-12)
        assert many.budget.sensitivity[:, i] == pytest.approx(one.budget.sensitivity, rel=1e-9)
