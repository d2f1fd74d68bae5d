"""Input distributions (JCGM 101 clause 6): standard uncertainties, sampling, inverse cdf."""

import math

import numpy as np
import pytest
from scipy import integrate, stats

from labctl.errors import UncertaintyInputError
from labctl.uncertainty import (
    Arcsine,
    Constant,
    CurvilinearTrapezoid,
    Exponential,
    Gamma,
    Normal,
    Rectangular,
    StudentT,
    Trapezoidal,
    Triangular,
    dof_from_reliability,
)

M = 400_000

# (distribution, u per the JCGM 101 clause 6 formula written out independently)
CASES = [
    (Normal(10.0, 0.3), 0.3),
    (Rectangular(10.0, 0.3), 0.3 / math.sqrt(3)),
    (Triangular(10.0, 0.3), 0.3 / math.sqrt(6)),
    (Trapezoidal(10.0, 0.3, 0.4), math.sqrt((2 * 0.3) ** 2 * (1 + 0.4**2) / 24)),  # 6.4.4.3
    (Trapezoidal(10.0, 0.3, 1.0), 0.3 / math.sqrt(3)),  # β = 1 is rectangular
    (Trapezoidal(10.0, 0.3, 0.0), 0.3 / math.sqrt(6)),  # β = 0 is triangular
    (Arcsine(10.0, 0.3), 0.3 / math.sqrt(2)),
    (CurvilinearTrapezoid(10.0, 0.3, 0.1), math.sqrt((2 * 0.3) ** 2 / 12 + 0.1**2 / 9)),
    (CurvilinearTrapezoid(10.0, 0.3, 0.0), 0.3 / math.sqrt(3)),
    (StudentT(10.0, 0.3, 7), 0.3),
    (Constant(10.0), 0.0),
    (Exponential(10.0), 10.0),  # JCGM 101 6.4.10.3: u = x
    (Gamma(25.0, 0.4), math.sqrt(25.0) * 0.4),  # expectation 10, u = √α·β
]


@pytest.mark.parametrize(("dist", "u"), CASES, ids=lambda c: repr(c))
def test_standard_uncertainty(dist, u):
    assert float(dist.u) == pytest.approx(u, rel=1e-12)


@pytest.mark.parametrize(("dist", "u"), CASES, ids=lambda c: repr(c))
def test_samples_have_the_stated_mean_and_std(dist, u):
    rng = np.random.default_rng(7)
    x = dist.sample(rng, M)
    assert x.shape == (M,)
    std = float(dist.std)
    assert x.mean() == pytest.approx(10.0, abs=5 * std / math.sqrt(M) + 1e-12)
    assert x.std() == pytest.approx(std, rel=0.01, abs=1e-12)


@pytest.mark.parametrize(("dist", "u"), CASES, ids=lambda c: repr(c))
def test_inverse_cdf_matches_the_sampler(dist, u):
    # the copula path (ppf) and the direct sampler must describe the same distribution
    rng = np.random.default_rng(8)
    x = dist.sample(rng, M)
    probs = np.array([0.01, 0.1, 0.3, 0.5, 0.8, 0.975])
    q_ppf = dist.ppf(probs)
    q_emp = np.quantile(x, probs)
    assert q_ppf == pytest.approx(q_emp, abs=0.01 * max(float(dist.std), 1e-9) * 3 + 1e-12)


def test_student_t_scale_relation():
    # JCGM 101 6.4.9: t_ν(x̄, s²/n) has standard deviation s/√n · √(ν/(ν−2))
    d = StudentT(1.0, 0.2, 5)
    assert float(d.std) == pytest.approx(0.2 * math.sqrt(5 / 3))
    assert float(StudentT(1.0, 0.2, 2).std) == math.inf
    assert float(d.u) == 0.2
    assert float(d.ppf(np.array(0.975))) == pytest.approx(1.0 + 0.2 * stats.t.ppf(0.975, 5))


