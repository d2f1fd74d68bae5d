"""JCGM 101 Monte Carlo: intervals, reproducibility, correlation, blocks, adaptive stopping."""

import math

import numpy as np
import pytest
from scipy import stats

from labctl.errors import UncertaintyInputError
from labctl.uncertainty import (
    Normal,
    Rectangular,
    StudentT,
    gum,
    mcm,
    numerical_tolerance,
    validate_gum,
)

M = 400_000


def test_same_generator_state_same_result_and_seed_entropy_reproduces():
    inputs = {"a": Normal(1.0, 0.1), "b": Rectangular(2.0, 0.5)}

    def f(a, b):
        return a * b

    r1 = mcm(f, inputs, trials=50_000, rng=np.random.default_rng(5))
    r2 = mcm(f, inputs, trials=50_000, rng=5)
    assert (r1.value, r1.u, r1.interval) == (r2.value, r2.u, r2.interval)
    r3 = mcm(f, inputs, trials=50_000)
    assert r3.seed_entropy is not None
    r4 = mcm(f, inputs, trials=50_000, rng=np.random.default_rng(r3.seed_entropy))
    assert (r3.value, r3.u, r3.interval) == (r4.value, r4.u, r4.interval)


def test_parallel_parts_are_reproducible_from_the_generator():
    # large runs are drawn in parts from child generators on threads: still one answer per seed
    inputs = {"a": Normal(1.0, 0.1), "b": Rectangular(2.0, 0.5)}
    runs = [mcm(lambda a, b: a * b, inputs, trials=300_000, rng=np.random.default_rng(21))
            for _ in range(2)]
    assert runs[0].u == runs[1].u and runs[0].interval == runs[1].interval
    assert runs[0].u == pytest.approx(math.sqrt(4 * 0.01 + 0.25 / 3), rel=0.01)


def test_symmetric_and_shortest_intervals_of_a_skewed_output():
    # y = x², x ~ N(0, 1): chi-square with 1 dof. Its pdf decreases, so the shortest 95 %
    # interval is [0, χ²_0.95] while the symmetric one is [χ²_0.025, χ²_0.975].
    r = mcm(lambda x: x**2, {"x": Normal(0.0, 1.0)}, trials=M, rng=np.random.default_rng(1))
    assert r.interval[0] == pytest.approx(stats.chi2.ppf(0.025, 1), abs=2e-4)
    assert r.interval[1] == pytest.approx(stats.chi2.ppf(0.975, 1), rel=0.02)
    assert r.shortest_interval[0] == pytest.approx(0.0, abs=1e-4)
    assert r.shortest_interval[1] == pytest.approx(stats.chi2.ppf(0.95, 1), rel=0.02)
    assert r.u == pytest.approx(math.sqrt(2), rel=0.02)


def test_rectangular_input_interval():
    r = mcm(lambda x: x, {"x": Rectangular(10.0, 2.0)}, trials=M, rng=1)
    assert r.interval[0] == pytest.approx(10.0 - 0.95 * 2.0, abs=0.01)
    assert r.interval[1] == pytest.approx(10.0 + 0.95 * 2.0, abs=0.01)
    assert r.u == pytest.approx(2.0 / math.sqrt(3), rel=0.01)


def test_correlated_normals_are_drawn_jointly():
    # JCGM 101 6.4.8: multivariate normal; Var(a + b) = ua² + ub² + 2 r ua ub
    inputs = {"a": Normal(1.0, 0.3), "b": Normal(2.0, 0.4), "c": Normal(0.0, 0.1)}
    for r_ab in (0.5, -0.9, 1.0, -1.0):
        r = mcm(lambda a, b, c: a + b + c, inputs, {("a", "b"): r_ab}, trials=M, rng=2)
        expected = math.sqrt(0.09 + 0.16 + 2 * r_ab * 0.12 + 0.01)
        assert r.u == pytest.approx(expected, rel=0.01)


def test_correlated_rectangulars_through_the_gaussian_copula():
    inputs = {"a": Rectangular(0.0, 1.0), "b": Rectangular(0.0, 1.0)}
    r = mcm(lambda a, b: a - b, inputs, {("a", "b"): 0.8}, trials=M, rng=3)
    rho = 6 / math.pi * math.asin(0.8 / 2)  # Pearson correlation of a Gaussian copula
    u2 = 1 / 3
    assert r.u == pytest.approx(math.sqrt(2 * u2 - 2 * rho * u2), rel=0.01)
    # the marginals stay rectangular: every draw of a − b lies within ±2
    assert r.shortest_interval[0] >= -2.0 and r.shortest_interval[1] <= 2.0


def test_student_t_input_uses_the_scale_relation():
    r = mcm(lambda q: q, {"q": StudentT(5.0, 0.2, 6)}, trials=M, rng=4)
    assert r.u == pytest.approx(0.2 * math.sqrt(6 / 4), rel=0.02)
    assert r.interval[1] - 5.0 == pytest.approx(0.2 * stats.t.ppf(0.975, 6), rel=0.02)


def test_several_outputs_give_their_covariance():
    inputs = {"a": Normal(0.0, 1.0), "b": Normal(0.0, 1.0)}
    r = mcm(lambda a, b: (a, a + b), inputs, trials=M, rng=6)
    assert r.value.shape == (2,)
    assert r.u == pytest.approx([1.0, math.sqrt(2)], rel=0.01)
    assert r.correlation[0, 1] == pytest.approx(1 / math.sqrt(2), abs=0.01)
    assert r.cov[1, 1] == pytest.approx(r.u[1] ** 2)


