"""What the law of propagation and Monte Carlo share: checked inputs, the correlation matrix
and a guarded call of the user's measurement model."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from labctl.errors import UncertaintyInputError, UnknownKeywordError
from labctl.uncertainty.distributions import Distribution, as_distribution

Array = NDArray[np.float64]
#: A measurement model: inputs by name (keyword arguments) -> one output or a tuple of them.
Model = Callable[..., Any]
#: Correlation coefficients by pair of input names, ``{("a", "b"): 0.5}``, or a full n×n
#: matrix with rows and columns in the order of the inputs.
Correlation = Mapping[tuple[str, str], float] | NDArray[np.float64] | list[list[float]]

#: Tolerance on the smallest eigenvalue of a correlation matrix (rounding of user input).
PSD_TOLERANCE = 1e-10


@dataclass(frozen=True)
class Inputs:
    """Checked inputs: names in order, distributions, and the common shape of the points."""

    names: tuple[str, ...]
    dists: tuple[Distribution, ...]
    shape: tuple[int, ...]

    def own_shape(self, i: int) -> tuple[int, ...]:
        """Shape of input ``i`` padded with leading 1s to the points' ndim (for broadcasting)."""
        s = self.dists[i].shape
        return (1,) * (len(self.shape) - len(s)) + s


def check_inputs(inputs: Mapping[str, Any]) -> Inputs:
    """Names must be identifiers, values distributions or numbers, shapes must broadcast."""
    if not isinstance(inputs, Mapping) or not inputs:
        raise UncertaintyInputError("inputs", inputs,
                                    "a non-empty mapping of input name -> distribution")
    names: list[str] = []
    dists: list[Distribution] = []
    for name, d in inputs.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise UncertaintyInputError("inputs", name, "input names that are Python identifiers "
                                                        "(the model takes them as keywords)")
        names.append(name)
        dists.append(as_distribution(name, d))
    shape: tuple[int, ...] = ()
    for name, d in zip(names, dists, strict=True):
        try:
            shape = np.broadcast_shapes(shape, d.shape)
        except ValueError:
            raise UncertaintyInputError(
                name, f"shape {d.shape}", f"a shape that broadcasts with the other inputs' {shape}"
            ) from None
    return Inputs(tuple(names), tuple(dists), shape)


def reject_unknown(function: str, unknown: Mapping[str, object]) -> None:
    """Raise for keywords a function does not take: a misspelt option must not be ignored."""
    if unknown:
        name, value = next(iter(unknown.items()))
        raise UnknownKeywordError(name, value, f"a keyword that {function}() takes "
                                               "(see its docstring)")


def check_coverage(coverage: float) -> float:
    """A coverage probability strictly between 0 and 1."""
    if isinstance(coverage, bool) or not isinstance(coverage, int | float | np.floating):
        raise UncertaintyInputError("coverage", coverage, "a probability in (0, 1), e.g. 0.95")
    p = float(coverage)
    if not (0.0 < p < 1.0):
        raise UncertaintyInputError("coverage", coverage, "a probability in (0, 1), e.g. 0.95")
    return p


def correlation_matrix(correlation: Correlation | None, names: tuple[str, ...]
                       ) -> tuple[Array, list[tuple[int, int, float]]]:
    """The n×n correlation matrix of the inputs and the list of non-zero pairs (i < j).

    Each coefficient must be finite with |r| <= 1, name two different inputs, and be given
    once (``(a, b)`` and ``(b, a)`` may both appear only with the same value); the matrix must
    be positive semi-definite.
    """
    n = len(names)
    R = np.eye(n)
    pairs: dict[tuple[int, int], float] = {}
    if correlation is None:
        return R, []
    if isinstance(correlation, np.ndarray | list | tuple):
        correlation = _pairs_from_matrix(correlation, names)
    if not isinstance(correlation, Mapping):
        raise UncertaintyInputError("correlation", correlation,
                                    'a mapping {("a", "b"): r} of input-name pairs, or an '
                                    "n×n matrix in the order of the inputs")
    index = {nm: i for i, nm in enumerate(names)}
    for key, r in correlation.items():
        if not (isinstance(key, tuple) and len(key) == 2):
            raise UncertaintyInputError("correlation", key, 'a pair of input names ("a", "b")')
        a, b = key
        for nm in (a, b):
            if nm not in index:
                raise UncertaintyInputError(f"correlation[{key!r}]", nm,
                                            f"the name of an input: one of {list(names)}")
        if a == b:
            raise UncertaintyInputError(f"correlation[{key!r}]", r,
                                        "two different inputs (r(a, a) = 1 by definition)")
        if isinstance(r, bool) or not isinstance(r, int | float | np.floating):
            raise UncertaintyInputError(f"correlation[{key!r}]", r,
                                        "a number -1 <= r <= 1 (one value for all points)")
        rv = float(r)
        if not (math.isfinite(rv) and -1.0 <= rv <= 1.0):
            raise UncertaintyInputError(f"correlation[{key!r}]", r, "-1 <= r <= 1")
        i, j = sorted((index[a], index[b]))
        if (i, j) in pairs and pairs[(i, j)] != rv:
            raise UncertaintyInputError(f"correlation[{key!r}]", r,
                                        f"the same value as the reverse pair ({pairs[(i, j)]})")
        pairs[(i, j)] = rv
        R[i, j] = R[j, i] = rv
    lam = float(np.linalg.eigvalsh(R).min()) if n > 1 else 1.0
    if lam < -PSD_TOLERANCE:
        raise UncertaintyInputError(
            "correlation", dict(correlation),
            f"a positive semi-definite correlation matrix (smallest eigenvalue is {lam:.3g})",
        )
    return R, [(i, j, r) for (i, j), r in sorted(pairs.items()) if r != 0.0]


