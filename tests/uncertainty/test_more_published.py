"""Further published examples, beyond data/cases.json, each with its source.

The figures are those printed in the cited documents, as also quoted by sandialabs/suncal's
test/test_examples.py (NIST, NPL, ENGR224, JCGM 102) and by the DB48X calculator's
GUMS1Library help (JCGM 101 9.2.4, 9.4, 9.5 inputs and results); tolerances are the printed
resolution, plus Monte Carlo noise where noted.
"""

import math

import numpy as np
import pytest

from labctl.uncertainty import Normal, Rectangular, gum, mcm


def test_engr224_degrees_of_freedom():
    # SNL ENGR224 course example: u_a = 0.57 (ν = 9), u_b = 0.25 (ν = ∞) -> ν_eff = 12.8
    r = gum(lambda a, b: a + b, {"a": Normal(1.0, 0.57, dof=9), "b": Normal(1.0, 0.25)})
    assert r.dof == pytest.approx(12.8, abs=0.05)


def test_engr224_xrf():
    # SNL ENGR224 (v2) X-ray fluorescence: yc = X1/X2·Yu; u = 0.00494, ν = 27.7, U95 = 0.0101
    inputs = {"X1": Normal(0.1820, 0.00093, dof=9), "X2": Normal(0.1823, 0.00058, dof=19),
              "Yu": Normal(0.6978, 0.0026, dof=19)}
    r = gum(lambda X1, X2, Yu: X1 / X2 * Yu, inputs)
    assert r.value == pytest.approx(0.6967, abs=0.00005)
    assert r.u == pytest.approx(0.00494, abs=0.00001)  # the slides round; suncal uses 1e-5 too
    assert r.dof == pytest.approx(27.7, abs=0.5)
    assert abs(r.U - 0.0101) <= 0.00005


def _stefan_boltzmann(h, R, Rinf, e, alpha):
    num = 32 * np.pi**5 * h * R**4 * Rinf**4
    den = 15 * e**4 * 0.001**4 * 299792458.0**6 * alpha**8
    return num / den


SB_INPUTS = {
    "h": Normal(6.62606957e-34, 0.00000029e-34),
    "R": Normal(8.3144621, 0.0000075),
    "Rinf": Normal(10973731.568539, 0.000055),
    "e": Normal(5.4857990946e-4, 0.0000000022e-4),
    "alpha": Normal(7.2973525698e-3, 0.0000000024e-3),
}


def test_nist_uncertainty_machine_stefan_boltzmann_gum():
    # NIST Uncertainty Machine manual, example 10 (CODATA 2010 inputs): relative
    # uncertainties of 1e-8 stress the numerical sensitivities.
    r = gum(_stefan_boltzmann, SB_INPUTS)
    assert r.value == pytest.approx(5.67037e-8, abs=0.000005e-8)
    assert r.u == pytest.approx(2.05e-13, abs=0.005e-13)


def test_nist_uncertainty_machine_stefan_boltzmann_monte_carlo():
    m = mcm(_stefan_boltzmann, SB_INPUTS, trials=10**6, rng=0, coverage=0.99)
    assert m.u == pytest.approx(2.05e-13, rel=0.01)
    assert m.interval[0] == pytest.approx(5.67032e-8, abs=0.000005e-8)
    assert m.interval[1] == pytest.approx(5.67043e-8, abs=0.000005e-8)
    m68 = mcm(_stefan_boltzmann, SB_INPUTS, trials=10**6, rng=1, coverage=0.68)
    assert m68.interval[0] == pytest.approx(5.67035e-8, abs=0.000005e-8)
    assert m68.interval[1] == pytest.approx(5.67039e-8, abs=0.000005e-8)


def test_npl_dem_es_011_log_model():
    # NPL DEM-ES-011 (Cox & Harris), 9.2, Table 9.2: y = ln x, x ~ R(0.1, 1.1).
    inputs = {"x": Rectangular(0.6, 0.5)}
    g = gum(lambda x: np.log(x), inputs)
    assert g.value == pytest.approx(-0.511, abs=0.0005)
    assert g.u == pytest.approx(0.481, abs=0.0005)
    assert g.value + g.U == pytest.approx(0.432, abs=0.001)
    m = mcm(lambda x: np.log(x), inputs, trials=2 * 10**6, rng=12345)
    assert m.value == pytest.approx(-0.665, abs=0.001)
    assert m.u == pytest.approx(0.606, abs=0.001)
    # the published interval is the shortest one
    assert m.shortest_interval[0] == pytest.approx(-1.895, abs=0.003)
    assert m.shortest_interval[1] == pytest.approx(0.095, abs=0.002)


def test_jcgm101_94_comparison_loss_zero_estimates():
    # JCGM 101 9.4.2 (x1 = x2 = 0, u = 0.005, uncorrelated): the GUF gives u = 0, Monte Carlo
    # y = 5.0e-5, u = 5.0e-5 and the shortest 95 % interval [0, 1.5e-4] (Table 8).
    inputs = {"X1": Normal(0.0, 0.005), "X2": Normal(0.0, 0.005)}

    def f(X1, X2):
        return X1**2 + X2**2

    g = gum(f, inputs)
    assert g.value == 0.0 and g.u == 0.0
    m = mcm(f, inputs, trials=10**6, rng=2)
    assert m.value == pytest.approx(5.0e-5, abs=0.05e-5)
    assert m.u == pytest.approx(5.0e-5, abs=0.05e-5)
    assert m.shortest_interval[0] == pytest.approx(0.0, abs=0.005e-4)
    assert m.shortest_interval[1] == pytest.approx(1.5e-4, abs=0.05e-4)
    # second-order GUF (JCGM 101 9.4.2.2 note): u = √2·2u² … here 2u² √(1/2·2·2) = 5.0e-5
    g2 = gum(f, inputs, order=2)
    assert g2.u == pytest.approx(5.0e-5, rel=1e-6)


