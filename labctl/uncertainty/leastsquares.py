"""Least-squares calibration curves (GUM H.3; ISO/TS 28037 for known uncertainties).

:func:`curve_fit` fits a polynomial ``y = b0 + b1·x + … + b_d·x^d`` (parameters in ascending
powers, intercept first):

* ordinary least squares (``u_y=None``): the scatter of the residuals is the Type A
  uncertainty, s² = Σr²/(n − p), cov = s²(AᵀA)⁻¹, ν = n − p (GUM H.3);
* weighted least squares with known standard uncertainties ``u_y`` (ISO/TS 28037 clause 6):
  cov = (AᵀWA)⁻¹, ν infinite; χ² = Σ(r/u)² and its p-value check the model's consistency;
* errors in both variables (``u_x`` and ``u_y``, ISO/TS 28037 clause 7 generalized distance
  regression): the true stimuli ξ_i are estimated with the parameters by minimising
  Σ[(x−ξ)²/u_x² + (y − P(ξ))²/u_y²] (Gauss–Newton); cov from the Jacobian.

A Callendar–Van Dusen fit of a platinum resistance thermometer above 0 °C is ``degree=2`` on
(t, R): R0 = b0, A = b1/b0, B = b2/b0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, stats

from labctl.errors import UncertaintyInputError
from labctl.uncertainty._model import reject_unknown

__all__ = ["CurveFit", "curve_fit"]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class CurveFit:
    """A fitted polynomial calibration curve.

    ``params`` b_0..b_d (ascending powers), their standard uncertainties ``u``, covariance
    ``cov`` and ``correlation`` matrices, degrees of freedom ``dof`` (n − p for ordinary least
    squares, inf when the uncertainties were known), ``s`` the residual standard deviation
    sqrt(Σr²/(n − p)) (unit of y), ``residuals`` y − fit (for errors in both variables: at the
    estimated stimuli), ``chi2`` Σ(r/u_y)² with ``chi2_p`` its upper-tail probability for
    weighted fits (``None`` for ordinary ones), and ``method``.
    """

    params: Array
    u: Array
    cov: Array
    correlation: Array
    dof: float
    s: float
    residuals: Array
    degree: int
    method: Literal["ols", "wls", "gdr"]
    chi2: float | None = None
    chi2_p: float | None = None
    x: Array = field(repr=False, default_factory=lambda: np.empty(0))

    def predict(self, x0: ArrayLike, new_observation: bool = False
                ) -> tuple[float | Array, float | Array]:
        """Curve value at ``x0`` and its standard uncertainty from the parameters'
        covariance, u² = aᵀ·cov·a with a = (1, x0, x0², …) (GUM H.3.4). With
        ``new_observation`` the residual variance s² of one further reading is added
        (ordinary least squares only). Degrees of freedom: :attr:`dof`.
        """
        x = _finite("x0", x0)
        A = np.vander(np.ravel(x), self.degree + 1, increasing=True)
        val = A @ self.params
        var = np.einsum("ij,jk,ik->i", A, self.cov, A)
        if new_observation:
            if self.method != "ols":
                raise UncertaintyInputError("new_observation", True,
                                            "False for fits with known u(y) (add u(y) yourself)")
            var = var + self.s**2
        u = np.sqrt(np.maximum(var, 0.0))
        if x.ndim == 0:
            return float(val[0]), float(u[0])
        return val.reshape(x.shape), u.reshape(x.shape)

    def sensitivity(self, x0: ArrayLike) -> float | Array:
        """Slope dy/dx of the curve at ``x0`` (for propagating u(x0) through it)."""
        x = _finite("x0", x0)
        d = np.arange(1, self.degree + 1)
        xs = np.ravel(x)
        val = (xs[:, None] ** (d - 1)) @ (d * self.params[1:]) if self.degree else np.zeros(
            xs.shape)
        return float(val[0]) if x.ndim == 0 else val.reshape(x.shape)

    def inverse(self, y0: ArrayLike, u_y0: ArrayLike = 0.0) -> tuple[float | Array,
                                                                     float | Array]:
        """The stimulus x whose curve value is ``y0`` (the use of a calibration curve), and
        its standard uncertainty from the curve parameters and ``u_y0`` (first order).

        Newton iterations from the straight-line estimate; the root nearest the calibrated
        range is meant, so use it within that range. Degree 0 curves cannot be inverted.
        """
        if self.degree < 1:
            raise UncertaintyInputError("degree", self.degree, ">= 1 to invert the curve")
        y = _finite("y0", y0)
        uy = np.broadcast_to(_finite("u_y0", u_y0, nonneg=True), y.shape)
        ys = np.ravel(y).astype(float)
        b = self.params
        x = (ys - b[0]) / b[1] if b[1] != 0 else np.full(ys.shape, np.mean(self.x))
        for _ in range(50):
            val, _u = self.predict(x)
            slope = np.asarray(self.sensitivity(x))
            with np.errstate(divide="ignore", invalid="ignore"):
                step = (np.asarray(val) - ys) / slope
            if not np.all(np.isfinite(step)):
                raise UncertaintyInputError("y0", y0, "a value the curve reaches with a non-zero "
                                                      "slope")
            x = x - step
            if np.all(np.abs(step) <= 1e-15 * np.maximum(np.abs(x), 1.0)):
                break
        slope = np.asarray(self.sensitivity(x))
        _v, u_curve = self.predict(x)
        u = np.sqrt(np.asarray(u_curve) ** 2 + np.ravel(uy) ** 2) / np.abs(slope)
        if y.ndim == 0:
            return float(x[0]), float(u[0])
        return x.reshape(y.shape), u.reshape(y.shape)


def _finite(name: str, v: ArrayLike, nonneg: bool = False, positive: bool = False) -> Array:
    try:
        a = np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        raise UncertaintyInputError(name, v, "numbers") from None
    bad = ~np.isfinite(a)
    if positive:
        bad |= a <= 0
    elif nonneg:
        bad |= a < 0
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0]) if a.ndim else ()
        what = "finite values > 0" if positive else "finite values >= 0" if nonneg else \
            "finite values"
        label = f"{name}[{', '.join(map(str, idx))}]" if idx else name
        raise UncertaintyInputError(label, float(a[idx]), what)
    return a


def curve_fit(x: ArrayLike, y: ArrayLike, degree: int = 1, u_y: ArrayLike | None = None,
              u_x: ArrayLike | None = None, **unknown: object) -> CurveFit:
    """Fit a polynomial calibration curve of ``degree`` to points (x, y).

    ``u_y`` (scalar or per point, > 0, unit of y) makes it a weighted fit with known
    uncertainties; adding ``u_x`` (>= 0, unit of x) accounts for errors in the stimuli too.
    Needs more points than parameters for ordinary least squares (ν = n − p >= 1).
    """
    reject_unknown("curve_fit", unknown)
    if isinstance(degree, bool) or not isinstance(degree, int | np.integer) or degree < 0:
        raise UncertaintyInputError("degree", degree, "an integer >= 0")
    xa = _finite("x", x)
    ya = _finite("y", y)
    if xa.ndim != 1 or ya.shape != xa.shape:
        raise UncertaintyInputError("y", f"shape {ya.shape}",
                                    f"one value per x (x has shape {xa.shape})")
    n, p = xa.size, degree + 1
    if u_x is not None and u_y is None:
        raise UncertaintyInputError("u_y", None, "the standard uncertainties of y when u_x is "
                                                 "given (ISO/TS 28037 clause 7)")
    need = p + 1 if u_y is None else p
    if n < need:
        raise UncertaintyInputError("x", f"{n} points",
                                    f"at least {need} points for a degree-{degree} fit")
    if np.unique(xa).size < p:
        raise UncertaintyInputError("x", f"{np.unique(xa).size} distinct values",
                                    f"at least {p} distinct stimuli for degree {degree}")
    A = np.vander(xa, p, increasing=True)
    if u_y is None:
        b = np.asarray(np.linalg.lstsq(A, ya, rcond=None)[0], dtype=float)
        r = ya - A @ b
        nu = n - p
        s = math.sqrt(float(r @ r) / nu)
        cov = s**2 * _inv_normal(A)
        return _result(b, cov, float(nu), s, r, degree, "ols", None, None, xa)
    uy = np.broadcast_to(_finite("u_y", u_y, positive=True), xa.shape).astype(float)
    if u_x is None or not np.any(np.asarray(u_x, dtype=float) > 0):
        if u_x is not None:
            _finite("u_x", u_x, nonneg=True)
        Aw = A / uy[:, None]
        b, *_ = np.linalg.lstsq(Aw, ya / uy, rcond=None)
        r = ya - A @ b
        cov = _inv_normal(Aw)
        return _weighted(b, cov, r, uy, n, p, degree, "wls", xa)
    ux = np.broadcast_to(_finite("u_x", u_x, nonneg=True), xa.shape).astype(float)
    return _gdr(xa, ya, ux, uy, degree)


def _inv_normal(A: Array) -> Array:
    # Via the SVD of A, not inv(AᵀA): the normal matrix squares the condition number.
    _, sv, Vt = np.linalg.svd(A, full_matrices=False)
    return np.asarray((Vt.T / sv**2) @ Vt, dtype=float)


def _weighted(b: Array, cov: Array, r: Array, u: Array, n: int, p: int, degree: int,
              method: Literal["wls", "gdr"], xa: Array, chi2: float | None = None) -> CurveFit:
    if chi2 is None:
        chi2 = float(np.sum((r / u) ** 2))
    nu = n - p
    s = math.sqrt(float(r @ r) / nu) if nu > 0 else math.nan
    chi2_p = float(stats.chi2.sf(chi2, nu)) if nu > 0 else None
    return _result(b, cov, math.inf, s, r, degree, method, chi2, chi2_p, xa)


def _result(b: Array, cov: Array, nu: float, s: float, r: Array, degree: int,
            method: Literal["ols", "wls", "gdr"], chi2: float | None, chi2_p: float | None,
            xa: Array) -> CurveFit:
    cov = (cov + cov.T) / 2.0
    u = np.sqrt(np.diag(cov))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = np.where(np.outer(u, u) > 0, cov / np.outer(u, u), 0.0)
    np.fill_diagonal(corr, 1.0)
    return CurveFit(params=np.asarray(b, dtype=float), u=u, cov=cov, correlation=corr, dof=nu,
                    s=s, residuals=r, degree=degree, method=method, chi2=chi2, chi2_p=chi2_p,
                    x=xa)


def _gdr(xa: Array, ya: Array, ux: Array, uy: Array, degree: int) -> CurveFit:
    n, p = xa.size, degree + 1
    exact = ux == 0  # stimuli known exactly stay fixed: no ξ to estimate for them
    free = np.flatnonzero(~exact)

    def split(z: Array) -> tuple[Array, Array]:
        xi = xa.copy()
        xi[free] = z[p:]
        return z[:p], xi

    def resid(z: Array) -> Array:
        b, xi = split(z)
        fy = (ya - np.polyval(b[::-1], xi)) / uy
        fx = (xa[free] - xi[free]) / ux[free]
        return np.concatenate([fy, fx])

    def jac(z: Array) -> Array:
        b, xi = split(z)
        J = np.zeros((n + free.size, p + free.size))
        J[:n, :p] = -np.vander(xi, p, increasing=True) / uy[:, None]
        d = np.arange(1, p)
        slope = (xi[:, None] ** (d - 1)) @ (d * b[1:]) if p > 1 else np.zeros(n)
        J[free, p + np.arange(free.size)] = -slope[free] / uy[free]
        J[n + np.arange(free.size), p + np.arange(free.size)] = -1.0 / ux[free]
        return J

    A = np.vander(xa, p, increasing=True)
    b0, *_ = np.linalg.lstsq(A / uy[:, None], ya / uy, rcond=None)
    z0 = np.concatenate([b0, xa[free]])
    sol = optimize.least_squares(resid, z0, jac=jac, method="lm", xtol=1e-15, ftol=1e-15,
                                 gtol=1e-15)
    J = sol.jac
    cov_full = np.linalg.pinv(J.T @ J)
    b, xi = split(sol.x)
    r = ya - np.polyval(b[::-1], xi)
    chi2 = float(np.sum(sol.fun**2))
    return _weighted(b, cov_full[:p, :p], r, uy, n, p, degree, "gdr", xa, chi2=chi2)
