"""Probability distributions assigned to input quantities (JCGM 101:2008 clause 6).

Each distribution states an estimate ``value``, the standard uncertainty ``u`` the law of
propagation uses (JCGM 100 clause 4), the degrees of freedom ``dof`` that Welch–Satterthwaite
uses (infinite by default; GUM G.4.2 gives the dof of a Type B estimate from its reliability,
see :func:`dof_from_reliability`), and how to draw from it for Monte Carlo (JCGM 101 6.4).

``dof`` is information for Welch–Satterthwaite only: Monte Carlo draws each distribution as
stated (except :class:`StudentT`, whose dof is its shape).

Parameters may be scalars or arrays of shape ``(N,)`` (N measurement points in one call); all
parameters of one distribution must broadcast together. Units are those of the quantity.
Distributions are immutable.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

from labctl.errors import UncertaintyInputError

__all__ = [
    "Arcsine",
    "Constant",
    "CurvilinearTrapezoid",
    "Distribution",
    "Exponential",
    "Gamma",
    "Normal",
    "Rectangular",
    "StudentT",
    "Trapezoidal",
    "Triangular",
    "dof_from_reliability",
]

Array = NDArray[np.float64]


def _array(cls: str, name: str, x: ArrayLike, *, low: float | None = None,
           strict: bool = False, allow_inf: bool = False, high: float | None = None,
           allowed: str) -> Array:
    """Convert a parameter to a float array and check it, naming the first bad element."""
    try:
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise UncertaintyInputError(f"{cls}.{name}", x, allowed) from None
    bad = np.isnan(a)
    if not allow_inf:
        bad |= np.isinf(a)
    if low is not None:
        bad |= (a <= low) if strict else (a < low)
    if high is not None:
        bad |= a > high
    if bad.any():
        if a.ndim == 0:
            raise UncertaintyInputError(f"{cls}.{name}", float(a), allowed)
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise UncertaintyInputError(f"{cls}.{name}[{', '.join(map(str, idx))}]",
                                    float(a[idx]), allowed)
    return a


def _dof(cls: str, dof: ArrayLike | None) -> Array:
    # None is "not stated": infinite, as for a Type B estimate taken as exactly known
    # (JSON has no infinity, so data files write null).
    return _array(cls, "dof", math.inf if dof is None else dof, low=0.0, strict=True,
                  allow_inf=True, allowed="degrees of freedom > 0 (math.inf or None for an "
                                          "exactly known u)")


def dof_from_reliability(relative_uncertainty_of_u: ArrayLike) -> Array:
    """Degrees of freedom of a Type B standard uncertainty judged reliable to ``Δu/u``.

    GUM G.4.2, eq. (G.3): ``ν ≈ ½ (Δu/u)⁻²``; "reliable to 25 %" gives ν = 8 (GUM H.1.3.2).
    ``relative_uncertainty_of_u`` is a fraction (0.25, not 25), > 0.
    """
    r = _array("dof_from_reliability", "relative_uncertainty_of_u", relative_uncertainty_of_u,
               low=0.0, strict=True, allowed="a relative uncertainty of u > 0 (0.25 for 25 %)")
    return 0.5 / r**2


@dataclass(frozen=True, init=False, eq=False)
class Distribution:
    """Base of the input distributions: ``value`` (estimate), ``u`` and ``dof``."""

    value: Array
    dof: Array
    #: Short name printed in budgets.
    kind: ClassVar[str] = "distribution"

    def _set(self, **fields: Array) -> None:
        for k, v in fields.items():
            object.__setattr__(self, k, v)
        try:
            np.broadcast_shapes(*(v.shape for v in fields.values()))
        except ValueError:
            shapes = ", ".join(f"{k}{v.shape}" for k, v in fields.items())
            raise UncertaintyInputError(
                type(self).__name__, shapes, "parameters whose shapes broadcast together"
            ) from None

    @property
    def u(self) -> Array:
        """Standard uncertainty used by the law of propagation (same unit as ``value``)."""
        raise NotImplementedError

    @property
    def std(self) -> Array:
        """Standard deviation of the distribution itself (differs from ``u`` for StudentT)."""
        return self.u

    @functools.cached_property
    def shape(self) -> tuple[int, ...]:
        """Broadcast shape of the parameters: ``()`` or ``(N,)`` (the parameters are fixed at
        construction, so it is worked out once)."""
        return np.broadcast_shapes(*(np.shape(getattr(self, f)) for f in self._params()))

    def _params(self) -> tuple[str, ...]:
        return ("value", "dof")

    def sample(self, rng: np.random.Generator, size: int) -> Array:
        """Draw ``size`` values per point: an array of shape ``(size, *self.shape)``."""
        raise NotImplementedError

    def ppf(self, q: Array) -> Array:
        """Inverse distribution function at probabilities ``q`` (broadcasts with the params).

        Used to give a non-Gaussian input a prescribed correlation through a Gaussian
        copula in Monte Carlo.
        """
        raise NotImplementedError

    def _size(self, size: int) -> tuple[int, ...]:
        return (size, *self.shape)

    def describe(self) -> str:
        """Name with its parameters as shown in a budget ("rectangular", "normal", ...)."""
        return self.kind

    def __repr__(self) -> str:
        parts = ", ".join(f"{f.rstrip('_')}={_fmt(getattr(self, f))}" for f in self._params())
        return f"{type(self).__name__}({parts})"


def _scalar(a: Array) -> float | Array:
    return float(a) if a.ndim == 0 else a


def _fmt(a: Array) -> str:
    return repr(float(a)) if a.ndim == 0 else f"array{a.shape}"


@dataclass(frozen=True, init=False, eq=False, repr=False)
class Normal(Distribution):
    """Gaussian N(value, u²) (JCGM 101 6.4.7): a standard uncertainty from a certificate
    stated for a normal distribution, or a Type A evaluation with many readings."""

    kind: ClassVar[str] = "normal"
    u_: Array

    def __init__(self, value: ArrayLike, u: ArrayLike, dof: ArrayLike | None = math.inf) -> None:
        n = "Normal"
        self._set(
            value=_array(n, "value", value, allowed="a finite estimate"),
            u_=_array(n, "u", u, low=0.0, allowed="a finite standard uncertainty >= 0"),
            dof=_dof(n, dof),
        )

    @classmethod
    def from_expanded(cls, value: ArrayLike, U: ArrayLike, k: float = 2.0,
                      dof: ArrayLike | None = math.inf) -> Normal:
        """From a certificate's expanded uncertainty ``U`` at coverage factor ``k`` (u = U/k)."""
        kk = _array("Normal", "k", k, low=0.0, strict=True, allowed="a coverage factor > 0")
        return cls(value, np.asarray(U, dtype=float) / kk, dof)

    @property
    def u(self) -> Array:
        return self.u_

    def _params(self) -> tuple[str, ...]:
        return ("value", "u_", "dof")

    def sample(self, rng: np.random.Generator, size: int) -> Array:
        # 0-d arrays would take numpy's slower broadcasting path: pass scalars as floats.
        return rng.normal(_scalar(self.value), _scalar(self.u_), self._size(size))

    def ppf(self, q: Array) -> Array:
        return np.asarray(self.value + self.u_ * special.ndtri(q), dtype=float)


