"""Calibration curves: ordinary, weighted, errors in both variables; prediction, inversion."""

import math

import numpy as np
import pytest

from labctl.errors import UncertaintyInputError
from labctl.uncertainty import curve_fit


def test_callendar_van_dusen_quadratic_recovers_a_prt():
    # IEC 60751 coefficients; R(t) = R0 (1 + A t + B t²) for t >= 0 °C, noise 0.5 mΩ
    R0, A, B = 100.0, 3.9083e-3, -5.775e-7
    t = np.linspace(0.0, 420.0, 15)
    rng = np.random.default_rng(1)
    R = R0 * (1 + A * t + B * t**2) + rng.normal(0, 5e-4, t.size)
    fit = curve_fit(t, R, degree=2)
    b0, b1, b2 = fit.params
    assert b0 == pytest.approx(R0, abs=5 * fit.u[0])
    assert b1 / b0 == pytest.approx(A, rel=1e-4)
    assert b2 / b0 == pytest.approx(B, rel=2e-2)
    assert fit.dof == 12
    assert fit.s == pytest.approx(5e-4, rel=0.5)
    # the residuals are y − fit and the parameter covariance is s²(AᵀA)⁻¹
    Am = np.vander(t, 3, increasing=True)
    assert fit.residuals == pytest.approx(R - Am @ fit.params)
    assert fit.cov == pytest.approx(fit.s**2 * np.linalg.inv(Am.T @ Am), rel=1e-8)
    # inverting the curve gives back the temperature of a reading
    t_back, u_t = fit.inverse(R0 * (1 + A * 231.928 + B * 231.928**2), u_y0=1e-3)
    assert t_back == pytest.approx(231.928, abs=0.01)
    assert 0 < u_t < 0.01


def test_weighted_fit_with_known_uncertainties_has_infinite_dof():
    x = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    y = np.array([0.1, 1.9, 4.2, 5.8, 8.1])
    u = np.array([0.1, 0.1, 0.2, 0.2, 0.4])
    fit = curve_fit(x, y, degree=1, u_y=u)
    W = np.diag(1 / u**2)
    Am = np.vander(x, 2, increasing=True)
    cov = np.linalg.inv(Am.T @ W @ Am)
    params = cov @ Am.T @ W @ y
    assert fit.params == pytest.approx(params, rel=1e-10)
    assert fit.cov == pytest.approx(cov, rel=1e-10)
    assert fit.dof == math.inf
    assert fit.chi2 == pytest.approx(float(np.sum(((y - Am @ params) / u) ** 2)))
    assert 0 < fit.chi2_p < 1
    value, uv = fit.predict(np.array([1.5, 2.5]))
    assert value.shape == (2,) and uv.shape == (2,)


def test_errors_in_both_variables_pearson_york_data():
    # Pearson's data with York's weights, the standard test of straight-line fits with
    # errors in x and y (York 1966; York et al. 2004): b = −0.4805, a = 5.4799.
    x = np.array([0.0, 0.9, 1.8, 2.6, 3.3, 4.4, 5.2, 6.1, 6.5, 7.4])
    y = np.array([5.9, 5.4, 4.4, 4.6, 3.5, 3.7, 2.8, 2.8, 2.4, 1.5])
    wx = np.array([1000, 1000, 500, 800, 200, 80, 60, 20, 1.8, 1.0])
    wy = np.array([1, 1.8, 4, 8, 20, 20, 70, 70, 100, 500])
    fit = curve_fit(x, y, degree=1, u_y=1 / np.sqrt(wy), u_x=1 / np.sqrt(wx))
    assert fit.method == "gdr"
    assert fit.params[0] == pytest.approx(5.4799, abs=5e-4)
    assert fit.params[1] == pytest.approx(-0.4805, abs=5e-4)
    assert fit.u[1] == pytest.approx(0.0576, abs=0.003)


def test_gum_h3_new_observation_adds_the_residual_variance():
    x = np.arange(8.0)
    y = 0.5 + 0.25 * x + np.array([0.01, -0.02, 0.015, 0.0, -0.01, 0.02, -0.015, 0.005])
    fit = curve_fit(x, y)
    _, u_curve = fit.predict(3.0)
    _, u_new = fit.predict(3.0, new_observation=True)
    assert u_new == pytest.approx(math.sqrt(u_curve**2 + fit.s**2))
    assert fit.sensitivity(2.0) == pytest.approx(fit.params[1])


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"x": [1, 2, 3], "y": [1, 2]}, "y"),
    ({"x": [1, 2], "y": [1, 2]}, "x"),  # a line needs 3 points for ν >= 1
    ({"x": [1, 1, 1], "y": [1, 2, 3]}, "x"),
    ({"x": [1, 2, float("nan")], "y": [1, 2, 3]}, "x[2]"),
    ({"x": [1, 2, 3], "y": [1, 2, 3], "degree": -1}, "degree"),
    ({"x": [1, 2, 3], "y": [1, 2, 3], "u_y": [0.1, 0.0, 0.1]}, "u_y[1]"),
    ({"x": [1, 2, 3], "y": [1, 2, 3], "u_x": 0.1}, "u_y"),
    ({"x": [1, 2, 3], "y": [1, 2, 3], "u_y": 0.1, "u_x": -0.1}, "u_x"),
])
def test_bad_input(kwargs, field):
    with pytest.raises(UncertaintyInputError) as exc:
        curve_fit(**kwargs)
    assert exc.value.field == field


def test_errors_in_both_variables_covariance_matches_repeated_experiments():
    # The GDR covariance (ISO/TS 28037 clause 7) against the scatter of the parameters over
    # simulated repetitions of the calibration: same u(x), u(y), new errors each time.
    rng = np.random.default_rng(28037)
    x_true = np.linspace(0.0, 10.0, 8)
    ux, uy = 0.2, 0.08
    fits = []
    for _ in range(400):
        x = x_true + rng.normal(0, ux, x_true.size)
        y = 1.0 + 0.5 * x_true + rng.normal(0, uy, x_true.size)
        fits.append(curve_fit(x, y, degree=1, u_y=uy, u_x=ux))
    params = np.array([f.params for f in fits])
    assert params.mean(axis=0) == pytest.approx([1.0, 0.5], abs=0.01)
    spread = params.std(axis=0, ddof=1)
    stated = np.mean([f.u for f in fits], axis=0)
    assert stated == pytest.approx(spread, rel=0.15)
    # ignoring u(x) understates u(slope): the weighted fit without it is too optimistic
    wls = curve_fit(x_true, 1.0 + 0.5 * x_true, degree=1, u_y=uy)
    assert wls.u[1] < 0.85 * stated[1]
