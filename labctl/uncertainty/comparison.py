"""Evaluation of comparison data: key comparisons between national institutes and
interlaboratory comparisons / proficiency tests between laboratories.

Each participant i reports a measured value x_i of one stable travelling standard with its
standard uncertainty u_i (and, optionally, the degrees of freedom ν_i of u_i). The arrays run
over participants: one call evaluates the whole comparison.

* :func:`weighted_mean` — the reference value of Cox, Metrologia 39 (2002) 589, Procedure A:
  x_ref = Σ x_i u_i⁻² / Σ u_i⁻², u(x_ref) = (Σ u_i⁻²)^(−1/2), with its chi-squared
  consistency check (χ²_obs = Σ (x_i − x_ref)²/u_i², ν = N − 1, p = P(χ²(ν) > χ²_obs),
  passed when p ≥ α, α = 0.05 by default).
* :func:`largest_consistent_subset` — Cox, Metrologia 44 (2007) 187: the largest subset whose
  weighted mean passes the check; among equal-sized ones the smallest χ².
* :func:`degrees_of_equivalence` — d_i = x_i − x_ref with U(d_i) = k·u(d_i); a participant
  that contributed to x_ref is correlated with it, u²(d_i) = u_i² − u²(x_ref); one that did
  not has u²(d_i) = u_i² + u²(x_ref) (Cox 2002).
  :func:`pairwise_degrees_of_equivalence` gives d_ij = x_i − x_j, u²(d_ij) = u_i² + u_j²
  (independent participants).
* :func:`evaluate_comparison` — all of the above in the order Procedure A prescribes.
* :func:`en_numbers`, :func:`z_scores`, :func:`zeta_scores` — proficiency-testing
  performance statistics of ISO 13528:2015 9.4–9.7 (ISO/IEC 17043) with their verdicts.

Two further reference values that published comparisons use, each a linear combination
x_ref = Σ w_i x_i of the contributing results:

* :func:`power_moderated_mean` — the power-moderated mean of Pommé & Keightley,
  Metrologia 52 (2015) S200 (the KCRV of the CCRI(II) and BIPM.RI(II)-K1 comparisons since
  2013): weights (u_i² + s²)^(−α/2)·S^(α−2) with α = 2 − 3/N, between-result spread s from the
  Mandel–Paule condition and the characteristic uncertainty S; α = 2, s = 0 is the weighted
  mean.
* :func:`arithmetic_mean` — x̄ with the standard deviation of the mean s/√N as its
  uncertainty (the KCRV of the SIR before 2013) and, for the degrees of equivalence, the
  uncertainty propagated from the u_i, (Σ u_i²)^(1/2)/N.
* :func:`linear_degrees_of_equivalence` — d_i = x_i − x_ref with
  u²(d_i) = (1 − 2w_i)·u_i² + u²_DoE(x_ref) (w_i = 0 for a result that did not contribute);
  for the weighted mean this is u_i² − u²(x_ref), as :func:`degrees_of_equivalence` gives.

The iterative exclusion commonly used with Procedure A (drop the result with the largest
|d_i|/u(d_i) and repeat) is available as ``method="iterative"``; it can miss the largest
subset (it never puts a result back), so ``"exhaustive"`` is the default for N ≤ 20
participants (2^N subsets, searched largest first and stopping at the first size that has a
consistent one; Cox 2007 describes the LCS with the smallest χ²).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special

from labctl.errors import UncertaintyInputError

__all__ = ["ArithmeticMean", "ComparisonResult", "ConsistencyCheck", "ConsistentSubset",
           "DegreesOfEquivalence", "PairwiseDegreesOfEquivalence", "PowerModeratedMean",
           "Scores", "Verdict", "WeightedMean", "arithmetic_mean", "degrees_of_equivalence",
           "en_numbers", "evaluate_comparison", "largest_consistent_subset",
           "linear_degrees_of_equivalence", "pairwise_degrees_of_equivalence",
           "power_moderated_mean", "weighted_mean", "z_scores", "zeta_scores"]

Array = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: Largest number of participants searched exhaustively (2^20 ≈ 10^6 subsets).
MAX_EXHAUSTIVE = 20


class Verdict(StrEnum):
    """Performance verdict of a score (ISO 13528:2015 9.4.1, 9.7.2): |z|, |ζ| ≤ 2
    satisfactory, 2 < |z| < 3 questionable, ≥ 3 unsatisfactory; |E_n| ≤ 1 satisfactory,
    > 1 unsatisfactory (E_n has no questionable band)."""

    SATISFACTORY = "satisfactory"
    QUESTIONABLE = "questionable"
    UNSATISFACTORY = "unsatisfactory"


@dataclass(frozen=True)
class ConsistencyCheck:
    """The chi-squared test of Cox 2002 Procedure A, step 3: ``chi2`` = Σ (x_i − x_ref)²/u_i²
    over the ``n`` results that formed x_ref, ``dof`` ν = n − 1, ``p_value`` =
    P(χ²(ν) > chi2), ``passed`` when p_value ≥ ``alpha``. ``birge_ratio`` = √(χ²/ν).
    One result (ν = 0) is consistent with itself: χ² = 0, p = 1."""

    chi2: float
    dof: int
    p_value: float
    alpha: float
    passed: bool

    @property
    def birge_ratio(self) -> float:
        """R_B = √(χ²_obs/ν) (NaN for ν = 0)."""
        return math.sqrt(self.chi2 / self.dof) if self.dof > 0 else math.nan

    @property
    def critical_value(self) -> float:
        """χ²_{1−α}(ν): the largest χ²_obs that passes."""
        return float(special.chdtri(self.dof, self.alpha)) if self.dof > 0 else math.inf


@dataclass(frozen=True)
class WeightedMean:
    """Weighted mean ``value`` x_ref of the results marked in ``included``, its standard
    uncertainty ``u`` = (Σ u_i⁻²)^(−1/2), the normalised ``weights`` (0 for results left
    out), the Welch–Satterthwaite ``dof`` of u (inf when every ν_i is) and the
    ``check`` of consistency of the included results with it."""

    value: float
    u: float
    weights: Array
    included: BoolArray
    dof: float
    check: ConsistencyCheck


@dataclass(frozen=True)
class ConsistentSubset:
    """A largest consistent subset (Cox 2007): ``included`` marks its members,
    ``excluded`` the indices of the results left out (ascending), ``reference`` its
    weighted mean and check; ``method`` is ``"exhaustive"`` or ``"iterative"``."""

    included: BoolArray
    excluded: tuple[int, ...]
    reference: WeightedMean
    method: str


@dataclass(frozen=True)
class DegreesOfEquivalence:
    """Unilateral degrees of equivalence: ``d`` = x_i − x_ref, its standard uncertainty
    ``u``, the expanded ``U`` = k·u, the coverage factor ``k``, the Welch–Satterthwaite
    ``dof`` of u(d_i) (inf when every ν is), ``en`` = d_i/U(d_i) and ``contributing``
    (whether result i formed x_ref, which decides the sign of the u²(x_ref) term)."""

    d: Array
    u: Array
    U: Array
    k: float
    dof: Array
    en: Array
    contributing: BoolArray


@dataclass(frozen=True)
class PairwiseDegreesOfEquivalence:
    """Bilateral degrees of equivalence as N×N matrices: ``d[i, j]`` = x_i − x_j, ``u`` its
    standard uncertainty √(u_i² + u_j²), ``U`` = k·u, ``dof`` Welch–Satterthwaite."""

    d: Array
    u: Array
    U: Array
    k: float
    dof: Array


@dataclass(frozen=True)
class Scores:
    """Performance scores (``value``) and their verdicts (``verdict``, an array of
    :class:`Verdict` of the same shape)."""

    value: Array
    verdict: NDArray[np.object_]

    @property
    def satisfactory(self) -> BoolArray:
        """True where the verdict is satisfactory."""
        return np.asarray(self.verdict == Verdict.SATISFACTORY, dtype=bool)


@dataclass(frozen=True)
class ComparisonResult:
    """A comparison evaluated by Cox 2002 Procedure A with the largest consistent subset:
    the results ``x``, ``u``, ``dof``; ``first_check`` (all candidate results);
    ``subset`` (how the reference value was formed: every candidate when the first check
    passed); ``reference`` (x_ref, u(x_ref), its check); degrees of equivalence ``doe``
    (every participant, contributing or not) and ``pairwise`` ones."""

    x: Array
    u: Array
    dof: Array
    first_check: ConsistencyCheck
    subset: ConsistentSubset
    doe: DegreesOfEquivalence
    pairwise: PairwiseDegreesOfEquivalence

    @property
    def reference(self) -> WeightedMean:
        """The reference value (KCRV) and its consistency check."""
        return self.subset.reference

    @property
    def excluded(self) -> tuple[int, ...]:
        """Indices of the participants that did not contribute to the reference value."""
        return tuple(int(i) for i in np.flatnonzero(~self.subset.included))


# --- input checks ------------------------------------------------------------------------


def _vector(name: str, v: ArrayLike, *, n: int | None = None) -> Array:
    try:
        a = np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        raise UncertaintyInputError(name, v, "a 1-D array of numbers") from None
    if a.ndim != 1:
        raise UncertaintyInputError(name, f"shape {a.shape}", "a 1-D array (one per participant)")
    if n is not None and a.shape[0] != n:
        raise UncertaintyInputError(name, f"{a.shape[0]} values",
                                    f"one per participant ({n}, as many as x)")
    return a


def _first_bad(name: str, a: Array, bad: BoolArray, allowed: str) -> None:
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise UncertaintyInputError(f"{name}[{i}]", float(a[i]), allowed)


def _participants(x: ArrayLike, u: ArrayLike, dof: ArrayLike | None = None, *,
                  minimum: int = 2) -> tuple[Array, Array, Array]:
    xa = _vector("x", x)
    if xa.shape[0] < minimum:
        raise UncertaintyInputError("x", f"{xa.shape[0]} participant(s)",
                                    f"at least {minimum} participants")
    _first_bad("x", xa, ~np.isfinite(xa), "a finite measured value")
    ua = _vector("u", u, n=xa.shape[0])
    _first_bad("u", ua, ~(np.isfinite(ua) & (ua > 0)), "a finite standard uncertainty > 0")
    if dof is None:
        nu = np.full(xa.shape, np.inf)
    else:
        nu = _vector("dof", dof, n=xa.shape[0])
        _first_bad("dof", nu, np.isnan(nu) | ~(nu > 0), "degrees of freedom > 0 (inf allowed)")
    return xa, ua, nu


def _alpha(alpha: float) -> float:
    if not (isinstance(alpha, int | float) and 0.0 < alpha < 1.0):
        raise UncertaintyInputError("alpha", alpha, "a significance level in (0, 1)")
    return float(alpha)


def _k(k: float) -> float:
    if not (isinstance(k, int | float) and math.isfinite(k) and k > 0):
        raise UncertaintyInputError("k", k, "a finite coverage factor > 0")
    return float(k)


def _mask(name: str, mask: ArrayLike | None, n: int) -> BoolArray:
    if mask is None:
        return np.ones(n, dtype=bool)
    m = np.asarray(mask)
    if m.dtype != np.bool_ or m.shape != (n,):
        raise UncertaintyInputError(name, mask, f"{n} booleans (one per participant)")
    if not m.any():
        raise UncertaintyInputError(name, mask, "at least one contributing participant")
    return m.astype(bool)


# --- Procedure A -------------------------------------------------------------------------


def _check(chi2: float, dof: int, alpha: float) -> ConsistencyCheck:
    p = float(special.chdtrc(dof, chi2)) if dof > 0 else 1.0
    return ConsistencyCheck(chi2=chi2, dof=dof, p_value=p, alpha=alpha, passed=p >= alpha)


def _ws(var: float | Array, parts: Array, nu: Array, axis: int = -1) -> Array:
    """ν_eff = var² / Σ parts⁴/ν (GUM G.2b), inf where every ν is infinite."""
    with np.errstate(divide="ignore", invalid="ignore"):
        p2 = parts * parts
        den = np.sum(np.where(np.isinf(nu), 0.0, p2 * p2 / nu), axis=axis)
        v = np.asarray(var, dtype=float)
        return np.asarray(np.where(den > 0, v * v / den, np.inf), dtype=float)


def _weighted_mean(x: Array, u: Array, nu: Array, inc: BoolArray, alpha: float) -> WeightedMean:
    w = np.where(inc, 1.0 / (u * u), 0.0)
    big_w = float(w.sum())
    weights = w / big_w
    # Centre before summing: the weighted mean of x_i − c loses no digits to a large c.
    c = float(x[inc][0])
    value = c + float(np.sum(weights * (x - c)))
    u_ref = 1.0 / math.sqrt(big_w)
    chi2 = float(np.sum(w * (x - value) ** 2))
    dof_ref = float(_ws(u_ref * u_ref, weights * u, nu))
    return WeightedMean(value=value, u=u_ref, weights=weights, included=inc.copy(),
                        dof=dof_ref, check=_check(chi2, int(inc.sum()) - 1, alpha))


def weighted_mean(x: ArrayLike, u: ArrayLike, dof: ArrayLike | None = None, *,
                  included: ArrayLike | None = None, alpha: float = 0.05) -> WeightedMean:
    """Weighted mean of the results marked ``included`` (all by default) with its
    chi-squared consistency check (Cox 2002 Procedure A, steps 1–3).

    ``x``: measured values (N ≥ 2, one unit); ``u``: their standard uncertainties (> 0);
    ``dof``: optional degrees of freedom of each u_i (inf = known exactly), used for the
    Welch–Satterthwaite dof of u(x_ref); ``alpha``: significance level of the check.
    """
    xa, ua, nu = _participants(x, u, dof)
    return _weighted_mean(xa, ua, nu, _mask("included", included, xa.shape[0]), _alpha(alpha))


def _subset_chi2(x: Array, u: Array, idx: NDArray[np.intp]) -> Array:
    """χ² of the weighted mean of each row of index sets ``idx`` (shape (S, m))."""
    xs = x[idx]
    ws = 1.0 / (u[idx] ** 2)
    mean = np.sum(ws * xs, axis=1) / np.sum(ws, axis=1)
    return np.asarray(np.sum(ws * (xs - mean[:, None]) ** 2, axis=1), dtype=float)


def largest_consistent_subset(x: ArrayLike, u: ArrayLike, dof: ArrayLike | None = None, *,
                              candidates: ArrayLike | None = None, alpha: float = 0.05,
                              method: Literal["exhaustive", "iterative"] = "exhaustive"
                              ) -> ConsistentSubset:
    """The largest subset of the ``candidates`` (all by default) whose weighted mean
    passes the chi-squared check at ``alpha`` (Cox 2007); among subsets of that size the
    one with the smallest χ². When all candidates pass, that is all of them.

    ``method="exhaustive"`` (default) searches every subset, largest first; it takes at
    most 20 candidates. ``method="iterative"`` is the simpler route used with Procedure A:
    while the check fails, drop the result with the largest |d_i|/u(d_i) (with
    u²(d_i) = u_i² − u²(x_ref)) and recompute; it is fast for any N but may stop at a smaller
    subset than the largest. Among equal subsets (same size and χ²) the first in index order
    is kept.
    """
    xa, ua, nu = _participants(x, u, dof)
    a = _alpha(alpha)
    cand = _mask("candidates", candidates, xa.shape[0])
    if method == "exhaustive":
        inc = _exhaustive(xa, ua, cand, a)
    elif method == "iterative":
        inc = _iterative(xa, ua, nu, cand, a)
    else:
        raise UncertaintyInputError("method", method, "'exhaustive' or 'iterative'")
    ref = _weighted_mean(xa, ua, nu, inc, a)
    excluded = tuple(int(i) for i in np.flatnonzero(~inc))
    return ConsistentSubset(included=inc, excluded=excluded, reference=ref, method=method)


def _exhaustive(x: Array, u: Array, cand: BoolArray, alpha: float) -> BoolArray:
    pool = np.flatnonzero(cand)
    n = pool.size
    if n > MAX_EXHAUSTIVE:
        raise UncertaintyInputError(
            "x", f"{n} candidate participants",
            f"at most {MAX_EXHAUSTIVE} for the exhaustive search (2^N subsets); "
            "use method='iterative' for more")
    for m in range(n, 1, -1):
        crit = float(special.chdtri(m - 1, alpha))
        idx = np.array(list(itertools.combinations(pool.tolist(), m)), dtype=np.intp)
        chi2 = _subset_chi2(x, u, idx)
        # p >= alpha  <=>  chi2 <= chi2_{1-alpha}; decide on p itself near the boundary.
        near = np.abs(chi2 - crit) <= 1e-9 * max(crit, 1.0)
        ok = chi2 < crit
        if np.any(near):
            ok[near] = special.chdtrc(m - 1, chi2[near]) >= alpha
        if np.any(ok):
            best = np.flatnonzero(ok)[int(np.argmin(chi2[ok]))]
            inc = np.zeros(x.shape, dtype=bool)
            inc[idx[best]] = True
            return inc
    # No pair agrees: a single result is trivially consistent with itself; keep the one
    # with the smallest uncertainty (the weighted mean of any pair leans towards it).
    inc = np.zeros(x.shape, dtype=bool)
    inc[pool[int(np.argmin(u[pool]))]] = True
    return inc


def _iterative(x: Array, u: Array, nu: Array, cand: BoolArray, alpha: float) -> BoolArray:
    inc = cand.copy()
    while inc.sum() > 1:
        ref = _weighted_mean(x, u, nu, inc, alpha)
        if ref.check.passed:
            break
        ud = np.sqrt(np.maximum(u * u - ref.u * ref.u, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(inc, np.abs(x - ref.value) / ud, -np.inf)
        inc[int(np.argmax(ratio))] = False
    return inc


# --- degrees of equivalence --------------------------------------------------------------


def _doe(x: Array, u: Array, nu: Array, ref: WeightedMean, k: float) -> DegreesOfEquivalence:
    contrib = ref.included
    d = x - ref.value
    # u_i² − u²(x_ref) = u_i²·Σ_{j≠i} u_j⁻² / Σ_j u_j⁻² (contributors j): a sum of positive
    # terms instead of a difference, so a dominant participant (w_i → 1) keeps its digits and
    # a lone contributor gets exactly 0.
    raw = np.where(contrib, 1.0 / (u * u), 0.0)
    others = np.broadcast_to(raw, (x.size, x.size)).copy()
    np.fill_diagonal(others, 0.0)
    var = np.where(contrib, u * u * others.sum(axis=1) / raw.sum(), u * u + ref.u * ref.u)
    ud = np.sqrt(var)
    # d_i as a linear combination of the x_j: coefficients δ_ij − w_j (contributor) or
    # δ_ij − w_j (others, with w_i = 0): the same expression, W–S over its terms.
    coef = np.eye(x.size) - ref.weights[None, :]
    dof = _ws(var, coef * u[None, :], np.broadcast_to(nu, coef.shape), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        en = np.where(ud > 0, d / (k * ud), np.where(d == 0, 0.0, np.copysign(np.inf, d)))
    return DegreesOfEquivalence(d=d, u=ud, U=k * ud, k=k, dof=dof, en=en,
                                contributing=contrib.copy())


def degrees_of_equivalence(x: ArrayLike, u: ArrayLike, reference: WeightedMean,
                           dof: ArrayLike | None = None, *, k: float = 2.0
                           ) -> DegreesOfEquivalence:
    """Unilateral degrees of equivalence of every participant with respect to
    ``reference`` (a :func:`weighted_mean` of the same ``x``, ``u``): d_i = x_i − x_ref,
    u²(d_i) = u_i² − u²(x_ref) for a participant in ``reference.included`` (Cox 2002: its
    correlation with x_ref) and u_i² + u²(x_ref) for one that is not;
    U(d_i) = k·u(d_i)."""
    xa, ua, nu = _participants(x, u, dof)
    if reference.weights.shape != xa.shape:
        raise UncertaintyInputError("reference", f"{reference.weights.size} participants",
                                    f"the weighted mean of these {xa.size} participants")
    return _doe(xa, ua, nu, reference, _k(k))


def pairwise_degrees_of_equivalence(x: ArrayLike, u: ArrayLike, dof: ArrayLike | None = None,
                                    *, k: float = 2.0) -> PairwiseDegreesOfEquivalence:
    """Bilateral degrees of equivalence d_ij = x_i − x_j with u²(d_ij) = u_i² + u_j²
    (independent participants, Cox 2002), U = k·u, as N×N matrices (zero
    diagonal)."""
    xa, ua, nu = _participants(x, u, dof)
    kk = _k(k)
    d = xa[:, None] - xa[None, :]
    var = ua[:, None] ** 2 + ua[None, :] ** 2
    ud = np.sqrt(var)
    parts = np.stack(np.broadcast_arrays(ua[:, None], ua[None, :]), axis=-1)
    nus = np.stack(np.broadcast_arrays(nu[:, None], nu[None, :]), axis=-1)
    dof_ij = _ws(var, parts, nus, axis=-1)
    np.fill_diagonal(d, 0.0)
    return PairwiseDegreesOfEquivalence(d=d, u=ud, U=kk * ud, k=kk, dof=dof_ij)


def evaluate_comparison(x: ArrayLike, u: ArrayLike, dof: ArrayLike | None = None, *,
                        candidates: ArrayLike | None = None, alpha: float = 0.05,
                        k: float = 2.0,
                        subset: Literal["exhaustive", "iterative", "none"] = "exhaustive"
                        ) -> ComparisonResult:
    """Cox 2002 Procedure A with Cox 2007's largest consistent subset.

    The weighted mean of the ``candidates`` (all participants by default; a working group
    may leave some out on technical grounds) is checked with the chi-squared test at
    ``alpha``. If it passes, it is the reference value; if not, the reference value is the
    weighted mean of the largest consistent subset (``subset="exhaustive"``, or
    ``"iterative"``; ``"none"`` keeps the failed weighted mean, for a comparison whose
    protocol says so). Degrees of equivalence use coverage factor ``k`` for every
    participant, contributing or not.
    """
    xa, ua, nu = _participants(x, u, dof)
    a = _alpha(alpha)
    kk = _k(k)
    cand = _mask("candidates", candidates, xa.shape[0])
    first = _weighted_mean(xa, ua, nu, cand, a)
    if first.check.passed or subset == "none":
        chosen = ConsistentSubset(included=cand.copy(),
                                  excluded=tuple(int(i) for i in np.flatnonzero(~cand)),
                                  reference=first, method="all")
    elif subset in ("exhaustive", "iterative"):
        chosen = largest_consistent_subset(xa, ua, nu, candidates=cand, alpha=a, method=subset)
    else:
        raise UncertaintyInputError("subset", subset, "'exhaustive', 'iterative' or 'none'")
    return ComparisonResult(x=xa, u=ua, dof=nu, first_check=first.check, subset=chosen,
                            doe=_doe(xa, ua, nu, chosen.reference, kk),
                            pairwise=pairwise_degrees_of_equivalence(xa, ua, nu, k=kk))


# --- other linear reference values: power-moderated mean, arithmetic mean ----------------


@dataclass(frozen=True)
class PowerModeratedMean:
    """Power-moderated mean (Pommé & Keightley, Metrologia 52 (2015) S200) of the results
    marked in ``included``: ``value`` x_ref = Σ w_i x_i, its standard uncertainty ``u``,
    the ``weights`` w_i (0 for results left out, summing to 1), the power ``alpha``
    α = 2 − 3/N, the between-result standard deviation ``s`` (0 when the results are
    consistent, reduced χ² ≤ 1), the characteristic uncertainty per datum ``S`` and
    ``birge_ratio`` √(χ²/(N − 1)) of the results with their own u_i (before s is added).
    ``u_doe`` is the u(x_ref) that enters the degrees of equivalence: ``u`` itself."""

    value: float
    u: float
    weights: Array
    included: BoolArray
    alpha: float
    s: float
    S: float
    birge_ratio: float

    @property
    def u_doe(self) -> float:
        """u(x_ref) in u²(d_i) = (1 − 2w_i)u_i² + u²(x_ref) (Pommé & Keightley 2015)."""
        return self.u


@dataclass(frozen=True)
class ArithmeticMean:
    """Arithmetic mean ``value`` x̄ of the results marked in ``included`` with ``u`` the
    standard deviation of the mean s/√N (the spread of the results), ``u_propagated``
    (Σ u_i²)^(1/2)/N (the law of propagation applied to x̄ with independent x_i) and the
    ``weights`` 1/N (0 for results left out). ``u_doe`` is ``u_propagated``: the
    uncertainty of d_i = x_i − x̄ follows from the u_i of the results, not from their
    scatter."""

    value: float
    u: float
    u_propagated: float
    weights: Array
    included: BoolArray

    @property
    def u_doe(self) -> float:
        """u(x_ref) in u²(d_i) = (1 − 2w_i)u_i² + u²(x_ref): (Σ u_i²)^(1/2)/N."""
        return self.u_propagated


def _included(name: str, mask: ArrayLike | None, n: int, minimum: int) -> BoolArray:
    inc = _mask(name, mask, n)
    if int(inc.sum()) < minimum:
        raise UncertaintyInputError(name, f"{int(inc.sum())} included result(s)",
                                    f"at least {minimum} included results")
    return inc


def _mandel_paule_s2(x: Array, u: Array) -> float:
    """s² ≥ 0 such that Σ (x_i − x̂)²/(u_i² + s²) = N − 1 with x̂ the mean weighted by
    1/(u_i² + s²); 0 when the results are already consistent (the sum is ≤ N − 1)."""
    n = x.size
    c = float(np.median(x))
    xc = x - c  # centred: no digits lost to a large common value

    def excess(s2: float) -> float:
        w = 1.0 / (u * u + s2)
        m = float(np.sum(w * xc) / np.sum(w))
        return float(np.sum(w * (xc - m) ** 2)) - (n - 1)

    if excess(0.0) <= 0.0:
        return 0.0
    hi = float(np.max(xc * xc)) + float(np.max(u * u))
    while excess(hi) > 0.0:  # decreasing in s², negative for large s²
        hi *= 4.0
    return float(optimize.brentq(excess, 0.0, hi, xtol=1e-14 * hi, rtol=1e-14, maxiter=500))


def power_moderated_mean(x: ArrayLike, u: ArrayLike, *, included: ArrayLike | None = None
                         ) -> PowerModeratedMean:
    """Power-moderated mean of the results marked ``included`` (all by default, N ≥ 2 of
    them), S. Pommé and J. Keightley, "Determination of a reference value and its
    uncertainty through a power-moderated mean", Metrologia 52 (2015) S200–S212, as the
    CCRI(II) applies it to the BIPM.RI(II)-K1 comparisons:

    * α = 2 − 3/N;
    * s² ≥ 0 is 0 when Σ (x_i − x_w)²/u_i² ≤ N − 1 (x_w the weighted mean), otherwise the
      Mandel–Paule value that makes Σ (x_i − x̂)²/(u_i² + s²) = N − 1;
    * S = √(N · max(u²(x̄), u²(x_w))) with the external u²(x̄) = Σ (x_i − x̄)²/(N(N − 1))
      of the arithmetic mean and the internal u²(x_w) = 1/Σ (u_i² + s²)⁻¹;
    * u²(x_ref) = 1/Σ [(u_i² + s²)^(α/2) S^(2−α)]⁻¹, w_i = u²(x_ref)/[(u_i² + s²)^(α/2)
      S^(2−α)], x_ref = Σ w_i x_i.

    The weights of results with small uncertainties are moderated towards equal weights as
    N decreases (α = 2 would be the weighted mean; α = 0 the arithmetic mean).
    """
    xa, ua, _ = _participants(x, u)
    inc = _included("included", included, xa.shape[0], 2)
    n = int(inc.sum())
    alpha = 2.0 - 3.0 / n
    # Centred on the median and scaled by the largest u: the same numbers for any unit and
    # offset, no digits lost to a large common value and no overflow of u² for huge u.
    c = float(np.median(xa[inc]))
    sc = float(np.max(ua[inc]))
    xi, ui = (xa[inc] - c) / sc, ua[inc] / sc
    w0 = 1.0 / (ui * ui)
    xw = float(np.sum(w0 * xi) / np.sum(w0))
    birge = math.sqrt(float(np.sum(w0 * (xi - xw) ** 2)) / (n - 1))
    s2 = _mandel_paule_s2(xi, ui)
    v = ui * ui + s2
    u2_ext = float(np.sum((xi - np.mean(xi)) ** 2)) / (n * (n - 1))
    u2_int = 1.0 / float(np.sum(1.0 / v))
    big_s = math.sqrt(n * max(u2_ext, u2_int))
    den = v ** (alpha / 2.0) * big_s ** (2.0 - alpha)
    u2_ref = 1.0 / float(np.sum(1.0 / den))
    wi = u2_ref / den
    wi = wi / wi.sum()
    weights = np.zeros(xa.shape, dtype=float)
    weights[inc] = wi
    value = c + sc * float(np.sum(wi * xi))
    return PowerModeratedMean(value=value, u=sc * math.sqrt(u2_ref), weights=weights,
                              included=inc.copy(), alpha=alpha, s=sc * math.sqrt(s2),
                              S=sc * big_s, birge_ratio=birge)


def arithmetic_mean(x: ArrayLike, u: ArrayLike, *, included: ArrayLike | None = None
                    ) -> ArithmeticMean:
    """Arithmetic mean of the results marked ``included`` (all by default, N ≥ 2): x̄, its
    standard deviation of the mean s/√N (s the sample standard deviation of the x_i) and
    the propagated (Σ u_i²)^(1/2)/N. The KCRV of the BIPM.RI(II)-K1 comparisons before
    2013 (e.g. Ratel & Michotte, Metrologia 41 (2004) Tech. Suppl. 06006, Sr-85) was
    x̄ with u = s/√N; their degrees of equivalence use the propagated uncertainty (see
    :func:`linear_degrees_of_equivalence`)."""
    xa, ua, _ = _participants(x, u)
    inc = _included("included", included, xa.shape[0], 2)
    xi, ui = xa[inc], ua[inc]
    n = xi.size
    c = float(xi[0])
    m = float(np.mean(xi - c))
    sd_mean = math.sqrt(float(np.sum((xi - c - m) ** 2)) / (n * (n - 1)))
    weights = np.where(inc, 1.0 / n, 0.0)
    sc = float(np.max(ui))
    u_prop = sc * math.sqrt(float(np.sum((ui / sc) ** 2))) / n
    return ArithmeticMean(value=c + m, u=sd_mean, u_propagated=u_prop, weights=weights,
                          included=inc.copy())


def linear_degrees_of_equivalence(x: ArrayLike, u: ArrayLike,
                                  reference: PowerModeratedMean | ArithmeticMean | WeightedMean,
                                  *, k: float = 2.0) -> DegreesOfEquivalence:
    """Degrees of equivalence with respect to a reference value that is a linear
    combination x_ref = Σ w_j x_j of the same results (weights ``reference.weights``):
    d_i = x_i − x_ref, u²(d_i) = (1 − 2w_i)·u_i² + u²_DoE(x_ref), U = k·u.

    A result that did not contribute has w_i = 0: u_i² + u²(x_ref). u_DoE is ``reference.u``
    for the power-moderated mean (Pommé & Keightley 2015, as the BIPM.RI(II)-K1 reports
    apply it) and the weighted mean (where (1 − 2w_i)u_i² + u²(x_ref) = u_i² − u²(x_ref),
    Cox 2002), and the propagated (Σ u_j²)^(1/2)/N for the arithmetic mean (then the
    expression is the law of propagation, Σ_j (δ_ij − w_j)² u_j², exactly)."""
    xa, ua, nu = _participants(x, u)
    if reference.weights.shape != xa.shape:
        raise UncertaintyInputError("reference", f"{reference.weights.size} participants",
                                    f"the reference value of these {xa.size} participants")
    kk = _k(k)
    if isinstance(reference, WeightedMean):
        return _doe(xa, ua, nu, reference, kk)
    w = reference.weights
    u_ref = reference.u_doe
    d = xa - reference.value
    var = np.maximum((1.0 - 2.0 * w) * ua * ua + u_ref * u_ref, 0.0)
    ud = np.sqrt(var)
    with np.errstate(divide="ignore", invalid="ignore"):
        en = np.where(ud > 0, d / (kk * ud), np.where(d == 0, 0.0, np.copysign(np.inf, d)))
    return DegreesOfEquivalence(d=d, u=ud, U=kk * ud, k=kk, dof=np.full(xa.shape, np.inf),
                                en=en, contributing=reference.included.copy())


# --- proficiency-testing scores ----------------------------------------------------------


def _array(name: str, v: ArrayLike, *, positive: bool = False, nonnegative: bool = False
           ) -> Array:
    try:
        a = np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        raise UncertaintyInputError(name, v, "numbers") from None
    flat = a.reshape(-1)
    if positive:
        bad, allowed = ~(np.isfinite(flat) & (flat > 0)), "a finite value > 0"
    elif nonnegative:
        bad, allowed = ~(np.isfinite(flat) & (flat >= 0)), "a finite value >= 0"
    else:
        bad, allowed = ~np.isfinite(flat), "a finite value"
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        where = name if a.ndim == 0 else f"{name}[{i}]"
        raise UncertaintyInputError(where, float(flat[i]), allowed)
    return a


def _broadcast(**arrays: Array) -> list[Array]:
    shape: tuple[int, ...] = ()
    for name, a in arrays.items():
        try:
            shape = np.broadcast_shapes(shape, a.shape)
        except ValueError:
            raise UncertaintyInputError(name, f"shape {a.shape}",
                                        f"a shape that broadcasts with {shape}") from None
    return list(np.broadcast_arrays(*arrays.values()))


def _verdicts(score: Array, warn: float | None, act: float) -> NDArray[np.object_]:
    s = np.abs(score)
    out = np.empty(score.shape, dtype=object)
    out[...] = Verdict.UNSATISFACTORY
    if warn is None:
        out[s <= act] = Verdict.SATISFACTORY
    else:
        out[s < act] = Verdict.QUESTIONABLE
        out[s <= warn] = Verdict.SATISFACTORY
    return out


def en_numbers(x: ArrayLike, U_x: ArrayLike, X: ArrayLike, U_X: ArrayLike) -> Scores:
    """E_n = (x − X)/√(U_x² + U_X²) (ISO 13528:2015 9.7, ISO/IEC 17043) from the
    participant's value ``x`` and expanded uncertainty ``U_x`` (> 0) and the assigned value
    ``X`` with its expanded uncertainty ``U_X`` (≥ 0); |E_n| ≤ 1 is satisfactory. Any
    shapes that broadcast."""
    xa, ux, Xa, uX = _broadcast(x=_array("x", x), U_x=_array("U_x", U_x, positive=True),
                                X=_array("X", X), U_X=_array("U_X", U_X, nonnegative=True))
    en = (xa - Xa) / np.sqrt(ux * ux + uX * uX)
    return Scores(value=en, verdict=_verdicts(en, None, 1.0))


def z_scores(x: ArrayLike, X: ArrayLike, sigma_pt: ArrayLike) -> Scores:
    """z = (x − X)/σ_pt (ISO 13528:2015 9.4) with the standard deviation for proficiency
    assessment ``sigma_pt`` (> 0); |z| ≤ 2 satisfactory, 2 < |z| < 3 questionable, |z| ≥ 3
    unsatisfactory."""
    xa, Xa, s = _broadcast(x=_array("x", x), X=_array("X", X),
                           sigma_pt=_array("sigma_pt", sigma_pt, positive=True))
    z = (xa - Xa) / s
    return Scores(value=z, verdict=_verdicts(z, 2.0, 3.0))


def zeta_scores(x: ArrayLike, u_x: ArrayLike, X: ArrayLike, u_X: ArrayLike) -> Scores:
    """ζ = (x − X)/√(u_x² + u_X²) (ISO 13528:2015 9.6) from standard uncertainties
    ``u_x`` (> 0) and ``u_X`` (≥ 0); verdicts as for z."""
    xa, ux, Xa, uX = _broadcast(x=_array("x", x), u_x=_array("u_x", u_x, positive=True),
                                X=_array("X", X), u_X=_array("u_X", u_X, nonnegative=True))
    zeta = (xa - Xa) / np.sqrt(ux * ux + uX * uX)
    return Scores(value=zeta, verdict=_verdicts(zeta, 2.0, 3.0))