@dataclass(frozen=True, init=False, eq=False, repr=False)
class _SymmetricBounded(Distribution):
    """A distribution on [value − half_width, value + half_width] with no other parameter."""

    half_width: Array

    def __init__(self, value: ArrayLike, half_width: ArrayLike, dof: ArrayLike | None = math.inf
                 ) -> None:
        n = type(self).__name__
        self._set(
            value=_array(n, "value", value, allowed="a finite estimate"),
            half_width=_array(n, "half_width", half_width, low=0.0,
                              allowed="a finite half-width >= 0"),
            dof=_dof(n, dof),
        )

    def _params(self) -> tuple[str, ...]:
        return ("value", "half_width", "dof")


@dataclass(frozen=True, init=False, eq=False, repr=False)
class Rectangular(_SymmetricBounded):
    """Uniform on [value − half_width, value + half_width] (JCGM 101 6.4.2); u = a/√3."""

    kind: ClassVar[str] = "rectangular"

    @classmethod
    def from_bounds(cls, lower: ArrayLike, upper: ArrayLike, dof: ArrayLike | None = math.inf
                    ) -> Rectangular:
        """Uniform between ``lower`` and ``upper`` (``lower <= upper``)."""
        lo = _array("Rectangular", "lower", lower, allowed="a finite lower limit")
        hi = _array("Rectangular", "upper", upper, allowed="a finite upper limit")
        if np.any(hi < lo):
            raise UncertaintyInputError("Rectangular.upper", upper, f">= lower ({lower!r})")
        return cls((lo + hi) / 2, (hi - lo) / 2, dof)

    @property
    def u(self) -> Array:
        return self.half_width / math.sqrt(3.0)

    def sample(self, rng: np.random.Generator, size: int) -> Array:
        return rng.uniform(_scalar(self.value - self.half_width),
                           _scalar(self.value + self.half_width), self._size(size))

    def ppf(self, q: Array) -> Array:
        return self.value + self.half_width * (2.0 * q - 1.0)


