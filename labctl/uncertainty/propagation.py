"""Law of propagation of uncertainty (JCGM 100:2008 clause 5, "GUM uncertainty framework").

:func:`gum` evaluates a measurement model at the input estimates, obtains the sensitivity
coefficients (numerically by central differences, vectorized over the points and the inputs in
one call of the model, or from a user-supplied gradient), combines the standard uncertainties
with the input correlations (GUM eq. 13), gives the Welch–Satterthwaite effective degrees of
freedom (GUM G.4.1), the coverage factor from the t-distribution (GUM G.3 / G.6.4), the
expanded uncertainty and the uncertainty budget. Models with several outputs give their
covariance and correlation matrices (JCGM 102 6.2, as in GUM H.2).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from labctl.errors import UncertaintyInputError
from labctl.uncertainty._model import (
    Correlation,
    Inputs,
    Model,
    check_coverage,
    check_inputs,
    correlation_matrix,
    evaluate,
    reject_unknown,
)

__all__ = ["Budget", "BudgetRow", "GumResult", "coverage_factor", "gum", "welch_satterthwaite"]

Array = NDArray[np.float64]
#: A scalar result is a float; results for N points are arrays of shape (N,).
FloatOrArray = float | Array


def _out(a: Array) -> FloatOrArray:
    return float(a) if np.ndim(a) == 0 else a


@dataclass(frozen=True)
class BudgetRow:
    """One line of an uncertainty budget (GUM 7.2.5 / EA-4/02 table): see :class:`Budget`."""

    name: str
    distribution: str
    estimate: FloatOrArray
    u: FloatOrArray
    sensitivity: FloatOrArray
    contribution: FloatOrArray
    share: FloatOrArray
    dof: FloatOrArray


@dataclass(frozen=True)
class Budget:
    """The uncertainty budget: per input (first axis, in ``names`` order) its estimate ``x``,
    standard uncertainty ``u(x)``, distribution, sensitivity coefficient ``c = ∂f/∂x``,
    contribution ``|c|·u(x)`` (unit of the output), share of the combined variance
    ``(c·u)²/u_c²`` (correlation terms are not apportioned, so with correlated inputs the
    shares need not sum to 1) and degrees of freedom.

    Arrays have shape ``(n_inputs, *points)``; for a model with several outputs
    ``sensitivity``, ``contribution`` and ``share`` have shape ``(n_outputs, n_inputs,
    *points)``.
    """

    names: tuple[str, ...]
    distributions: tuple[str, ...]
    sensitivity: Array
    contribution: Array
    share: Array
    #: per input, in its own shape: stacked into (n, *points) only when asked for
    inputs_x: tuple[Array, ...] = field(repr=False, default=())
    inputs_u: tuple[Array, ...] = field(repr=False, default=())
    inputs_dof: tuple[Array, ...] = field(repr=False, default=())
    points: tuple[int, ...] = ()

    def _stack(self, parts: tuple[Array, ...]) -> Array:
        if not self.points:  # one point: the parts are scalars
            return np.array([float(p) for p in parts])
        return np.stack([np.broadcast_to(p, self.points) for p in parts])

    @cached_property
    def estimate(self) -> Array:
        """Input estimates x_i, shape (n_inputs, *points)."""
        return self._stack(self.inputs_x)

    @cached_property
    def u(self) -> Array:
        """Standard uncertainties u(x_i), shape (n_inputs, *points)."""
        return self._stack(self.inputs_u)

    @cached_property
    def dof(self) -> Array:
        """Degrees of freedom ν_i (inf for exactly known u), shape (n_inputs, *points)."""
        return self._stack(self.inputs_dof)

    def __getitem__(self, name: str) -> BudgetRow:
        if name not in self.names:
            raise KeyError(name)
        i = self.names.index(name)
        per_output = self.sensitivity.ndim > self.u.ndim

        def pick(a: Array) -> FloatOrArray:
            return _out(a[:, i] if per_output else a[i])

        return BudgetRow(
            name=name, distribution=self.distributions[i], estimate=_out(self.estimate[i]),
            u=_out(self.u[i]), sensitivity=pick(self.sensitivity),
            contribution=pick(self.contribution), share=pick(self.share),
            dof=_out(self.dof[i]),
        )

    def rows(self) -> list[BudgetRow]:
        """The budget lines in input order."""
        return [self[n] for n in self.names]

    def __str__(self) -> str:
        if self.u.ndim != 1 or self.sensitivity.ndim != 1:
            return f"Budget({len(self.names)} inputs, arrays of shape {self.u.shape[1:]})"
        head = f"{'input':<14}{'estimate':>16}{'u':>12}{'distribution':>24}{'c':>13}" \
               f"{'|c|u':>12}{'share':>8}{'dof':>8}"
        lines = [head]
        for r in self.rows():
            lines.append(
                f"{r.name:<14}{r.estimate:>16.8g}{r.u:>12.4g}{r.distribution:>24}"
                f"{r.sensitivity:>13.4g}{r.contribution:>12.4g}{r.share:>8.3f}{r.dof:>8.4g}"
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class GumResult:
    """Result of the GUM uncertainty framework for one or N points.

    ``value`` (y, model at the estimates), ``u`` (combined standard uncertainty u_c(y)),
    ``dof`` (Welch–Satterthwaite ν_eff, not rounded; inf when every contribution has infinite
    dof), ``k`` (coverage factor), ``U = k·u``, ``interval = (y − U, y + U)``, ``coverage``
    (the coverage probability asked for, or the one implied by a fixed ``k`` at ν_eff) and
    ``budget``. For a model with several outputs every field has a leading axis over the
    outputs and ``cov``/``correlation`` are (n_out, n_out, *points) matrices (else ``None``).
    ``order`` is 1, or 2 when GUM eq. (10) second-order terms were added to ``u``.
    """

    value: FloatOrArray
    u: FloatOrArray
    dof: FloatOrArray
    k: FloatOrArray
    U: FloatOrArray
    interval: tuple[FloatOrArray, FloatOrArray]
    coverage: FloatOrArray
    budget: Budget
    cov: Array | None = None
    correlation: Array | None = None
    order: int = 1

    def __str__(self) -> str:
        if not isinstance(self.value, float):
            return f"GumResult(arrays of shape {np.shape(self.value)})"
        return (f"y = {self.value:.10g}, u = {self.u:.3g}, ν_eff = {self.dof:.3g}, "
                f"k = {self.k:.3f}, U = {self.U:.3g} ({100 * float(self.coverage):.4g} %)")


def welch_satterthwaite(contributions: ArrayLike, dof: ArrayLike, axis: int = 0) -> Array:
    """Effective degrees of freedom ν_eff = u_c⁴ / Σ (c_i u_i)⁴/ν_i (GUM eq. G.2b).

    ``contributions`` are the c_i·u_i along ``axis``, ``dof`` the ν_i (inf allowed). The
    result is inf when every ν_i is infinite or u_c = 0. Assumes independent contributions.
    """
    g = np.asarray(contributions, dtype=float)
    nu = np.broadcast_to(np.asarray(dof, dtype=float), g.shape)
    var = np.sum(g * g, axis=axis)
    return _ws(var, g, nu, axis)


def _ws(var: Array, g: Array, nu: Array, axis: int) -> Array:
    with np.errstate(divide="ignore", invalid="ignore"):
        g2 = g * g
        den = np.sum(np.where(np.isinf(nu), 0.0, g2 * g2 / nu), axis=axis)
        res = var * var / den
    return np.where((den > 0) & (var > 0), res, np.inf)


def coverage_factor(coverage: float, dof: ArrayLike = math.inf, truncate: bool = True) -> Array:
    """k for a coverage probability ``coverage`` from the t-distribution with ``dof``
    (GUM G.3.4, G.6.4): k = t_{(1+p)/2}(ν). With ``truncate`` ν_eff is first truncated to
    the next lower integer as GUM G.4.1 note 1 recommends (kept if below 1); inf gives the
    normal quantile."""
    p = check_coverage(coverage)
    nu = np.asarray(dof, dtype=float)
    if np.any(np.isnan(nu) | (nu <= 0)):
        raise UncertaintyInputError("dof", dof, "degrees of freedom > 0")
    if truncate:
        nu = _truncate(nu)
    q = (1.0 + p) / 2.0
    out = np.empty(nu.shape)
    inf = np.isinf(nu)
    any_inf = bool(inf.any())
    if any_inf:
        out[inf] = special.ndtri(q)
    vals = nu[~inf] if any_inf else nu.ravel()
    if vals.size:
        # Few distinct dof in practice: one quantile per distinct value. Integer dof are
        # collected without sorting (a presence table), others with np.unique.
        top = float(vals.max())
        if truncate and float(vals.min()) >= 1.0 and top <= 1e6:
            ints = vals.astype(np.int64)
            present = np.zeros(int(top) + 1, dtype=bool)
            present[ints] = True
            uniq = np.flatnonzero(present)
            table = np.zeros(present.size)
            table[uniq] = special.stdtrit(uniq.astype(float), q)
            kv = table[ints]
        else:
            uq, inv = np.unique(vals, return_inverse=True)
            kv = special.stdtrit(uq, q)[inv]
        if any_inf:
            out[~inf] = kv
        else:
            out = kv.reshape(nu.shape)
    return out


def _truncate(nu: Array) -> Array:
    # 3.9999999 from rounding in W–S is 4 degrees of freedom, not 3.
    return np.where(nu >= 1.0, np.floor(nu + 1e-6), nu)


def _implied_coverage(k: Array, dof: Array, truncate: bool) -> Array:
    nu = _truncate(dof) if truncate else dof
    half = np.where(np.isinf(nu), special.ndtr(k), special.stdtr(np.where(np.isinf(nu), 1.0, nu),
                                                                  k))
    return np.asarray(2.0 * half - 1.0, dtype=float)


#: Above this many stacked elements (stencil rows × points) the model is called once per
#: stencil row instead: large temporaries fall out of cache and cost more than the calls.
STACK_LIMIT = 2**15


def _sensitivities(f: Model, inp: Inputs, x: list[Array], h: list[Array], richardson: bool
                   ) -> tuple[Array, Array]:
    """Value (m, *S) and sensitivities (m, n, *S) by central differences.

    Few points: one call of the model with every stencil row stacked along a new first axis
    (vectorized over points and inputs). Many points: one call per stencil row, vectorized
    over the points. The divisor is the step as represented, (x + h) − (x − h), which removes
    the rounding of x ± h from the quotient.
    """
    n = len(x)
    S = inp.shape
    fractions = (1.0, 0.5) if richardson else (1.0,)
    rows = 1 + 2 * len(fractions) * n
    derivs: list[Array] = []  # per fraction: (m, n, *S)
    if rows * max(math.prod(S), 1) <= STACK_LIMIT:
        kwargs: dict[str, Array] = {}
        widths: list[list[Array]] = [[] for _ in fractions]
        for i, nm in enumerate(inp.names):
            a = np.empty((rows, *x[i].shape))
            a[...] = x[i]
            for q, fr in enumerate(fractions):
                plus, minus = 1 + 2 * q * n + i, 1 + (2 * q + 1) * n + i
                a[plus] += fr * h[i]
                a[minus] -= fr * h[i]
                widths[q].append(np.broadcast_to(a[plus] - a[minus], S))
            kwargs[nm] = a
        outs = evaluate(f, kwargs, (rows, *S))
        values = np.stack([o[0] for o in outs])
        for q in range(len(fractions)):
            W = np.stack(widths[q])
            lo = 1 + 2 * q * n
            dq = np.empty((len(outs), n, *S))
            for k, o in enumerate(outs):
                np.divide(o[lo:lo + n] - o[lo + n:lo + 2 * n], W, out=dq[k])
            derivs.append(dq)
    else:
        base = dict(zip(inp.names, x, strict=True))
        y0 = evaluate(f, base, S)
        m = len(y0)
        values = np.stack(y0)
        derivs = [np.empty((m, n, *S)) for _ in fractions]
        for i, nm in enumerate(inp.names):
            for q, fr in enumerate(fractions):
                xp, xm = x[i] + fr * h[i], x[i] - fr * h[i]
                fp = evaluate(f, {**base, nm: xp}, S, m)
                fm = evaluate(f, {**base, nm: xm}, S, m)
                w = xp - xm
                for k in range(m):
                    derivs[q][k, i] = (fp[k] - fm[k]) / w
    if richardson:
        return values, (4.0 * derivs[1] - derivs[0]) / 3.0
    return values, derivs[0]


def _second_order(f: Model, inp: Inputs, x: list[Array], u: list[Array], c: Array,
                  n_out: int) -> Array:
    """GUM eq. (10) terms Σ_i Σ_j [½ f_ij² + f_i f_ijj] u_i² u_j², shape (m, *S).

    Derivatives by central differences with steps of u/4 (exact for products and for
    polynomials up to degree 3 in each pair of inputs, up to rounding).
    """
    n = len(x)
    H = [np.where(ui > 0, 0.25 * ui, 6e-6 * np.maximum(np.abs(xi), 1.0)) for xi, ui in
         zip(x, u, strict=True)]
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    # rows: 0 centre; 1+k*n+i for k in (+1, -1, +2, -2); then 4 per pair (++, +-, -+, --)
    rows = 1 + 4 * n + 4 * len(pairs)
    mult = np.zeros((rows, n))
    for k, m in enumerate((1.0, -1.0, 2.0, -2.0)):
        mult[1 + k * n + np.arange(n), np.arange(n)] = m
    base = 1 + 4 * n
    for p, (i, j) in enumerate(pairs):
        for q, (si, sj) in enumerate(((1, 1), (1, -1), (-1, 1), (-1, -1))):
            mult[base + 4 * p + q, i] = si
            mult[base + 4 * p + q, j] = sj
    kwargs = {}
    for i, nm in enumerate(inp.names):
        hi = np.broadcast_to(H[i], x[i].shape)
        col = mult[:, i].reshape((rows,) + (1,) * x[i].ndim)
        kwargs[nm] = x[i] + col * hi
    outs = evaluate(f, kwargs, (rows, *inp.shape), n_out)
    Hs = [np.broadcast_to(hh, inp.shape) for hh in H]
    us = [np.broadcast_to(uu, inp.shape) for uu in u]
    total = []
    for m, o in enumerate(outs):
        f0 = o[0]
        fp = [o[1 + i] for i in range(n)]
        fm = [o[1 + n + i] for i in range(n)]
        fpp = [o[1 + 2 * n + i] for i in range(n)]
        fmm = [o[1 + 3 * n + i] for i in range(n)]
        acc = np.zeros(inp.shape)
        for i in range(n):
            fii = (fp[i] - 2 * f0 + fm[i]) / Hs[i] ** 2
            fiii = (fpp[i] - 2 * fp[i] + 2 * fm[i] - fmm[i]) / (2 * Hs[i] ** 3)
            acc = acc + (0.5 * fii**2 + c[m, i] * fiii) * us[i] ** 4
        for p, (i, j) in enumerate(pairs):
            pp, pm, mp, mm = (o[base + 4 * p + q] for q in range(4))
            fij = (pp - pm - mp + mm) / (4 * Hs[i] * Hs[j])
            # ∂³f/∂xi∂xj² and ∂³f/∂xj∂xi², each from the 3×3 stencil around the pair
            fijj = (pp - 2 * fp[i] + pm - mp + 2 * fm[i] - mm) / (2 * Hs[i] * Hs[j] ** 2)
            fjii = (pp - 2 * fp[j] + mp - pm + 2 * fm[j] - mm) / (2 * Hs[j] * Hs[i] ** 2)
            w = us[i] ** 2 * us[j] ** 2
            # (i, j) and (j, i) both appear in the double sum of eq. (10)
            acc = acc + (fij**2 + c[m, i] * fijj + c[m, j] * fjii) * w
        total.append(acc)
    return np.stack(total)


def gum(
    f: Model,
    inputs: Mapping[str, Any],
    correlation: Correlation | None = None,
    coverage: float = 0.95,
    *,
    k: ArrayLike | None = None,
    gradient: Callable[..., Mapping[str, ArrayLike]] | None = None,
    order: Literal[1, 2] = 1,
    derivative: Literal["central", "richardson"] = "central",
    step: float = 1e-3,
    truncate_dof: bool = True,
    **unknown: object,
) -> GumResult:
    """Evaluate a measurement model with the law of propagation of uncertainty (GUM 5).

    ``f(**x)`` is a numpy function of the inputs by name that works elementwise on arrays
    (it is called with the stencil rows stacked along a new first axis, or, for many points,
    once per stencil row); it may return a tuple for several measurands. ``inputs`` maps
    names to distributions (a plain number is a :class:`~labctl.uncertainty.Constant`);
    their parameters may be arrays of shape (N,). ``correlation`` maps pairs of input names
    to r (−1..1), or is the full matrix with rows in the order of ``inputs``; either way it
    must be positive semi-definite. ``coverage`` p in (0, 1) gives k = t_{(1+p)/2}(ν_eff)
    with ν_eff truncated to an integer (``truncate_dof``; GUM G.4.1); a fixed ``k``
    overrides it and the implied coverage is reported. Sensitivities are central
    differences with steps ``step·u(x_i)`` (``derivative="richardson"`` extrapolates two
    steps, for strongly non-linear models) unless ``gradient(**x)`` returns ∂f/∂x_i by name.
    ``order=2`` adds the second-order terms of GUM 5.1.2 note (eq. 10; independent inputs
    only).
    """
    reject_unknown("gum", unknown)
    inp = check_inputs(inputs)
    p = check_coverage(coverage)
    _, pairs = correlation_matrix(correlation, inp.names)
    if order not in (1, 2):
        raise UncertaintyInputError("order", order, "1 (GUM eq. 10 first order) or 2")
    if order == 2 and pairs:
        raise UncertaintyInputError("order", order, "1 when inputs are correlated (GUM eq. (10) "
                                                    "second-order terms hold for independent "
                                                    "inputs)")
    if derivative not in ("central", "richardson"):
        raise UncertaintyInputError("derivative", derivative, '"central" or "richardson"')
    if isinstance(step, bool) or not isinstance(step, int | float) or not (0.0 < step <= 1.0):
        raise UncertaintyInputError("step", step, "a fraction of u(x) in (0, 1]")
    S = inp.shape
    x = [np.broadcast_to(d.value, inp.own_shape(i)) for i, d in enumerate(inp.dists)]
    u = [np.broadcast_to(d.u, inp.own_shape(i)) for i, d in enumerate(inp.dists)]

    if gradient is None:
        # Step ∝ u(x): large enough to beat rounding relative to |f|, small enough that the
        # truncation error (step·u/x)² is negligible; exact inputs get a relative step, and so
        # do inputs whose step·u would vanish in x's rounding (u = 1e-22 on x = 3.5e-6, as
        # the std() of identical readings can give): x ± h would equal x, h/h = 0/0.
        h = [np.where(step * ui > 1e-9 * np.abs(xi), step * ui,
                      6e-6 * np.maximum(np.abs(xi), 1.0)) for xi, ui in zip(x, u, strict=True)]
        y, c = _sensitivities(f, inp, x, h, derivative == "richardson")
    else:
        y = np.stack(evaluate(f, dict(zip(inp.names, x, strict=True)), S))
        c = _gradient(gradient, inp, x, y.shape[0])
    m = y.shape[0]

    g = np.empty(c.shape)  # contributions c_i u_i, (m, n, *S)
    for i, ui in enumerate(u):
        np.multiply(c[:, i], ui, out=g[:, i])
    g2 = g * g
    if m == 1:
        var = g2.sum(axis=1)
        for i, j, r in pairs:
            var = var + 2.0 * r * g[:, i] * g[:, j]
        cov = None
    else:
        cov = np.einsum("ai...,bi...->ab...", g, g)
        for i, j, r in pairs:
            cov = cov + r * (np.einsum("a...,b...->ab...", g[:, i], g[:, j])
                             + np.einsum("a...,b...->ab...", g[:, j], g[:, i]))
        var = np.stack([cov[a, a] for a in range(m)])
    if np.any(var < 0):
        # Only reachable through rounding with r = ±1 and cancelling contributions.
        var = np.maximum(var, 0.0)
    if order == 2:
        extra = _second_order(f, inp, x, u, c, m)
        var = var + np.maximum(extra, 0.0)
        if cov is not None:
            cov = cov.copy()
            for a in range(m):
                cov[a, a] = var[a]
    uc = np.sqrt(var)

    # Welch–Satterthwaite (GUM G.2b) over independent components, skipping infinite dof.
    # Correlated inputs form one component (an "ensemble", Willink 2007, Metrologia 44 340:
    # exact when they come from the same set of observations with one ν); should their dof
    # differ, the smallest is used, which can only lower ν_eff.
    den = np.zeros(var.shape)
    for group in _components(len(inp.dists), pairs):
        nus = [np.broadcast_to(inp.dists[i].dof, inp.own_shape(i)) for i in group]
        nu_g = nus[0] if len(nus) == 1 else np.minimum.reduce(np.broadcast_arrays(*nus))
        if np.all(np.isinf(nu_g)):
            continue
        if len(group) == 1:
            var_g = g2[:, group[0]]
        else:
            var_g = g2[:, group].sum(axis=1)
            for i, j, r in pairs:
                if i in group:
                    var_g = var_g + 2.0 * r * g[:, i] * g[:, j]
        with np.errstate(divide="ignore", invalid="ignore"):
            term = var_g * var_g / nu_g
        den = den + (np.where(np.isinf(nu_g), 0.0, term) if np.any(np.isinf(nu_g)) else term)
    with np.errstate(divide="ignore", invalid="ignore"):
        nu = np.where((den > 0) & (var > 0), var * var / den, np.inf)

    if k is None:
        kk = coverage_factor(p, nu, truncate_dof)
        cov_p: Array = np.full(nu.shape, p)
    else:
        kk = np.broadcast_to(_positive("k", k), nu.shape).astype(float)
        cov_p = _implied_coverage(kk, nu, truncate_dof)
    U = kk * uc

    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.divide(g2, var[:, None], out=g2)  # g2 is not needed any more
    if np.any(var == 0):
        share = np.where(var[:, None] > 0, share, 0.0)
    one = m == 1
    budget = Budget(
        names=inp.names,
        distributions=tuple(d.kind for d in inp.dists),
        inputs_x=tuple(x), inputs_u=tuple(u), inputs_dof=tuple(d.dof for d in inp.dists),
        points=S,
        sensitivity=c[0] if one else c,
        contribution=np.abs(g[0] if one else g, out=g[0] if one else g),
        share=share[0] if one else share,
    )
    corr = None
    if cov is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.sqrt(np.einsum("aa...->a...", cov))
            corr = np.where(np.einsum("a...,b...->ab...", d, d) > 0,
                            cov / np.einsum("a...,b...->ab...", d, d), 0.0)
            for a in range(m):
                corr[a, a] = 1.0

    def sq(a: Array) -> FloatOrArray:
        return _out(a[0]) if one else a

    return GumResult(
        value=sq(y), u=sq(uc), dof=sq(nu), k=sq(kk), U=sq(U),
        interval=(sq(y - U), sq(y + U)), coverage=sq(cov_p), budget=budget,
        cov=cov, correlation=corr, order=order,
    )


def _components(n: int, pairs: list[tuple[int, int, float]]) -> list[list[int]]:
    """Groups of inputs linked by non-zero correlations (connected components)."""
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j, _ in pairs:
        parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def _positive(name: str, v: ArrayLike) -> Array:
    a = np.asarray(v, dtype=float)
    if not np.all(np.isfinite(a) & (a > 0)):
        raise UncertaintyInputError(name, v, "a finite coverage factor > 0")
    return a


def _gradient(gradient: Callable[..., Mapping[str, ArrayLike]], inp: Inputs, x: list[Array],
              m: int) -> Array:
    try:
        with np.errstate(all="ignore"):
            gr = gradient(**dict(zip(inp.names, x, strict=True)))
    except Exception as exc:
        raise UncertaintyInputError("gradient", f"{type(exc).__name__}: {exc}",
                                    "a function of the inputs returning {name: ∂f/∂name}"
                                    ) from exc
    if not isinstance(gr, Mapping) or set(gr) != set(inp.names):
        got = sorted(gr) if isinstance(gr, Mapping) else gr
        raise UncertaintyInputError("gradient", got,
                                    f"a mapping with exactly the inputs {list(inp.names)}")
    cols = []
    for nm in inp.names:
        a = np.asarray(gr[nm], dtype=float)
        try:
            a = np.broadcast_to(a, (m, *inp.shape)) if m > 1 else np.broadcast_to(
                a, inp.shape)[None]
        except ValueError:
            raise UncertaintyInputError(f"gradient[{nm!r}]", f"shape {a.shape}",
                                        f"a shape broadcasting to {(m, *inp.shape)}") from None
        if not np.all(np.isfinite(a)):
            raise UncertaintyInputError(f"gradient[{nm!r}]", a, "finite sensitivities")
        cols.append(a)
    return np.stack(cols, axis=1)
