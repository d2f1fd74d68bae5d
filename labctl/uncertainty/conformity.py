"""Statements of conformity to a specification (JCGM 106:2012, ILAC-G8:09/2019).

A measured value y with expanded uncertainty U is compared with tolerance limits T_L and/or
T_U (the tolerance interval; limits belong to it). The decision rule sets acceptance limits
from a guard band w = r·U:

* ``simple`` — simple acceptance (ILAC-G8 4.2.1, w = 0): pass inside the tolerance interval;
* ``guarded_acceptance`` — binary, acceptance interval shrunk by w (ILAC-G8 4.2.2);
* ``guarded_rejection`` — binary, acceptance interval widened by w (ILAC-G8 4.2.3);
* ``non_binary`` — ILAC-G8:2019 4.2.3 four outcomes: pass (inside the tolerance interval
  shrunk by w), conditional pass (inside the tolerance interval, within w of a limit),
  conditional fail (outside, within w of a limit), fail (beyond a limit by more than w).

Also the probability of conformance for a normal (or scaled t) PDF of the measurand given the
measurement (JCGM 106 7.2, 7.3) and the test uncertainty ratio (TUR).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from labctl.errors import UncertaintyInputError
from labctl.uncertainty._model import reject_unknown

__all__ = ["Decision", "DecisionRule", "Outcome", "decide", "probability_of_conformance",
           "test_uncertainty_ratio"]

Array = NDArray[np.float64]


class DecisionRule(StrEnum):
    """Decision rules of ILAC-G8:09/2019 clause 4; :attr:`statement` is how a certificate
    states the rule applied (the one wording of each rule)."""

    SIMPLE = "simple"
    GUARDED_ACCEPTANCE = "guarded_acceptance"
    GUARDED_REJECTION = "guarded_rejection"
    NON_BINARY = "non_binary"

    @property
    def statement(self) -> str:
        """The rule in a certificate's words (ISO/IEC 17025 7.8.6.2: the decision rule
        applied is stated with the statement of conformity)."""
        return _STATEMENTS[self]


_STATEMENTS: dict[DecisionRule, str] = {
    DecisionRule.SIMPLE: (
        "Simple acceptance (ILAC-G8:09/2019 4.2.1, guard band w = 0): the item conforms when "
        "the measured error lies within the tolerance limits."
    ),
    DecisionRule.GUARDED_ACCEPTANCE: (
        "Guarded acceptance (ILAC-G8:09/2019 4.2.2, guard band w = U): the item conforms when "
        "the error lies within the tolerance limits reduced by U."
    ),
    DecisionRule.GUARDED_REJECTION: (
        "Guarded rejection (ILAC-G8:09/2019 4.2.3, guard band w = U): the item is rejected only "
        "when the error lies beyond the tolerance limits by more than U."
    ),
    DecisionRule.NON_BINARY: (
        "Non-binary statement (ILAC-G8:09/2019 4.2.3, guard band w = U): pass, conditional "
        "pass, conditional fail or fail according to the error and U relative to the limits."
    ),
}


class Outcome(StrEnum):
    """Statements of conformity (ILAC-G8:2019 4.2.3 terms)."""

    PASS = "pass"
    CONDITIONAL_PASS = "conditional pass"
    CONDITIONAL_FAIL = "conditional fail"
    FAIL = "fail"


@dataclass(frozen=True)
class Decision:
    """The statement(s) of conformity for one or N results.

    ``outcome`` is an :class:`Outcome` (or an object array of them), ``conforms`` True for
    pass and conditional pass, ``acceptance_interval`` (A_L, A_U) (±inf where no limit),
    ``guard_band`` w (unit of the value), ``probability_of_conformance`` p_c for a normal PDF
    with u = U/k (a scaled t with ``dof`` when given), ``tur`` the test uncertainty ratio
    (NaN for one-sided tolerances), ``rule`` the decision rule applied.
    """

    outcome: Outcome | NDArray[np.object_]
    conforms: bool | NDArray[np.bool_]
    acceptance_interval: tuple[float | Array, float | Array]
    guard_band: float | Array
    probability_of_conformance: float | Array
    tur: float | Array
    rule: DecisionRule


def _arr(name: str, v: ArrayLike | None, *, nonneg: bool = False, positive: bool = False,
         allow_inf: bool = False) -> Array:
    try:
        a = np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        raise UncertaintyInputError(name, v, "a number or an array of numbers") from None
    bad = np.isnan(a) if allow_inf else ~np.isfinite(a)
    if positive:
        bad |= a <= 0
    elif nonneg:
        bad |= a < 0
    if bad.any():
        what = "finite and > 0" if positive else "finite and >= 0" if nonneg else "finite"
        idx = tuple(int(i) for i in np.argwhere(bad)[0]) if a.ndim else ()
        label = f"{name}[{', '.join(map(str, idx))}]" if idx else name
        raise UncertaintyInputError(label, float(a[idx]), what)
    return a


def _limits(lower: ArrayLike | None, upper: ArrayLike | None) -> tuple[Array, Array]:
    if lower is None and upper is None:
        raise UncertaintyInputError("lower/upper", None, "at least one tolerance limit")
    lo = np.asarray(-np.inf) if lower is None else _arr("lower", lower)
    hi = np.asarray(np.inf) if upper is None else _arr("upper", upper)
    if lower is not None and upper is not None and np.any(lo >= hi):
        raise UncertaintyInputError("upper", upper, f"> lower ({lower})")
    return lo, hi


def probability_of_conformance(value: ArrayLike, u: ArrayLike, lower: ArrayLike | None = None,
                               upper: ArrayLike | None = None, dof: ArrayLike = math.inf
                               ) -> float | Array:
    """p_c = Pr(T_L <= Y <= T_U | y) for a normal PDF N(y, u²) of the measurand (JCGM 106
    7.2.1, eq. 7.3–7.5); one-sided with a single limit. With finite ``dof`` the PDF is the
    scaled and shifted t-distribution (JCGM 106 7.3). ``u`` > 0 (standard uncertainty)."""
    y = _arr("value", value)
    uu = _arr("u", u, positive=True)
    nu = _arr("dof", dof, positive=True, allow_inf=True)
    lo, hi = _limits(lower, upper)

    def cdf(z: Array) -> Array:
        return np.asarray(np.where(np.isinf(nu), special.ndtr(z),
                                   special.stdtr(np.where(np.isinf(nu), 1.0, nu), z)))

    pc = cdf((hi - y) / uu) - cdf((lo - y) / uu)
    return float(pc) if pc.ndim == 0 else pc


def test_uncertainty_ratio(U: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> float | Array:
    """TUR = (T_U − T_L) / (2·U): the tolerance interval width over the width of the
    measurement's expanded-uncertainty interval (ANSI/NCSL Z540.3 usage, U normally at
    95 %). A TUR of 4 means a tolerance of ±4U."""
    UU = _arr("U", U, positive=True)
    lo, hi = _limits(lower, upper)
    t = (hi - lo) / (2.0 * UU)
    return float(t) if t.ndim == 0 else t


test_uncertainty_ratio.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def decide(value: ArrayLike, U: ArrayLike, lower: ArrayLike | None = None,
           upper: ArrayLike | None = None, rule: DecisionRule | str = DecisionRule.SIMPLE,
           *, guard_factor: float = 1.0, k: float = 2.0, dof: ArrayLike = math.inf,
           **unknown: object) -> Decision:
    """Statement of conformity of ``value`` ± ``U`` (expanded, same unit) to the tolerance
    limits ``lower``/``upper`` (one or both) under ``rule`` (a :class:`DecisionRule` or its
    name). The guard band is w = ``guard_factor``·U (ILAC-G8 uses w = U, i.e. 1;
    ``simple`` always uses w = 0). ``k`` (and ``dof``) convert U to the standard uncertainty
    for the probability of conformance. Scalars or arrays that broadcast.
    """
    reject_unknown("decide", unknown)
    try:
        rr = DecisionRule(rule)
    except ValueError:
        raise UncertaintyInputError("rule", rule,
                                    f"one of {[r.value for r in DecisionRule]}") from None
    y = _arr("value", value)
    UU = _arr("U", U, nonneg=True)
    r = _arr("guard_factor", guard_factor, nonneg=True)
    kk = _arr("k", k, positive=True)
    lo, hi = _limits(lower, upper)
    try:
        shape = np.broadcast_shapes(y.shape, UU.shape, lo.shape, hi.shape)
    except ValueError:
        raise UncertaintyInputError("value", f"shape {y.shape}", "a shape that broadcasts "
                                    f"with U {UU.shape} and the limits") from None
    w = np.zeros(shape) if rr is DecisionRule.SIMPLE else np.broadcast_to(r * UU, shape)
    inside = (y >= lo) & (y <= hi)
    if rr is DecisionRule.NON_BINARY:
        strict = (y >= lo + w) & (y <= hi - w)
        near_out = (y >= lo - w) & (y <= hi + w)
        codes = np.where(strict, 0, np.where(inside, 1, np.where(near_out, 2, 3)))
        a_lo, a_hi = lo + w, hi - w
    else:
        if rr is DecisionRule.GUARDED_REJECTION:
            a_lo, a_hi = lo - w, hi + w
        else:
            a_lo, a_hi = lo + w, hi - w
        ok = (y >= a_lo) & (y <= a_hi)
        codes = np.where(ok, 0, 3)
    codes = np.broadcast_to(codes, shape)
    table = np.array(list(Outcome), dtype=object)
    out = np.asarray(table[codes], dtype=object)  # 0-d stays an array for scalar input
    conforms = codes <= 1
    uu = UU / kk
    with np.errstate(divide="ignore", invalid="ignore"):
        if np.all(uu > 0):
            pc: float | Array = probability_of_conformance(y, uu, lower, upper, dof)
        else:
            # U = 0: the measurand equals the value, p_c is 0 or 1.
            pc_arr = np.where(uu > 0, np.asarray(probability_of_conformance(
                y, np.where(uu > 0, uu, 1.0), lower, upper, dof)), inside.astype(float))
            pc = float(pc_arr) if pc_arr.ndim == 0 else pc_arr
        tur_a = (hi - lo) / (2.0 * UU) if lower is not None and upper is not None else \
            np.full(shape, np.nan)

    def o(a: Array) -> float | Array:
        b = np.broadcast_to(a, shape)
        return float(b) if b.ndim == 0 else np.array(b)

    return Decision(
        outcome=Outcome(str(out[()])) if out.ndim == 0 else out,
        conforms=bool(conforms) if conforms.ndim == 0 else np.array(conforms),
        acceptance_interval=(o(a_lo), o(a_hi)), guard_band=o(w),
        probability_of_conformance=pc if isinstance(pc, float) else np.broadcast_to(
            pc, shape).copy(),
        tur=o(np.asarray(tur_a, dtype=float)), rule=rr,
    )