@dataclass(frozen=True, init=False, eq=False, repr=False)
class Triangular(_SymmetricBounded):
    """Symmetric triangular on [value − a, value + a] (JCGM 101 6.4.5); u = a/√6."""

    kind: ClassVar[str] = "triangular"

    @property
    def u(self) -> Array:
        return self.half_width / math.sqrt(6.0)

    def sample(self, rng: np.random.Generator, size: int) -> Array:
        # JCGM 101 6.4.5.4: the sum of two rectangular variates.
        s = self._size(size)
        return self.value + self.half_width * (rng.random(s) - rng.random(s))

    def ppf(self, q: Array) -> Array:
        z = np.where(q <= 0.5, -1.0 + np.sqrt(2.0 * q), 1.0 - np.sqrt(2.0 * (1.0 - q)))
        return self.value + self.half_width * z


@dataclass(frozen=True, init=False, eq=False, repr=False)
class Trapezoidal(Distribution):
    """Symmetric trapezoid on [value − a, value + a] whose top has half-width β·a
    (JCGM 101 6.4.4; β = 0 triangular, β = 1 rectangular); u² = a²(1 + β²)/6."""

    kind: ClassVar[str] = "trapezoidal"
    half_width: Array
    beta: Array

    def __init__(self, value: ArrayLike, half_width: ArrayLike, beta: ArrayLike,
                 dof: ArrayLike | None = math.inf) -> None:
        n = "Trapezoidal"
        self._set(
            value=_array(n, "value", value, allowed="a finite estimate"),
            half_width=_array(n, "half_width", half_width, low=0.0,
                              allowed="a finite half-width >= 0"),
            beta=_array(n, "beta", beta, low=0.0, high=1.0,
                        allowed="0 <= beta <= 1 (ratio of top to base width)"),
            dof=_dof(n, dof),
        )

    @property
    def u(self) -> Array:
        return self.half_width * np.sqrt((1.0 + self.beta**2) / 6.0)

    def _params(self) -> tuple[str, ...]:
        return ("value", "half_width", "beta", "dof")

    def sample(self, rng: np.random.Generator, size: int) -> Array:
        # JCGM 101 6.4.4.4: a + (b − a)/2 · [(1 + β) r1 + (1 − β) r2].
        s = self._size(size)
        b = self.beta
        z = (1.0 + b) * rng.random(s) + (1.0 - b) * rng.random(s) - 1.0
        return self.value + self.half_width * z

    def ppf(self, q: Array) -> Array:
        b = self.beta
        c = 1.0 / (1.0 + b)  # density on the top, for the standard trapezoid on [-1, 1]
        f1 = c * (1.0 - b) / 2.0  # probability in one sloping side
        qs = np.minimum(q, 1.0 - q)
        with np.errstate(divide="ignore", invalid="ignore"):
            side = -1.0 + np.sqrt(2.0 * (1.0 - b) * qs / c)
        mid = -b + (qs - f1) / c
        z_low = np.where(qs <= f1, side, mid)
        z = np.where(q <= 0.5, z_low, -z_low)
        return self.value + self.half_width * z