@pytest.mark.parametrize(("re", "r", "mag_mean", "mag_u", "ph_mean", "ph_u"), [
    (0.001, 0.0, 0.013, 0.007, 0.0, 1.744),
    (0.001, 0.9, 0.012, 0.008, -0.556, 1.599),
    (0.010, 0.9, 0.015, 0.008, -0.343, 0.903),
])
def test_jcgm102_magnitude_and_phase(re, r, mag_mean, mag_u, ph_mean, ph_u):
    # JCGM 102:2011 9.2 (Tables 6 and 7): magnitude and phase of a complex quantity with
    # u(re) = u(im) = 0.010; GUF u(phase) = u/|z|.
    inputs = {"re": Normal(re, 0.010), "im": Normal(0.0, 0.010)}
    corr = {("re", "im"): r} if r else None

    def f(re, im):
        return np.hypot(re, im), np.arctan2(im, re)

    g = gum(f, inputs, corr)
    assert g.value[0] == pytest.approx(re, abs=0.0005)
    assert g.u[0] == pytest.approx(0.010, abs=0.001)
    assert g.u[1] == pytest.approx(0.010 / re, rel=1e-3)
    m = mcm(f, inputs, corr, trials=10**6, rng=3)
    assert m.value[0] == pytest.approx(mag_mean, abs=0.0005)
    assert m.u[0] == pytest.approx(mag_u, abs=0.0005)
    assert m.value[1] == pytest.approx(ph_mean, abs=0.005)
    assert m.u[1] == pytest.approx(ph_u, abs=0.003)
    assert math.isfinite(m.correlation[0, 1])


def test_jcgm101_924_one_dominant_rectangular_input():
    # JCGM 101 9.2.4: three standard normal inputs and one rectangular of u = 10: the GUF
    # interval ±19.9 (u = 10.15) is too wide, Monte Carlo finds ±17.0.
    inputs = {"X1": Normal(0.0, 1.0), "X2": Normal(0.0, 1.0), "X3": Normal(0.0, 1.0),
              "X4": Rectangular(0.0, 10.0 * math.sqrt(3))}

    def f(X1, X2, X3, X4):
        return X1 + X2 + X3 + X4

    g = gum(f, inputs)
    assert g.u == pytest.approx(10.15, abs=0.005)
    assert g.interval[1] == pytest.approx(19.9, abs=0.05)
    m = mcm(f, inputs, trials=10**6, rng=4)
    assert m.u == pytest.approx(10.15, abs=0.05)
    assert m.interval[0] == pytest.approx(-17.0, abs=0.05)
    assert m.interval[1] == pytest.approx(17.0, abs=0.05)


@pytest.mark.parametrize(("r", "mc_u"), [(0.0, 112e-6), (0.9, 121e-6)])
def test_jcgm101_94_comparison_loss_x1_0010(r, mc_u):
    # JCGM 101 9.4 (Tables 8, 9) with x1 = 0.010, x2 = 0, u = 0.005: GUF u = 100e-6 whatever
    # r (the sensitivity to X2 is 0); Monte Carlo y = 150e-6, u = 112e-6 (r = 0) or 121e-6.
    inputs = {"X1": Normal(0.010, 0.005), "X2": Normal(0.0, 0.005)}
    corr = {("X1", "X2"): r} if r else None

    def f(X1, X2):
        return X1**2 + X2**2

    g = gum(f, inputs, corr)
    assert g.value == pytest.approx(100e-6, abs=0.5e-6)
    assert g.u == pytest.approx(100e-6, abs=0.5e-6)
    m = mcm(f, inputs, corr, trials=10**6, rng=5)
    assert m.value == pytest.approx(150e-6, abs=0.5e-6)
    assert m.u == pytest.approx(mc_u, abs=0.5e-6)


def test_jcgm101_95_gauge_block():
    # JCGM 101 9.5 (Tables 10, 11): the GUM H.1 end gauge with t, rectangular, normal,
    # arcsine and curvilinear-trapezoid inputs. GUF u = 32 nm, Monte Carlo u = 36 nm.
    from labctl.uncertainty import Arcsine, CurvilinearTrapezoid, StudentT

    inputs = {
        "L_s": StudentT(50000623.0, 25.0, 18), "D": StudentT(215.0, 6.0, 24),
        "d1": StudentT(0.0, 4.0, 5), "d2": StudentT(0.0, 7.0, 8),
        "alpha_s": Rectangular(11.5e-6, 2e-6), "theta_0": Normal(-0.1, 0.2),
        "Delta": Arcsine(0.0, 0.5), "d_alpha": CurvilinearTrapezoid(0.0, 1e-6, 0.1e-6),
        "d_theta": CurvilinearTrapezoid(0.0, 0.05, 0.025),
    }

    def dL(L_s, D, d1, d2, alpha_s, theta_0, Delta, d_alpha, d_theta):
        return (L_s + D + d1 + d2 - L_s * (d_alpha * (theta_0 + Delta) + alpha_s * d_theta)
                - 50_000_000.0)

    g = gum(dL, inputs, coverage=0.99)
    assert g.value == pytest.approx(838.0, abs=0.5)
    assert g.u == pytest.approx(32.0, abs=0.5)
    m = mcm(dL, inputs, coverage=0.99, trials=10**6, rng=6)
    assert m.value == pytest.approx(838.0, abs=0.5)
    assert m.u == pytest.approx(36.0, abs=0.5)
