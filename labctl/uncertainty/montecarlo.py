"""Propagation of distributions by the Monte Carlo method (JCGM 101:2008, "GUM Supplement 1").

:func:`mcm` draws the inputs (JCGM 101 6.4; correlated Gaussian inputs jointly, 6.4.8),
evaluates the model on blocks of trials (memory-bounded: 10⁸ trials keep only the model values,
stored as float32 deviations from the estimate when float64 would exceed the memory budget),
and reports the estimate, standard uncertainty and two coverage intervals: the
probabilistically symmetric one (7.7.1) and the shortest (7.7.2). ``trials=None`` runs the
adaptive procedure of 7.9. :func:`validate_gum` compares a GUM result with a Monte Carlo one
(clause 8).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
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
from labctl.uncertainty.distributions import Distribution, Normal
from labctl.uncertainty.propagation import FloatOrArray, GumResult

__all__ = ["MonteCarloResult", "Validation", "mcm", "numerical_tolerance", "validate_gum"]

Array = NDArray[np.float64]

#: Bytes the stored model values may take in float64 before switching to float32 deviations.
STORE_FLOAT64_LIMIT = 256 * 2**20
#: Target number of floats drawn per block (inputs × trials × points): about 64 MB.
BLOCK_ELEMENTS = 2**23
#: Hard cap on the stored model values (float32): trials × points × outputs × 4 bytes.
STORE_HARD_LIMIT = 4 * 2**30


@dataclass(frozen=True)
class MonteCarloResult:
    """Result of JCGM 101 Monte Carlo for one or N points (arrays of shape (N,)).

    ``value`` (mean of the model values, 7.6), ``u`` (their standard deviation),
    ``interval`` (probabilistically symmetric 100p % coverage interval, 7.7.1),
    ``shortest_interval`` (7.7.2), ``coverage`` p, ``trials`` M. For a model with several
    outputs every field has a leading axis over the outputs and ``cov``/``correlation`` are
    their (n_out, n_out, *points) matrices (else ``None``). ``adaptive`` tells whether 7.9 was
    run; then ``tolerance`` is δ (7.9.2, per point/output) and ``converged`` whether every
    2·s was <= δ before ``max_trials``. ``seed_entropy`` reproduces a run made without an
    explicit generator (``numpy.random.default_rng(seed_entropy)``).
    """

    value: FloatOrArray
    u: FloatOrArray
    interval: tuple[FloatOrArray, FloatOrArray]
    shortest_interval: tuple[FloatOrArray, FloatOrArray]
    coverage: float
    trials: int
    adaptive: bool
    converged: bool
    tolerance: FloatOrArray | None = None
    cov: Array | None = None
    correlation: Array | None = None
    seed_entropy: int | None = None


@dataclass(frozen=True)
class Validation:
    """JCGM 101 clause 8: is the GUM interval confirmed by Monte Carlo?

    ``d_low = |y − U − y_low|`` and ``d_high = |y + U − y_high|`` (GUM interval against the
    Monte Carlo probabilistically symmetric one), ``tolerance`` δ from the GUM u(y) with
    ``significant_digits`` (7.9.2), ``passed`` when both are <= δ (per point).
    """

    d_low: FloatOrArray
    d_high: FloatOrArray
    tolerance: FloatOrArray
    passed: bool | NDArray[np.bool_]


def numerical_tolerance(u: Any, significant_digits: int = 2) -> Array:
    """δ of JCGM 101 7.9.2: write u as c × 10^l with c an n_dig-digit integer; δ = ½·10^l.

    ``u`` > 0 (array allowed); u = 0 gives δ = 0.
    """
    _check_digits(significant_digits)
    a = np.asarray(u, dtype=float)
    with np.errstate(divide="ignore"):
        l_exp = np.floor(np.log10(np.where(a > 0, a, 1.0))) - significant_digits + 1
        # c rounded to n_dig digits may reach 10^n_dig (0.0999 -> 10 × 10^-2): one more place.
        c = np.round(a / 10.0**l_exp)
        l_exp = np.where(c >= 10.0**significant_digits, l_exp + 1, l_exp)
    return np.where(a > 0, 0.5 * 10.0**l_exp, 0.0)


def _check_digits(significant_digits: int) -> None:
    if isinstance(significant_digits, bool) or not isinstance(significant_digits, int) or not (
            1 <= significant_digits <= 6):
        raise UncertaintyInputError("significant_digits", significant_digits,
                                    "an integer 1..6 (digits of u(y) held meaningful, 7.9.1)")


class _Sampler:
    """Draws blocks of trials of every input; correlated inputs jointly."""

    def __init__(self, inp: Inputs, correlation: Correlation | None) -> None:
        self.inp = inp
        R, pairs = correlation_matrix(correlation, inp.names)
        linked = sorted({i for i, j, _ in pairs} | {j for i, j, _ in pairs})
        self.group = linked
        self.L: Array | None = None
        if linked:
            Rg = R[np.ix_(linked, linked)]
            # Eigen factor rather than Cholesky: valid for singular (r = ±1) PSD matrices.
            lam, V = np.linalg.eigh(Rg)
            self.L = V * np.sqrt(np.clip(lam, 0.0, None))

    def draw(self, rng: np.random.Generator, size: int) -> dict[str, Array]:
        inp = self.inp
        out: dict[str, Array] = {}
        nd = len(inp.shape)
        for i, (nm, d) in enumerate(zip(inp.names, inp.dists, strict=True)):
            if i in self.group:
                continue
            s = d.sample(rng, size)
            out[nm] = s.reshape((size, *inp.own_shape(i)))
        if self.L is not None:
            g = len(self.group)
            z = rng.standard_normal((size, *inp.shape, g)) @ self.L.T
            for col, i in enumerate(self.group):
                d = inp.dists[i]
                zi = z[..., col]
                out[inp.names[i]] = _from_standard_normal(d, zi, nd)
        return {nm: out[nm] for nm in inp.names}


def _from_standard_normal(d: Distribution, z: Array, nd: int) -> Array:
    if isinstance(d, Normal):
        # JCGM 101 6.4.8: exactly the multivariate Gaussian with covariance U R U.
        return d.value + d.u * z
    # Gaussian copula for non-Gaussian marginals: the marginal is exact, the correlation
    # is the one of the underlying normals (rank correlation close to r).
    return d.ppf(special.ndtr(z))


def _intervals(store: NDArray[Any], p: float, shortest: bool
               ) -> tuple[Array, Array, Array, Array]:
    """Symmetric (7.7.1) and shortest (7.7.2) interval endpoints per row of ``store`` (K, M).

    Sorts ``store`` in place (a full sort is as fast as partitioning out the tails here).
    """
    M = store.shape[1]
    pM = p * M
    q = int(pM) if float(pM).is_integer() else int(pM + 0.5)
    q = min(max(q, 1), M - 1)
    # 7.7.1: r = (M − q)/2 if that is an integer, else (M − q + 1)/2 (1-based)
    r = (M - q) // 2 if (M - q) % 2 == 0 else (M - q + 1) // 2
    r = max(r, 1)
    store.sort(axis=1)
    sym_lo = store[:, r - 1].astype(float)
    sym_hi = store[:, r + q - 1].astype(float)
    if not shortest:
        return sym_lo, sym_hi, sym_lo, sym_hi
    # 7.7.2: the shortest of y_(r+q) − y_(r), r = 1..M − q.
    rows = np.arange(store.shape[0])
    best = np.empty(store.shape[0], dtype=np.int64)
    for k in range(store.shape[0]):
        best[k] = int(np.argmin(store[k, q:] - store[k, :M - q]))
    return sym_lo, sym_hi, store[rows, best].astype(float), store[rows, best + q].astype(float)


class _Moments:
    """Running means and per-point output co-moments, combined block by block (Chan et al.)."""

    def __init__(self, m: int, P: int) -> None:
        self.m, self.P = m, P
        self.n = 0
        self.mean = np.zeros((m, P))
        self.m2 = np.zeros((m, m, P))

    def add(self, dev: Array) -> Array:
        """Add a block of deviations (K, b) = (m·P, b); return the block means (K,)."""
        nb = dev.shape[1]
        yy = dev.reshape(self.m, self.P, nb)
        s1 = yy.sum(axis=2)
        mb = s1 / nb
        if self.m == 1:
            # one pass: Σd² − n·d̄² is exact enough as d is already shifted by f(x) (d̄ ≈ u)
            m2b = (np.einsum("pb,pb->p", yy[0], yy[0]) - nb * mb[0] ** 2)[None, None]
            if np.any(nb * mb[0] ** 2 > 1e6 * m2b[0, 0]):
                d0 = yy[0] - mb[0][:, None]
                m2b = np.einsum("pb,pb->p", d0, d0)[None, None]
        else:
            d = yy - mb[..., None]
            m2b = np.einsum("ipb,jpb->ijp", d, d)
        delta = mb - self.mean
        tot = self.n + nb
        self.m2 = self.m2 + m2b + delta[:, None] * delta[None, :] * (self.n * nb / tot)
        self.mean = self.mean + delta * (nb / tot)
        self.n = tot
        return np.asarray(mb.reshape(-1), dtype=float)

    def cov(self) -> Array:
        """(m, m, P) sample covariance."""
        return np.asarray(self.m2 / max(self.n - 1, 1), dtype=float)

    def var(self) -> Array:
        """(K,) = (m·P,) sample variances in storage order."""
        return np.asarray(np.einsum("aap->ap", self.cov()).reshape(-1), dtype=float)


def mcm(
    f: Model,
    inputs: Mapping[str, Any],
    correlation: Correlation | None = None,
    coverage: float = 0.95,
    trials: int | None = None,
    rng: np.random.Generator | int | None = None,
    *,
    significant_digits: int = 2,
    max_trials: int = 10**8,
    shortest: bool = True,
    block_size: int | None = None,
    max_memory: int = STORE_FLOAT64_LIMIT,
    **unknown: object,
) -> MonteCarloResult:
    """Propagate the input distributions through ``f`` by Monte Carlo (JCGM 101 clause 7).

    ``f``, ``inputs`` and ``correlation`` as for :func:`~labctl.uncertainty.gum` (``f`` is
    called with arrays of trials along the first axis). ``trials=M`` runs M trials (>= 1/(1−p)
    so an interval exists; JCGM 101 7.2 suggests 10⁶); ``trials=None`` runs the adaptive
    procedure of 7.9 in blocks of max(⌈100/(1−p)⌉, 10⁴) until twice the standard deviation of
    the block means of y, u(y) and both symmetric interval endpoints is <= δ, the numerical
    tolerance of u(y) at ``significant_digits`` (7.9.2), or ``max_trials`` is reached.
    ``rng`` is a :class:`numpy.random.Generator` (or a seed); ``None`` draws fresh entropy and
    records it in the result. Correlated Gaussian inputs are drawn from their multivariate
    normal (6.4.8); other correlated inputs through a Gaussian copula. Runs of >= 2¹⁷
    trials are drawn in four parts from generators spawned from ``rng`` and evaluated on
    threads (the numbers depend on the seed only), so ``f`` must be thread-safe, as any pure
    numpy function is. The M model values are kept for the intervals: as float64 up to
    ``max_memory`` bytes, beyond that as float32 deviations from f(x) (resolution ~1e-7·u,
    far below Monte Carlo noise); the inputs are drawn in blocks of ``block_size`` trials
    (default: about 64 MB of draws). The adaptive procedure keeps float32 deviations.
    With N points whose values would not fit in ``max_memory`` even as float32, a fixed-M
    run is made for groups of points in turn (child generators of ``rng``). More than 4 GiB
    of stored values is refused for a fixed M and ends the adaptive procedure unconverged.
    """
    reject_unknown("mcm", unknown)
    inp = check_inputs(inputs)
    p = check_coverage(coverage)
    sampler = _Sampler(inp, correlation)
    _check_digits(significant_digits)
    _check_options(p, trials, max_trials, block_size, max_memory)
    gen, entropy = _generator(rng)

    run = _Trials(f, inp, sampler, gen)
    if (trials is not None and len(run.S) == 1 and run.P > 1
            and int(trials) * run.m * run.P * 4 > max(max_memory, 4 * run.m * int(trials))):
        # Too many points to keep every value of every point at once: run groups of points
        # one after the other, each within max_memory, from child generators of ``gen``.
        return _by_point_groups(
            f, inp, correlation, p, int(trials), gen, run.m, entropy,
            significant_digits=significant_digits, shortest=shortest, block_size=block_size,
            max_memory=max_memory)

    tol: Array | None = None
    converged, adaptive = True, False
    if trials is None:
        store, tol, converged = _adaptive(run, p, significant_digits, max_trials)
        adaptive = True
    elif (streams := _streams(gen, int(trials))) is None:
        store = _fixed(run, int(trials), block_size, max_memory)
    else:
        store = _threaded(run, int(trials), block_size, max_memory, streams)
    return _result(run, store, p, shortest, tol=tol, converged=converged, adaptive=adaptive,
                   entropy=entropy)


def _check_options(p: float, trials: int | None, max_trials: int, block_size: int | None,
                   max_memory: int) -> None:
    min_trials = math.ceil(1.0 / (1.0 - p))
    if trials is not None and (isinstance(trials, bool) or not isinstance(trials, int | np.integer)
                               or trials < min_trials):
        raise UncertaintyInputError("trials", trials, f"an integer >= {min_trials} (= 1/(1-p)) "
                                                      "or None for the adaptive procedure")
    if isinstance(max_trials, bool) or not isinstance(max_trials, int) or max_trials < 1:
        raise UncertaintyInputError("max_trials", max_trials, "a positive integer")
    if block_size is not None and (isinstance(block_size, bool) or not isinstance(
            block_size, int) or block_size < 1):
        raise UncertaintyInputError("block_size", block_size, "a positive integer or None")
    if isinstance(max_memory, bool) or not isinstance(max_memory, int) or max_memory < 0:
        raise UncertaintyInputError("max_memory", max_memory, "a number of bytes >= 0")


def _generator(rng: np.random.Generator | int | None) -> tuple[np.random.Generator, int | None]:
    """The generator to draw from, and the fresh entropy drawn when ``rng`` is None."""
    if rng is None:
        ss = np.random.SeedSequence()
        entropy = int(ss.entropy)  # type: ignore[arg-type]  # always an int when drawn fresh
        return np.random.default_rng(ss), entropy
    if isinstance(rng, np.random.Generator):
        return rng, None
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng)), None
    raise UncertaintyInputError("rng", rng, "a numpy.random.Generator, an int seed or None")


class _Trials:
    """Draws trials and evaluates the model on them: the model values are kept as deviations
    from y0 = f(x) ((K, size) arrays, K = outputs × points) and their running moments."""

    def __init__(self, f: Model, inp: Inputs, sampler: _Sampler,
                 gen: np.random.Generator) -> None:
        self.f, self.sampler, self.gen = f, sampler, gen
        self.S = inp.shape
        x0 = {nm: d.value for nm, d in zip(inp.names, inp.dists, strict=True)}
        y0_list = evaluate(f, x0, self.S)
        self.m = len(y0_list)
        self.y0 = np.stack(y0_list).reshape(-1)  # (K,) = outputs × points, the storage shift
        self.K = self.y0.size
        self.P = max(int(np.prod(self.S)), 1)
        self.n_in = len(inp.names)
        self.mom = _Moments(self.m, self.P)

    def chunk(self, g: np.random.Generator, size: int, out: NDArray[Any] | None = None
              ) -> Array:
        """Deviations y − f(x) of ``size`` trials drawn from ``g``, (K, size); written into
        ``out`` when given. Raises when a model value is not finite."""
        K, y0 = self.K, self.y0
        xs = self.sampler.draw(g, size)
        outs = evaluate(self.f, xs, (size, *self.S), self.m, check_finite=False)
        if K == 1:
            y = outs[0] if outs[0].shape == (size,) else outs[0].reshape(size)
            if out is not None and out.dtype == np.float64:
                target: Array | None = out[0]
            elif (out is None and y.flags.owndata and y.flags.writeable
                  and not any(y is v for v in xs.values())):
                target = y  # the model's own fresh result: shift it in place, no copy
            else:
                target = None
            dev: Array = np.asarray(np.subtract(y, y0[0], out=target)).reshape(1, size)
        else:
            ys = np.stack([o.reshape(size, self.P).T for o in outs]).reshape(K, size)
            dev = np.asarray(np.subtract(ys, y0[:, None]), dtype=float)
        # A NaN or inf anywhere makes the sum non-finite: one cheap pass instead of isfinite.
        if not math.isfinite(float(np.sum(dev))):
            bad = np.argwhere(~np.isfinite(dev))[0]
            trial = int(bad[1])
            raise UncertaintyInputError(
                "model", f"{dev[tuple(bad)] + y0[int(bad[0])]} at trial {trial} with "
                + ", ".join(f"{k}={float(np.ravel(v[trial])[0]):.10g}" for k, v in xs.items()),
                "a finite value for every input value drawn",
            )
        if out is not None and dev is not out:
            out[...] = dev
        return dev

    def block(self, size: int, out: NDArray[Any] | None = None) -> Array:
        """``size`` trials from the main generator, counted in the moments."""
        dev = self.chunk(self.gen, size, out)
        self.mom.add(dev)
        return dev

    def store_for(self, M: int, block_size: int | None, max_memory: int
                  ) -> tuple[int, type[np.floating[Any]]]:
        """Block length and storage type for a fixed M (refused beyond the hard limit)."""
        if M * self.K * 4 > STORE_HARD_LIMIT:
            raise UncertaintyInputError(
                "trials", M, f"at most {STORE_HARD_LIMIT // (4 * self.K)} trials for {self.K} "
                "output values per trial (the values kept for the intervals would exceed "
                f"{STORE_HARD_LIMIT / 2**30:.0f} GiB)")
        B = block_size or max(1, min(M, BLOCK_ELEMENTS // ((self.n_in + 2) * self.P)))
        return B, (np.float64 if max_memory >= M * self.K * 8 else np.float32)


def _fixed(run: _Trials, M: int, block_size: int | None, max_memory: int) -> NDArray[Any]:
    """M trials (JCGM 101 7.2) in blocks from one generator: the stored deviations."""
    B, dtype = run.store_for(M, block_size, max_memory)
    if B >= M and dtype == np.float64:
        return run.block(M)  # one block: keep its array rather than copying it
    store = np.empty((run.K, M), dtype=dtype)
    done = 0
    while done < M:
        b = min(B, M - done)
        run.block(b, out=store[:, done:done + b])
        done += b
    return store


def _threaded(run: _Trials, M: int, block_size: int | None, max_memory: int,
              streams: list[np.random.Generator]) -> NDArray[Any]:
    """M trials with each block split in a fixed number of parts, each drawn from its own
    child generator (spawned from ``rng``): the result depends on ``rng`` only, never on how
    many threads ran the parts. numpy releases the GIL while drawing and evaluating, so the
    parts run in parallel."""
    B, dtype = run.store_for(M, block_size, max_memory)
    store = np.empty((run.K, M), dtype=dtype)
    workers = min(len(streams), os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        done = 0
        while done < M:
            b = min(B, M - done)
            edges = np.linspace(done, done + b, len(streams) + 1).astype(int)
            futures = [pool.submit(run.chunk, g, int(hi - lo), store[:, lo:hi])
                       for g, lo, hi in zip(streams, edges[:-1], edges[1:], strict=True)
                       if hi > lo]
            for fu in futures:
                fu.result()
            run.mom.add(np.asarray(store[:, done:done + b], dtype=float))
            done += b
    return store


def _adaptive(run: _Trials, p: float, significant_digits: int, max_trials: int
              ) -> tuple[NDArray[Any], Array, bool]:
    """The adaptive procedure of JCGM 101 7.9.4: blocks until twice the standard deviation
    of the block means, u and interval endpoints is within the numerical tolerance, or
    ``max_trials``. The stored deviations (float32), the tolerance, whether it converged."""
    Mb = max(math.ceil(100.0 / (1.0 - p)), 10**4)
    blocks: list[NDArray[np.float32]] = []
    stats: list[Array] = []  # per block: mean, u, y_low, y_high (4, K)
    converged = False
    h = 0
    while True:
        yb = run.block(Mb)
        bm = yb.mean(axis=1)
        bu = yb.std(axis=1, ddof=1)
        blocks.append(yb.astype(np.float32))
        lo, hi, _, _ = _intervals(yb, p, shortest=False)  # sorts yb, already stored
        stats.append(np.stack([bm, bu, lo, hi]))
        h += 1
        tol = numerical_tolerance(np.sqrt(run.mom.var()), significant_digits)
        if h >= 2:
            st = np.stack(stats)  # (h, 4, K)
            sd = st.std(axis=0, ddof=1) / math.sqrt(h)
            if np.all(2.0 * sd <= tol[None, :]):
                converged = True
                break
        if (h + 1) * Mb > max_trials or (h + 1) * Mb * run.K * 4 > STORE_HARD_LIMIT:
            break
    return np.concatenate(blocks, axis=1), tol, converged


def _result(run: _Trials, store: NDArray[Any], p: float, shortest: bool, *,
            tol: Array | None, converged: bool, adaptive: bool,
            entropy: int | None) -> MonteCarloResult:
    """Estimate, u, both intervals (and covariance for several outputs) from the stored
    deviations and the running moments."""
    m, S, y0 = run.m, run.S, run.y0
    M = store.shape[1]
    mean = y0 + run.mom.mean.reshape(-1)
    var = run.mom.var()
    sym_lo, sym_hi, sh_lo, sh_hi = _intervals(store, p, shortest)
    del store

    def shape_out(a: Array) -> FloatOrArray:
        a = a.reshape((m, *S)) if m > 1 else a.reshape(S)
        return float(a) if a.ndim == 0 else a

    cov = corr = None
    if m > 1:
        cov = run.mom.cov().reshape((m, m, *S))
        d = np.sqrt(np.einsum("aa...->a...", cov))
        with np.errstate(divide="ignore", invalid="ignore"):
            dd = np.einsum("a...,b...->ab...", d, d)
            corr = np.where(dd > 0, cov / dd, 0.0)
    return MonteCarloResult(
        value=shape_out(mean), u=shape_out(np.sqrt(var)),
        interval=(shape_out(y0 + sym_lo), shape_out(y0 + sym_hi)),
        shortest_interval=(shape_out(y0 + sh_lo), shape_out(y0 + sh_hi)),
        coverage=p, trials=M, adaptive=adaptive, converged=converged,
        tolerance=None if tol is None else shape_out(tol), cov=cov, correlation=corr,
        seed_entropy=entropy,
    )


def _take(d: Distribution, sl: slice, n: int) -> Distribution:
    """The distribution restricted to points ``sl`` (parameters of shape (n,) are sliced)."""
    new = copy.copy(d)
    new.__dict__.pop("shape", None)  # worked out again for the slice
    for fl in dataclasses.fields(d):
        a = getattr(d, fl.name)
        if isinstance(a, np.ndarray) and a.shape == (n,):
            object.__setattr__(new, fl.name, a[sl])
    return new


def _by_point_groups(f: Model, inp: Inputs, correlation: Correlation | None, p: float, M: int,
                     gen: np.random.Generator, m: int, entropy: int | None,
                     **options: Any) -> MonteCarloResult:
    n = inp.shape[0]
    per = max(1, int(options["max_memory"]) // (4 * m * M))
    groups = [(lo, min(lo + per, n)) for lo in range(0, n, per)]
    try:
        children = list(gen.spawn(len(groups)))
    except (TypeError, ValueError, AttributeError):
        children = [gen] * len(groups)  # no SeedSequence to spawn from: draw on in turn
    parts: list[MonteCarloResult] = []
    for (lo, hi), child in zip(groups, children, strict=True):
        sub = {nm: _take(d, slice(lo, hi), n) for nm, d in zip(inp.names, inp.dists,
                                                                strict=True)}
        parts.append(mcm(f, sub, correlation, p, M, child, **options))

    def cat(get: Any) -> Array:
        # points are the last axis of every per-point field
        return np.concatenate([np.asarray(get(r)) for r in parts], axis=-1)

    cov = corr = None
    if m > 1:
        cov = cat(lambda r: r.cov)
        corr = cat(lambda r: r.correlation)
    return MonteCarloResult(
        value=cat(lambda r: r.value), u=cat(lambda r: r.u),
        interval=(cat(lambda r: r.interval[0]), cat(lambda r: r.interval[1])),
        shortest_interval=(cat(lambda r: r.shortest_interval[0]),
                           cat(lambda r: r.shortest_interval[1])),
        coverage=p, trials=M, adaptive=False, converged=True, tolerance=None, cov=cov,
        correlation=corr, seed_entropy=entropy,
    )


#: Parts each Monte Carlo block is split into (one child generator each). Fixed, so a seed
#: gives the same numbers on any machine; threads = min(PARTS, CPUs).
PARTS = 4
#: Below this many trials the threads cost more than they save.
PARALLEL_MIN_TRIALS = 2**17


def _streams(gen: np.random.Generator, M: int) -> list[np.random.Generator] | None:
    # Decided by M alone (not by the CPU count) so that a seed means the same numbers anywhere.
    if M < PARALLEL_MIN_TRIALS:
        return None
    try:
        return list(gen.spawn(PARTS))
    except (TypeError, ValueError, AttributeError):
        return None  # a generator built without a SeedSequence cannot spawn: run serially


def validate_gum(gum_result: GumResult, mc_result: MonteCarloResult,
                 significant_digits: int = 2) -> Validation:
    """JCGM 101 8.2: compare the GUM interval y ± U with the Monte Carlo probabilistically
    symmetric interval at the same coverage probability; the GUM result is validated when
    both endpoint differences are <= δ of u(y) at ``significant_digits`` (7.9.2)."""
    if not np.allclose(gum_result.coverage, mc_result.coverage):
        raise UncertaintyInputError("mc_result.coverage", mc_result.coverage,
                                    f"the GUM result's coverage ({gum_result.coverage})")
    y = np.asarray(gum_result.value)
    U = np.asarray(gum_result.U)
    lo, hi = (np.asarray(v) for v in mc_result.interval)
    try:
        d_low = np.abs(y - U - lo)
        d_high = np.abs(y + U - hi)
    except ValueError:
        raise UncertaintyInputError("mc_result", f"shape {lo.shape}",
                                    f"the GUM result's shape {y.shape}") from None
    tol = numerical_tolerance(gum_result.u, significant_digits)
    passed = (d_low <= tol) & (d_high <= tol)

    def o(a: Array) -> FloatOrArray:
        return float(a) if a.ndim == 0 else a

    return Validation(d_low=o(d_low), d_high=o(d_high), tolerance=o(tol),
                      passed=bool(passed) if passed.ndim == 0 else passed)