@dataclass(frozen=True, init=False, eq=False, repr=False)
class Arcsine(_SymmetricBounded):
    """U-shaped (arcsine) on [value − a, value + a] (JCGM 101 6.4.6), e.g. a sinusoidally
    cycling temperature; u = a/√2."""

    kind: ClassVar[str] = "arcsine"

    @property
    def u(self) -> Array:
        return self.half_width / math.sqrt(2.0)

    def sample(self, rng: np.random.Generator, size: int) -> Array:
        # JCGM 101 6.4.6.4: (a + b)/2 + (b − a)/2 · sin(2πr).
        return self.value + self.half_width * np.sin(2.0 * np.pi * rng.random(self._size(size)))

    def ppf(self, q: Array) -> Array:
        return self.value - self.half_width * np.cos(np.pi * q)


@dataclass(frozen=True, init=False, eq=False, repr=False)
class CurvilinearTrapezoid(Distribution):
    """Rectangular whose half-width ``a`` is itself known only to ±d (JCGM 101 6.4.3): the
    limits are inexact. u² = a²/3 + d²/9; requires 0 <= d <= a."""

    kind: ClassVar[str] = "curvilinear trapezoid"
    half_width: Array
    half_width_uncertainty: Array

    def __init__(self, value: ArrayLike, half_width: ArrayLike,
                 half_width_uncertainty: ArrayLike, dof: ArrayLike | None = math.inf) -> None:
        n = "CurvilinearTrapezoid"
        a = _array(n, "half_width", half_width, low=0.0, allowed="a finite half-width >= 0")
        d = _array(n, "half_width_uncertainty", half_width_uncertainty, low=0.0,
                   allowed="a finite d with 0 <= d <= half_width")
        if np.any(d > a):
            raise UncertaintyInputError(f"{n}.half_width_uncertainty", half_width_uncertainty,
                                        f"0 <= d <= half_width ({half_width!r})")
        self._set(value=_array(n, "value", value, allowed="a finite estimate"),
                  half_width=a, half_width_uncertainty=d, dof=_dof(n, dof))

    @property
    def u(self) -> Array:
        a, d = self.half_width, self.half_width_uncertainty
        return np.sqrt(a**2 / 3.0 + d**2 / 9.0)

    def _params(self) -> tuple[str, ...]:
        return ("value", "half_width", "half_width_uncertainty", "dof")

    def sample(self, rng: np.random.Generator, size: int) -> Array:
        # JCGM 101 6.4.3.4: draw the inexact half-width, then a rectangular within it.
        s = self._size(size)
        a, d = self.half_width, self.half_width_uncertainty
        a_s = a - d + 2.0 * d * rng.random(s)
        return self.value + a_s * (2.0 * rng.random(s) - 1.0)

    def cdf(self, x: ArrayLike) -> Array:
        """Distribution function (JCGM 101 6.4.3.2 integrated), for the copula and tests."""
        a, d = self.half_width, self.half_width_uncertainty
        t = np.abs(np.asarray(x, dtype=float) - self.value)
        with np.errstate(divide="ignore", invalid="ignore"):
            lo, hi = a - d, a + d
            log_ratio = np.log(hi / lo)
            inner = t * log_ratio / (4.0 * d)
            tt = np.clip(t, lo, hi)
            tlog = np.where(tt > 0, tt * np.log(hi / tt), 0.0)
            outer = (tlog + tt - lo) / (4.0 * d)
            half = np.where(t <= lo, inner, np.where(t >= hi, 0.5, outer))
            # d = 0 is exactly rectangular; d = a has no flat top (lo = 0).
            rect = np.minimum(t / (2.0 * a), 0.5)
            half = np.where(d == 0, rect, np.where(lo == 0, outer, half))
        return 0.5 + np.sign(np.asarray(x, dtype=float) - self.value) * half

    def ppf(self, q: Array) -> Array:
        # No closed form: bisection on the closed-form cdf, vectorized (60 halvings ≈ 1e-18).
        a, d = self.half_width, self.half_width_uncertainty
        lo = np.broadcast_to(self.value - a - d, np.broadcast_shapes(np.shape(q), self.shape))
        lo = lo.astype(float).copy()
        hi = np.broadcast_to(self.value + a + d, lo.shape).astype(float).copy()
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            below = self.cdf(mid) < q
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
        return np.asarray(0.5 * (lo + hi), dtype=float)


