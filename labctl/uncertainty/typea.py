"""Type A evaluation of standard uncertainty from repeated readings (GUM 4.2, 5.2.3).

:func:`type_a` turns n readings of one quantity into the input the engine uses: the mean,
u = s/√n and ν = n − 1 as a :class:`~labctl.uncertainty.StudentT` (the law of propagation
uses u with ν dof; Monte Carlo draws the t-distribution of JCGM 101 6.4.9). A pooled
standard deviation from earlier, larger series may be used instead of s (GUM H.1.3.2).
:func:`type_a_joint` does the same for several quantities read together and gives their
correlation coefficients (GUM 5.2.3, eq. 17), ready for ``gum(..., correlation=...)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from labctl.errors import UncertaintyInputError
from labctl.uncertainty.distributions import StudentT

__all__ = ["TypeA", "type_a", "type_a_joint"]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class TypeA:
    """A Type A evaluation: ``mean`` q̄, experimental standard deviation ``s`` (of one
    reading), ``u`` = s/√n (of the mean), ``dof`` ν and number of readings ``n``. Arrays
    when the readings had several points (``axis`` other than the readings)."""

    mean: float | Array
    s: float | Array
    u: float | Array
    dof: float
    n: int

    def distribution(self) -> StudentT:
        """The input for gum()/mcm(): t_ν(q̄, u²)."""
        return StudentT(self.mean, self.u, self.dof)


def _readings(name: str, readings: ArrayLike, axis: int) -> Array:
    try:
        a = np.asarray(readings, dtype=float)
    except (TypeError, ValueError):
        raise UncertaintyInputError(name, readings, "an array of numbers") from None
    if a.ndim == 0:
        raise UncertaintyInputError(name, float(a), "at least two readings")
    if not np.all(np.isfinite(a)):
        raise UncertaintyInputError(name, a[~np.isfinite(a)][0], "finite readings")
    try:
        a = np.moveaxis(a, axis, 0)
    except np.exceptions.AxisError:
        raise UncertaintyInputError("axis", axis, f"an axis of readings {a.shape}") from None
    return a


def type_a(readings: ArrayLike, axis: int = 0, *, pooled_s: ArrayLike | None = None,
           pooled_dof: float | None = None) -> TypeA:
    """Mean and standard uncertainty of the mean of repeated readings along ``axis``.

    Without a pooled value needs n >= 2 readings: s is the experimental standard deviation
    (GUM eq. 4), u = s/√n, ν = n − 1. With ``pooled_s`` (from earlier series, GUM 4.2.4) and
    its ``pooled_dof``, u = s_p/√n and ν = pooled_dof; then n >= 1 is enough.
    """
    a = _readings("readings", readings, axis)
    n = a.shape[0]
    mean = a.mean(axis=0)
    if pooled_s is None:
        if pooled_dof is not None:
            raise UncertaintyInputError("pooled_dof", pooled_dof, "None unless pooled_s is given")
        if n < 2:
            raise UncertaintyInputError("readings", f"{n} reading", "at least two readings "
                                        "(or a pooled_s)")
        s = a.std(axis=0, ddof=1)
        dof = float(n - 1)
    else:
        s = np.asarray(pooled_s, dtype=float)
        if not np.all(np.isfinite(s) & (s >= 0)):
            raise UncertaintyInputError("pooled_s", pooled_s, "a finite standard deviation >= 0")
        if pooled_dof is None or not (isinstance(pooled_dof, int | float) and pooled_dof > 0):
            raise UncertaintyInputError("pooled_dof", pooled_dof,
                                        "the degrees of freedom of pooled_s (> 0)")
        dof = float(pooled_dof)
        s = np.broadcast_to(s, mean.shape)
    u = s / math.sqrt(n)

    def o(x: Array) -> float | Array:
        return float(x) if np.ndim(x) == 0 else np.asarray(x, dtype=float)

    return TypeA(mean=o(mean), s=o(s), u=o(u), dof=dof, n=n)


def type_a_joint(readings: Mapping[str, ArrayLike]
                 ) -> tuple[dict[str, StudentT], dict[tuple[str, str], float]]:
    """Several quantities read together n times (same n, readings paired in order).

    Returns the inputs ``{name: StudentT(mean, s/√n, n − 1)}`` and the correlation
    coefficients of their means ``{(a, b): r}`` (GUM 5.2.3, eqs. 14 and 17: the estimated
    covariance of the means over the product of their standard uncertainties).
    """
    if not isinstance(readings, Mapping) or len(readings) < 2:
        raise UncertaintyInputError("readings", readings,
                                    "a mapping of at least two names -> paired readings")
    arrs = {k: _readings(f"readings[{k!r}]", v, 0) for k, v in readings.items()}
    ns = {k: a.shape for k, a in arrs.items()}
    first = next(iter(ns.values()))
    for k, sh in ns.items():
        if sh != first:
            raise UncertaintyInputError(f"readings[{k!r}]", f"shape {sh}",
                                        f"the same number of paired readings as the others "
                                        f"{first}")
    n = first[0]
    if n < 2:
        raise UncertaintyInputError("readings", f"{n} readings", "at least two of each")
    inputs = {}
    names = list(arrs)
    for k in names:
        ta = type_a(arrs[k])
        inputs[k] = ta.distribution()
    corr: dict[tuple[str, str], float] = {}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            xa, xb = arrs[a], arrs[b]
            sa, sb = xa.std(axis=0, ddof=1), xb.std(axis=0, ddof=1)
            if np.any(sa == 0) or np.any(sb == 0):
                continue  # a constant series has no correlation to speak of (u = 0)
            c = np.sum((xa - xa.mean(0)) * (xb - xb.mean(0)), axis=0) / (n - 1)
            r = c / (sa * sb)
            if np.ndim(r) != 0:
                raise UncertaintyInputError(f"readings[{a!r}]", f"shape {xa.shape}",
                                            "one series of readings per quantity (1-D)")
            corr[(a, b)] = float(np.clip(r, -1.0, 1.0))
    return inputs, corr