def test_points_as_arrays():
    x = np.array([1.0, 10.0, 100.0])
    r = mcm(lambda x, g: x * g, {"x": Normal(x, 0.01 * x), "g": Rectangular(1.0, 0.02)},
            trials=M, rng=7)
    expected_u = x * math.sqrt(0.01**2 + 0.02**2 / 3)
    assert r.value == pytest.approx(x, rel=1e-3)
    assert r.u == pytest.approx(expected_u, rel=0.01)
    assert r.interval[0].shape == (3,)


def test_blocks_and_float32_storage_give_the_same_statistics():
    inputs = {"a": Normal(100.0, 0.5), "b": Rectangular(0.0, 1.0)}

    def f(a, b):
        return a + b

    ref = mcm(f, inputs, trials=M, rng=8)
    small = mcm(f, inputs, trials=M, rng=8, block_size=7_777, max_memory=0)
    assert small.trials == M
    assert small.u == pytest.approx(ref.u, rel=0.01)
    assert small.interval == pytest.approx(ref.interval, abs=0.01)
    assert small.value == pytest.approx(ref.value, abs=0.005)


def test_adaptive_procedure_stops_at_the_tolerance():
    inputs = {"a": Normal(0.0, 1.0), "b": Normal(0.0, 1.0)}
    r = mcm(lambda a, b: a + b, inputs, rng=9, significant_digits=2)
    assert r.adaptive and r.converged
    assert r.trials % 10_000 == 0 and r.trials >= 20_000  # blocks of max(100/(1-p), 1e4)
    assert r.tolerance == pytest.approx(0.05)  # u = 1.4 -> 14 × 10^-1, δ = 0.05
    assert r.u == pytest.approx(math.sqrt(2), abs=2 * 0.05)


def test_adaptive_block_size_follows_the_coverage_probability():
    # p = 0.999: M = 100/(1 − p) = 10^5 per block (JCGM 101 7.9.4 b)
    r = mcm(lambda a: a, {"a": Normal(0.0, 1.0)}, coverage=0.999, rng=10)
    assert r.trials % 100_000 == 0


def test_adaptive_gives_up_at_max_trials():
    r = mcm(lambda a: a, {"a": Normal(0.0, 1.0)}, rng=11, significant_digits=4,
            max_trials=30_000)
    assert r.adaptive and not r.converged
    assert r.trials <= 30_000


@pytest.mark.parametrize(("u", "digits", "delta"), [
    (2.0, 2, 0.05), (2.0, 3, 0.005), (0.0754, 2, 0.0005), (0.0754, 3, 0.00005),
    (1.0e-2, 2, 0.0005), (0.0999, 2, 0.005), (35.0, 1, 5.0),
])
def test_numerical_tolerance_jcgm101_792(u, digits, delta):
    assert float(numerical_tolerance(u, digits)) == pytest.approx(delta)


def test_validation_of_a_linear_gaussian_model_passes():
    inputs = {"a": Normal(1.0, 0.2), "b": Normal(3.0, 0.1)}

    def f(a, b):
        return 2 * a + b

    v = validate_gum(gum(f, inputs), mcm(f, inputs, trials=10**6, rng=12))
    assert v.passed
    assert v.tolerance == pytest.approx(0.005)  # u = 0.41 -> δ = 0.005


def test_too_many_values_to_keep_is_refused_before_drawing():
    # 2·10^9 trials × 4 bytes = 8 GB of values for the intervals
    with pytest.raises(UncertaintyInputError) as exc:
        mcm(lambda x: x, {"x": Normal(0.0, 1.0)}, trials=2 * 10**9, rng=1)
    assert exc.value.field == "trials" and "GiB" in str(exc.value)


def test_many_points_run_in_groups_within_the_memory_budget():
    x = np.linspace(1.0, 10.0, 10)
    inputs = {"x": Normal(x, 0.01 * x), "g": Rectangular(1.0, 0.02), "c": Normal(0.0, 0.001)}

    def f(x, g, c):
        return x * g + c, x - c

    whole = mcm(f, inputs, trials=200_000, rng=np.random.default_rng(16))
    grouped = mcm(f, inputs, max_memory=3 * 4 * 2 * 200_000, trials=200_000,
                  rng=np.random.default_rng(17))  # 3 points per group
    assert grouped.value.shape == whole.value.shape == (2, 10)
    assert grouped.u == pytest.approx(whole.u, rel=0.02)
    assert grouped.interval[1] == pytest.approx(whole.interval[1], rel=1e-3)
    assert grouped.cov.shape == (2, 2, 10)
    assert grouped.correlation[0, 1] == pytest.approx(whole.correlation[0, 1], abs=0.02)
    again = mcm(f, inputs, max_memory=3 * 4 * 2 * 200_000, trials=200_000,
                rng=np.random.default_rng(17))
    assert np.array_equal(again.u, grouped.u)


def test_a_model_returning_nan_in_a_trial_names_the_trial():
    with pytest.raises(UncertaintyInputError) as exc:
        mcm(lambda x: np.sqrt(x), {"x": Normal(0.1, 1.0)}, trials=10_000, rng=13)
    assert exc.value.field == "model"
    assert "trial" in str(exc.value) and "x=" in str(exc.value)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"trials": 10}, "trials"),
    ({"trials": 1.5e6}, "trials"),
    ({"rng": "seed"}, "rng"),
    ({"coverage": 1.0}, "coverage"),
    ({"coverage": 0.0}, "coverage"),
    ({"significant_digits": 0}, "significant_digits"),
    ({"max_trials": 0}, "max_trials"),
    ({"block_size": 0}, "block_size"),
])
def test_bad_arguments(kwargs, field):
    with pytest.raises(UncertaintyInputError) as exc:
        mcm(lambda a: a, {"a": Normal(0.0, 1.0)}, **kwargs)
    assert exc.value.field == field