@dataclass(frozen=True, init=False, eq=False, repr=False)
class StudentT(Distribution):
    """Scaled and shifted t-distribution t_ν(value, scale²) (JCGM 101 6.4.9).

    In the law of propagation it is a Type A input: u = ``scale`` with ``dof`` degrees of
    freedom (GUM 4.2; for n readings, scale = s/√n and dof = n − 1). In Monte Carlo it is
    ``value + scale · t_ν``, whose standard deviation is ``scale·√(ν/(ν − 2))`` for ν > 2
    (JCGM 101 6.4.9.4, the "scale relation"; :attr:`std`), infinite for ν <= 2.
    """

    kind: ClassVar[str] = "t"
    scale: Array

    def __init__(self, value: ArrayLike, scale: ArrayLike, dof: ArrayLike) -> None:
        n = "StudentT"
        self._set(
            value=_array(n, "value", value, allowed="a finite estimate"),
            scale=_array(n, "scale", scale, low=0.0, allowed="a finite scale >= 0"),
            dof=_array(n, "dof", dof, low=0.0, strict=True, allow_inf=True,
                       allowed="degrees of freedom > 0"),
        )

    @classmethod
    def from_expanded(cls, value: ArrayLike, U: ArrayLike, dof: ArrayLike,
                      coverage: float = 0.95) -> StudentT:
        """From an expanded uncertainty ``U`` quoted at ``coverage`` with ``dof`` degrees of
        freedom (JCGM 101 6.4.9.7): scale = U / t_{(1+p)/2, ν}."""
        p = _array("StudentT", "coverage", coverage, low=0.0, strict=True,
                   allowed="a coverage probability in (0, 1)")
        if np.any(p >= 1.0):
            raise UncertaintyInputError("StudentT.coverage", coverage, "a probability in (0, 1)")
        nu = _dof("StudentT", dof)
        k = special.stdtrit(nu, (1.0 + p) / 2.0)
        return cls(value, np.asarray(U, dtype=float) / k, nu)

    @property
    def u(self) -> Array:
        return self.scale

    @property
    def std(self) -> Array:
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(self.dof > 2.0, np.sqrt(self.dof / (self.dof - 2.0)), np.inf)
        return self.scale * f

    def _params(self) -> tuple[str, ...]:
        return ("value", "scale", "dof")

    def sample(self, rng: np.random.Generator, size: int) -> Array:
        s = self._size(size)
        return self.value + self.scale * rng.standard_t(_scalar(self.dof), s)

    def ppf(self, q: Array) -> Array:
        return np.asarray(self.value + self.scale * stats.t.ppf(q, self.dof), dtype=float)