def test_student_t_from_expanded():
    d = StudentT.from_expanded(5.0, U=0.26, dof=10, coverage=0.95)
    assert float(d.scale) == pytest.approx(0.26 / stats.t.ppf(0.975, 10))
    assert float(d.dof) == 10


def test_normal_from_expanded_and_rectangular_from_bounds():
    assert float(Normal.from_expanded(1.0, 0.04, k=2).u) == pytest.approx(0.02)
    r = Rectangular.from_bounds(1.1, 1.3)
    assert float(r.value) == pytest.approx(1.2)
    assert float(r.half_width) == pytest.approx(0.1)


def test_curvilinear_trapezoid_cdf_integrates_its_pdf():
    # JCGM 101 6.4.3.2 pdf, integrated numerically, against the closed-form cdf
    a, d, mu = 0.3, 0.1, 10.0

    def pdf(x):
        t = abs(x - mu)
        if t <= a - d:
            return math.log((a + d) / (a - d)) / (4 * d)
        if t <= a + d:
            return math.log((a + d) / t) / (4 * d)
        return 0.0

    dist = CurvilinearTrapezoid(mu, a, d)
    for x in (9.65, 9.75, 9.9, 10.0, 10.25, 10.38):
        expected, _ = integrate.quad(pdf, mu - a - d, x, points=[mu - a + d, mu + a - d])
        assert float(dist.cdf(x)) == pytest.approx(expected, abs=1e-9)


def test_gamma_from_counts_jcgm101_6411():
    g = Gamma.from_counts(7)
    assert float(g.value) == 8.0 and float(g.u) == pytest.approx(math.sqrt(8.0))


def test_dof_none_means_infinite():
    # data files (JSON) write an unstated / infinite dof as null
    assert float(Normal(1.0, 0.1, dof=None).dof) == math.inf
    assert float(Rectangular(1.0, 0.1, dof=None).dof) == math.inf


def test_dof_from_reliability_gum_g42():
    # GUM H.1.3.2: "reliable to 25 %" -> ν = 8
    assert float(dof_from_reliability(0.25)) == 8.0
    assert float(dof_from_reliability(0.10)) == pytest.approx(50.0)


def test_arrays_of_points():
    d = Rectangular(np.array([1.0, 2.0, 3.0]), 0.5)
    assert d.shape == (3,)
    x = d.sample(np.random.default_rng(1), 1000)
    assert x.shape == (1000, 3)
    assert np.all(np.abs(x - np.array([1.0, 2.0, 3.0])) <= 0.5)


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Normal(1.0, -0.1), "Normal.u"),
        (lambda: Normal(1.0, math.nan), "Normal.u"),
        (lambda: Normal(1.0, math.inf), "Normal.u"),
        (lambda: Normal(math.nan, 0.1), "Normal.value"),
        (lambda: Normal(1.0, 0.1, dof=0), "Normal.dof"),
        (lambda: Normal(1.0, 0.1, dof=-3), "Normal.dof"),
        (lambda: Normal(1.0, [0.1, -0.2, 0.3]), "Normal.u[1]"),
        (lambda: Rectangular(1.0, -1.0), "Rectangular.half_width"),
        (lambda: Trapezoidal(1.0, 1.0, 1.5), "Trapezoidal.beta"),
        (lambda: CurvilinearTrapezoid(1.0, 0.1, 0.2),
         "CurvilinearTrapezoid.half_width_uncertainty"),
        (lambda: StudentT(1.0, 0.1, 0), "StudentT.dof"),
        (lambda: Arcsine(1.0, math.inf), "Arcsine.half_width"),
        (lambda: Normal([1.0, 2.0], [0.1, 0.2, 0.3]), "Normal"),
        (lambda: Rectangular.from_bounds(2.0, 1.0), "Rectangular.upper"),
        (lambda: dof_from_reliability(0.0), "dof_from_reliability.relative_uncertainty_of_u"),
    ],
)
def test_bad_parameters_name_the_field_and_value(make, field):
    with pytest.raises(UncertaintyInputError) as exc:
        make()
    assert exc.value.field == field
    assert isinstance(exc.value, ValueError)
    assert field in str(exc.value)
