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

import dataclasses
import decimal
import math
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from labctl.errors import UncertaintyInputError
from labctl.uncertainty._model import reject_unknown
from labctl.uncertainty.reporting import exact_decimal, round_to_place, round_uncertainty

__all__ = ["Decision", "DecisionRule", "Outcome", "ReportedDecision", "decide",
           "decide_reported", "probability_of_conformance", "stated_limit",
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


def _spread(a: Any, shape: tuple[int, ...]) -> Any:
    """``a`` broadcast to ``shape`` (itself when it has that shape already: the scalar case
    of one point at a time, which a procedure decides per point)."""
    if np.shape(a) == shape:
        return np.asarray(a) if not isinstance(a, np.ndarray | np.generic) else a
    return np.broadcast_to(a, shape)


def _arr(name: str, v: ArrayLike | None, *, nonneg: bool = False, positive: bool = False,
         allow_inf: bool = False) -> Array:
    if isinstance(v, float):  # the common scalar, checked without building arrays
        ok = (v == v) if allow_inf else math.isfinite(v)
        if ok and not (positive and v <= 0) and not (nonneg and v < 0):
            return np.asarray(v)
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


_OUTCOMES = np.array(list(Outcome), dtype=object)


def _rule(rule: DecisionRule | str) -> DecisionRule:
    try:
        return DecisionRule(rule)
    except ValueError:
        raise UncertaintyInputError("rule", rule,
                                    f"one of {[r.value for r in DecisionRule]}") from None


def _bool(a: Any) -> NDArray[np.bool_]:
    return np.asarray(a).astype(bool)


def _outcome_codes(y: Any, w: Any, lo: Any, hi: Any, rr: DecisionRule
                   ) -> tuple[NDArray[np.int64], Any, Any]:
    """Outcome codes (0 pass, 1 conditional pass, 2 conditional fail, 3 fail; the order of
    :class:`Outcome`) and the acceptance interval of values ``y`` with guard bands ``w``
    against the limits: float arrays, or object arrays of :class:`~decimal.Decimal` for an
    exact decision on reported (rounded) values, where a tie with a limit is common."""
    inside = _bool(y >= lo) & _bool(y <= hi)
    if rr is DecisionRule.NON_BINARY:
        strict = _bool(y >= lo + w) & _bool(y <= hi - w)
        near_out = _bool(y >= lo - w) & _bool(y <= hi + w)
        codes = np.where(strict, 0, np.where(inside, 1, np.where(near_out, 2, 3)))
        return codes, lo + w, hi - w
    if rr is DecisionRule.GUARDED_REJECTION:
        a_lo, a_hi = lo - w, hi + w
    else:
        a_lo, a_hi = lo + w, hi - w
    return np.where(_bool(y >= a_lo) & _bool(y <= a_hi), 0, 3), a_lo, a_hi


def decide(value: ArrayLike, U: ArrayLike, lower: ArrayLike | None = None,
           upper: ArrayLike | None = None, rule: DecisionRule | str = DecisionRule.SIMPLE,
           *, guard_factor: float = 1.0, k: ArrayLike = 2.0, dof: ArrayLike = math.inf,
           **unknown: object) -> Decision:
    """Statement of conformity of ``value`` ± ``U`` (expanded, same unit) to the tolerance
    limits ``lower``/``upper`` (one or both) under ``rule`` (a :class:`DecisionRule` or its
    name). The guard band is w = ``guard_factor``·U (ILAC-G8 uses w = U, i.e. 1;
    ``simple`` always uses w = 0). ``k`` (and ``dof``) convert U to the standard uncertainty
    for the probability of conformance. Scalars or arrays that broadcast.
    """
    reject_unknown("decide", unknown)
    rr = _rule(rule)
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
    w = np.zeros(shape) if rr is DecisionRule.SIMPLE else _spread(r * UU, shape)
    inside = (y >= lo) & (y <= hi)
    codes, a_lo, a_hi = _outcome_codes(y, w, lo, hi, rr)
    codes = _spread(codes, shape)
    out = np.asarray(_OUTCOMES[codes], dtype=object)  # 0-d stays an array for scalar input
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
        b = _spread(a, shape)
        return float(b) if b.ndim == 0 else np.array(b)

    return Decision(
        outcome=Outcome(str(out[()])) if out.ndim == 0 else out,
        conforms=bool(conforms) if conforms.ndim == 0 else np.array(conforms),
        acceptance_interval=(o(a_lo), o(a_hi)), guard_band=o(w),
        probability_of_conformance=pc if isinstance(pc, float) else _spread(
            pc, shape).copy(),
        tur=o(np.asarray(tur_a, dtype=float)), rule=rr,
    )


#: Significant digits a tolerance limit is stated to: specifications are not stated finer.
LIMIT_DIGITS = 6


def stated_limit(limit: float | Decimal, digits: int = LIMIT_DIGITS) -> Decimal:
    """A tolerance limit as a specification states it: ``digits`` significant digits.
    ``0.0035 % × 0.1 V`` computed in binary is 3.5000000000000004e-06; stated, 0.0000035.
    Idempotent: a stated limit (as a float or a decimal) states as itself."""
    return Decimal(f"{Decimal(repr(limit)) if isinstance(limit, float) else limit:.{digits}g}"
                   ).normalize()


@dataclass(frozen=True)
class ReportedDecision:
    """A statement of conformity made on the values as a certificate reports them.

    ``value`` is the decided value (the error, when a reference was given) rounded per
    EA-4/02 to the decimal place of its U, ``U`` the expanded uncertainty so rounded (both
    exact :class:`~decimal.Decimal`, object arrays for array input; a U of 0 is left as it
    is and the value unrounded), ``lower``/``upper`` the limits decided against (``None``
    where absent), and ``decision`` the :class:`Decision` on these values: outcome and
    ``conforms`` compared exactly in decimal; acceptance interval, probability of
    conformance and TUR from their floats.
    """

    value: Decimal | NDArray[np.object_]
    U: Decimal | NDArray[np.object_]
    lower: Decimal | NDArray[np.object_] | None
    upper: Decimal | NDArray[np.object_] | None
    decision: Decision


def _floats(v: Any) -> NDArray[np.float64]:
    """``v`` (floats, decimals, or arrays of either) as a float array of its shape."""
    a = np.asarray(v, dtype=object)
    if a.ndim == 0:
        return np.float64(float(a[()]))  # type: ignore[return-value]  # a 0-d float
    return np.fromiter((float(x) for x in a.flat), dtype=float, count=a.size).reshape(a.shape)


def _exact(name: str, v: Any, shape: tuple[int, ...]) -> NDArray[np.object_]:
    """``v`` (floats, decimals, or arrays of either) as exact decimals: a float as the
    shortest decimal that round-trips (the number a bench wrote), a decimal as it is."""
    _arr(name, _floats(v))  # finite
    src = _spread(np.asarray(v, dtype=object), shape)
    out = np.empty(src.size, dtype=object)
    out[:] = [x if isinstance(x, Decimal) else exact_decimal(x) for x in src.flat]
    return out.reshape(shape)


def decide_reported(value: Any, U: Any, lower: Any = None, upper: Any = None,
                    rule: DecisionRule | str = DecisionRule.SIMPLE, *, reference: Any = None,
                    k: float | ArrayLike = 2.0, guard_factor: float = 1.0,
                    dof: ArrayLike = math.inf, significant_digits: int = 2,
                    **unknown: object) -> ReportedDecision:
    """The statement of conformity a certificate makes: ``value`` (minus ``reference``
    when given: the error, taken exactly in decimal) and ``U`` (expanded, same unit, >= 0)
    rounded per EA-4/02 (:func:`~labctl.uncertainty.round_result`: U to
    ``significant_digits``, the value to its decimal place), then decided under ``rule``
    against ``lower``/``upper`` (as given: pass limits as stated, :func:`stated_limit`)
    exactly in decimal, as a reader of the certificate would compare its printed numbers.

    The one place a run's conformity is decided: a procedure calls it on the unrounded
    floats of its point, the platform on the same numbers posted, so a run and its
    certificate state the same. Floats are read as their shortest decimal (``repr``),
    decimals as they are. Scalars or arrays that broadcast; ``k``, ``guard_factor`` and
    ``dof`` as for :func:`decide`.
    """
    reject_unknown("decide_reported", unknown)
    rr = _rule(rule)
    UU = _arr("U", _floats(U), nonneg=True)
    lo_f, hi_f = _limits(None if lower is None else _floats(lower),
                         None if upper is None else _floats(upper))
    parts = [np.shape(value), UU.shape, np.shape(lo_f), np.shape(hi_f)]
    if reference is not None:
        parts.append(np.shape(reference))
    try:
        shape = np.broadcast_shapes(*parts)
    except ValueError:
        raise UncertaintyInputError("value", f"shape {np.shape(value)}", "a shape that "
                                    "broadcasts with U, the reference and the limits") from None
    y = _exact("value", value, shape)
    if reference is not None:
        ref = _exact("reference", reference, shape)
        with decimal.localcontext(prec=64):  # 17-digit values 30 decades apart, exactly
            y = np.array([a - b for a, b in zip(y.ravel(), ref.ravel(), strict=True)],
                         dtype=object).reshape(shape)
    U_d = np.empty(shape, dtype=object)
    U_b = _spread(UU, shape)
    U_src = _spread(np.asarray(U, dtype=object), shape)
    for idx in np.ndindex(shape):
        if U_b[idx] > 0:
            # U is finite and > 0 here: only significant_digits can be refused
            U_d[idx], exp, _ = round_uncertainty(float(U_b[idx]), significant_digits)
            y[idx] = round_to_place(y[idx], exp)  # type: ignore[arg-type]  # an element
        else:  # nothing to round to: the value stands as measured
            x = U_src[idx]
            U_d[idx] = x if isinstance(x, Decimal) else Decimal(0)
    lo = (np.full(shape, Decimal("-Infinity"), dtype=object) if lower is None
          else _exact("lower", lower, shape))
    hi = (np.full(shape, Decimal("Infinity"), dtype=object) if upper is None
          else _exact("upper", upper, shape))
    if rr is DecisionRule.SIMPLE:
        w = np.full(shape, Decimal(0), dtype=object)
    else:
        g = exact_decimal(float(_arr("guard_factor", guard_factor, nonneg=True)))
        w = np.array([g * u for u in U_d.ravel()], dtype=object).reshape(shape)
    codes, _, _ = _outcome_codes(y, w, lo, hi, rr)
    codes = _spread(codes, shape)
    base = decide(_floats(y), _floats(U_d), None if lower is None else _floats(lo),
                  None if upper is None else _floats(hi), rr, guard_factor=guard_factor,
                  k=k, dof=dof)
    out = np.asarray(_OUTCOMES[codes], dtype=object)
    conforms = codes <= 1
    decision = dataclasses.replace(
        base, outcome=Outcome(str(out[()])) if out.ndim == 0 else out,
        conforms=bool(conforms) if conforms.ndim == 0 else np.array(conforms))

    def o(a: NDArray[np.object_]) -> Decimal | NDArray[np.object_]:
        return a[()] if a.ndim == 0 else a

    return ReportedDecision(value=o(y), U=o(U_d), lower=None if lower is None else o(lo),
                            upper=None if upper is None else o(hi), decision=decision)