def _pairs_from_matrix(matrix: Any, names: tuple[str, ...]) -> dict[tuple[str, str], float]:
    """A full correlation matrix (rows and columns in input order) as pairs; it must be
    symmetric with a unit diagonal."""
    n = len(names)
    try:
        C = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError):
        raise UncertaintyInputError("correlation", matrix, "an n×n matrix of numbers") from None
    if C.shape != (n, n):
        raise UncertaintyInputError("correlation", f"shape {C.shape}",
                                    f"a {n}×{n} matrix, rows in the order {list(names)}")
    if not np.allclose(np.diag(C), 1.0):
        raise UncertaintyInputError("correlation", np.diag(C).tolist(), "a unit diagonal")
    if not np.allclose(C, C.T, rtol=0, atol=1e-12):
        raise UncertaintyInputError("correlation", "an asymmetric matrix", "a symmetric matrix")
    return {(names[i], names[j]): float(C[i, j]) for i in range(n) for j in range(i + 1, n)
            if C[i, j] != 0.0}


def _describe_point(kwargs: Mapping[str, ArrayLike], where: NDArray[np.bool_]) -> str:
    idx = tuple(int(i) for i in np.argwhere(where)[0])
    vals = []
    for k, v in kwargs.items():
        try:
            x = float(np.broadcast_to(np.asarray(v, dtype=float), where.shape)[idx])
        except (TypeError, ValueError):
            continue
        vals.append(f"{k}={x:.10g}")
    return f"at index {idx} with {', '.join(vals)}"


def evaluate(f: Model, kwargs: Mapping[str, ArrayLike], shape: tuple[int, ...],
             n_outputs: int | None = None, check_finite: bool = True) -> list[Array]:
    """Call the model; return its outputs as float arrays broadcast to ``shape``.

    A model that raises, returns a non-number, a NaN/inf, or a different number of outputs
    than before raises :class:`UncertaintyInputError` naming the model and where. With
    ``check_finite=False`` the caller checks finiteness itself (Monte Carlo does it on the
    block sums, which are NaN/inf exactly when a value is).
    """
    try:
        with np.errstate(all="ignore"):
            out = f(**kwargs)
    except UncertaintyInputError:
        raise
    except Exception as exc:
        raise UncertaintyInputError(
            "model", f"{type(exc).__name__}: {exc}",
            "a function of the inputs (as numpy arrays, by keyword) that evaluates",
        ) from exc
    outs = list(out) if isinstance(out, tuple | list) else [out]
    if n_outputs is not None and len(outs) != n_outputs:
        raise UncertaintyInputError("model", f"{len(outs)} outputs",
                                    f"the same number of outputs every call ({n_outputs})")
    result: list[Array] = []
    for m, o in enumerate(outs):
        try:
            a = np.asarray(o, dtype=float)
            if a.shape != shape:
                a = np.broadcast_to(a, shape)
        except (TypeError, ValueError):
            raise UncertaintyInputError(
                "model" if len(outs) == 1 else f"model output {m}", f"shape {np.shape(o)}",
                f"a number or an array broadcasting to {shape}",
            ) from None
        if not check_finite:
            result.append(a)
            continue
        bad = ~np.isfinite(a)
        if bad.any():
            raise UncertaintyInputError(
                "model" if len(outs) == 1 else f"model output {m}",
                f"{a[tuple(np.argwhere(bad)[0])]} {_describe_point(kwargs, bad)}",
                "a finite value for every input value drawn or stepped to",
            )
        result.append(a)
    return result