@dataclass(frozen=True, init=False, eq=False, repr=False)
class Exponential(Distribution):
    """Exponential with expectation ``value`` > 0 (JCGM 101 6.4.10): a quantity known only to
    be non-negative with a best estimate; u = value."""

    kind: ClassVar[str] = "exponential"

    def __init__(self, value: ArrayLike, dof: ArrayLike | None = math.inf) -> None:
        self._set(value=_array("Exponential", "value", value, low=0.0, strict=True,
                               allowed="a finite expectation > 0"),
                  dof=_dof("Exponential", dof))

    @property
    def u(self) -> Array:
        return self.value

    def sample(self, rng: np.random.Generator, size: int) -> Array:
        # JCGM 101 6.4.10.4: −x ln r
        return -self.value * np.log1p(-rng.random(self._size(size)))

    def ppf(self, q: Array) -> Array:
        return np.asarray(-self.value * np.log1p(-q), dtype=float)


@dataclass(frozen=True, init=False, eq=False, repr=False)
class Gamma(Distribution):
    """Gamma distribution G(shape, scale) (JCGM 101 6.4.11): e.g. the average rate from q
    counts is G(q + 1, 1) in counts. value = shape·scale (its expectation), u = √shape·scale.
    """

    kind: ClassVar[str] = "gamma"
    shape_: Array
    scale: Array

    def __init__(self, shape: ArrayLike, scale: ArrayLike = 1.0, dof: ArrayLike | None = math.inf
                 ) -> None:
        n = "Gamma"
        a = _array(n, "shape", shape, low=0.0, strict=True, allowed="a finite shape > 0")
        b = _array(n, "scale", scale, low=0.0, strict=True, allowed="a finite scale > 0")
        self._set(value=a * b, shape_=a, scale=b, dof=_dof(n, dof))

    @classmethod
    def from_counts(cls, counts: ArrayLike) -> Gamma:
        """JCGM 101 6.4.11.3: q events counted (q >= 0) -> G(q + 1, 1)."""
        q = _array("Gamma", "counts", counts, low=0.0, allowed="a count >= 0")
        return cls(q + 1.0, 1.0)

    @property
    def u(self) -> Array:
        return np.sqrt(self.shape_) * self.scale

    def _params(self) -> tuple[str, ...]:
        return ("shape_", "scale", "dof")

    def sample(self, rng: np.random.Generator, size: int) -> Array:
        return rng.gamma(_scalar(self.shape_), _scalar(self.scale), self._size(size))

    def ppf(self, q: Array) -> Array:
        return np.asarray(stats.gamma.ppf(q, self.shape_, scale=self.scale), dtype=float)


@dataclass(frozen=True, init=False, eq=False, repr=False)
class Constant(Distribution):
    """An exactly known quantity (u = 0): a defined constant, a nominal value."""

    kind: ClassVar[str] = "constant"

    def __init__(self, value: ArrayLike, dof: ArrayLike | None = math.inf) -> None:
        self._set(value=_array("Constant", "value", value, allowed="a finite value"),
                  dof=_dof("Constant", dof))

    @property
    def u(self) -> Array:
        return np.zeros_like(self.value)

    def sample(self, rng: np.random.Generator, size: int) -> Array:
        return np.broadcast_to(self.value, self._size(size))

    def ppf(self, q: Array) -> Array:
        return np.broadcast_to(self.value, np.broadcast_shapes(np.shape(q), self.shape)).copy()


def as_distribution(name: str, x: Any) -> Distribution:
    """An input as given by the user: a Distribution, or a plain number meaning a Constant."""
    if isinstance(x, Distribution):
        return x
    if isinstance(x, bool) or x is None or isinstance(x, str | bytes | dict):
        raise UncertaintyInputError(name, x, "a Distribution (Normal, Rectangular, ...) or a "
                                             "number for an exactly known constant")
    try:
        return Constant(x)
    except UncertaintyInputError as exc:
        raise UncertaintyInputError(name, x, exc.allowed) from None
