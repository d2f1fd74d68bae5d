"""Reporting a result: rounding per EA-4/02 M:2022 clause 5 / ILAC-P14 and GUM 7.2.6.

The expanded uncertainty ``U`` is stated to at most two significant digits; it is rounded to
the nearest unless that lowers it by more than 5 %, in which case it is rounded up. The
measured value is then rounded to the same decimal place as ``U``.

The work is done in :mod:`decimal` on the shortest decimal representation of each float
(``repr``), so a float such as ``0.1 + 0.2`` is read as ``0.30000000000000004`` and rounded
exactly, and the printed strings never show binary-float artefacts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from labctl.errors import UncertaintyInputError, UnknownKeywordError

__all__ = ["RoundedResult", "exact_decimal", "round_result", "round_to_place",
           "round_uncertainty"]

#: EA-4/02: "lowers U by more than 5 %" triggers rounding up.
_MAX_ROUND_DOWN = Decimal("0.05")


@dataclass(frozen=True)
class RoundedResult:
    """A measurement result rounded for a certificate (EA-4/02 / ILAC-P14).

    For scalar input ``value`` and ``U`` are floats, ``value_str``/``U_str`` plain decimal
    strings (no exponent, same decimal place) and ``decimal_value``/``decimal_U`` the exact
    :class:`decimal.Decimal` numbers. For array input ``value``/``U`` are float arrays,
    ``value_str``/``U_str`` string arrays of the same shape, and the ``decimal_*`` fields are
    object arrays of :class:`~decimal.Decimal`.

    ``exponent`` is the decimal place both are rounded to (``-2`` means hundredths), per
    point for arrays. ``rounded_up`` tells where the 5 % rule forced rounding up.
    """

    value: float | NDArray[np.float64]
    U: float | NDArray[np.float64]
    value_str: str | NDArray[np.str_]
    U_str: str | NDArray[np.str_]
    decimal_value: Decimal | NDArray[np.object_]
    decimal_U: Decimal | NDArray[np.object_]  # noqa: N815 (GUM symbol U, as the API names it)
    exponent: int | NDArray[np.int64]
    rounded_up: bool | NDArray[np.bool_]
    significant_digits: int

    def __str__(self) -> str:
        if isinstance(self.value_str, str):
            return f"{self.value_str} ± {self.U_str}"
        return "\n".join(f"{v} ± {u}" for v, u in zip(np.ravel(self.value_str),
                                                      np.ravel(self.U_str), strict=True))


def exact_decimal(x: float) -> Decimal:
    """A float as the shortest decimal that round-trips (``repr``): the number a bench or a
    user wrote, without the binary float's artefacts."""
    return Decimal(repr(float(x)))


def _plain(d: Decimal) -> str:
    if d.is_zero():
        d = abs(d)  # "-0.00" would read as a negative result
    return format(d, "f")


def round_uncertainty(U: float, significant_digits: int = 2) -> tuple[Decimal, int, bool]:
    """Round one expanded uncertainty per EA-4/02.

    Returns ``(U_rounded, exponent, rounded_up)`` where ``exponent`` is the decimal place of
    the last kept digit. ``U`` must be positive and finite.
    """
    _check_digits(significant_digits)
    if not (math.isfinite(U) and U > 0):
        raise UncertaintyInputError("U", U, "a positive finite expanded uncertainty")
    d = exact_decimal(U)
    exp = d.adjusted() - (significant_digits - 1)
    nearest = d.quantize(Decimal(1).scaleb(exp), rounding=ROUND_HALF_UP)
    rounded_up = False
    if (d - nearest) / d > _MAX_ROUND_DOWN:
        nearest = d.quantize(Decimal(1).scaleb(exp), rounding=ROUND_CEILING)
        rounded_up = True
    if nearest.adjusted() > d.adjusted():
        # 9.96 -> 10.0 gained a digit: keep the stated number of significant digits ("10").
        exp += 1
        nearest = nearest.quantize(Decimal(1).scaleb(exp))
    return nearest, exp, rounded_up


def _check_digits(significant_digits: int) -> None:
    if (
        isinstance(significant_digits, bool)
        or not isinstance(significant_digits, int | np.integer)
        or not 1 <= significant_digits <= 15
    ):
        raise UncertaintyInputError(
            "significant_digits", significant_digits,
            "an integer 1 or 2 (EA-4/02); up to 15 is accepted for intermediate results",
        )


def _round_one(value: float, U: float, significant_digits: int) -> tuple[Decimal, Decimal, int,
                                                                         bool]:
    if not math.isfinite(value):
        raise UncertaintyInputError("value", value, "a finite measured value")
    U_dec, exp, up = round_uncertainty(U, significant_digits)
    return round_to_place(exact_decimal(value), exp), U_dec, exp, up


def round_to_place(value: Decimal, exponent: int) -> Decimal:
    """``value`` rounded to the decimal place ``exponent`` (``-2``: hundredths), as a
    reported value is rounded to the place of its U: ISO 80000-1 Annex B rule B, ties to
    even, so the reported values carry no bias."""
    return value.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_EVEN)


def round_result(value: ArrayLike, U: ArrayLike, significant_digits: int = 2,
                 **unknown: object) -> RoundedResult:
    """Round a measured value and its expanded uncertainty for reporting.

    ``U`` (same unit as ``value``, > 0, finite) is rounded to ``significant_digits``
    significant digits (EA-4/02 allows at most 2; default 2): to the nearest (ties up,
    which never understates U) unless that lowers ``U`` by more than 5 %, then up. ``value``
    is rounded to the same decimal place, ties to even (ISO 80000-1 Annex B). Scalars or
    arrays that broadcast together; arrays are rounded point by point.

    >>> r = round_result(50000838.4, 93.4)
    >>> r.value_str, r.U_str
    ('50000838', '93')
    >>> round_result(10.0231, 0.01449, significant_digits=1).U_str  # 0.01 would be -31 %
    '0.02'
    """
    if unknown:
        name, given = next(iter(unknown.items()))
        raise UnknownKeywordError(name, given, "value, U or significant_digits")
    _check_digits(significant_digits)
    v_arr = np.asarray(value, dtype=float)
    u_arr = np.asarray(U, dtype=float)
    try:
        v_b, u_b = np.broadcast_arrays(v_arr, u_arr)
    except ValueError:
        raise UncertaintyInputError(
            "U", f"shape {u_arr.shape}", f"a shape that broadcasts with value's {v_arr.shape}"
        ) from None
    if v_b.ndim == 0:
        vd, ud, exp, up = _round_one(float(v_b), float(u_b), significant_digits)
        return RoundedResult(
            value=float(vd), U=float(ud), value_str=_plain(vd), U_str=_plain(ud),
            decimal_value=vd, decimal_U=ud, exponent=exp, rounded_up=up,
            significant_digits=significant_digits,
        )
    shape = v_b.shape
    vds = np.empty(shape, dtype=object)
    uds = np.empty(shape, dtype=object)
    exps = np.empty(shape, dtype=np.int64)
    ups = np.empty(shape, dtype=bool)
    for idx in np.ndindex(shape):
        try:
            vds[idx], uds[idx], exps[idx], ups[idx] = _round_one(
                float(v_b[idx]), float(u_b[idx]), significant_digits
            )
        except UncertaintyInputError as exc:
            raise UncertaintyInputError(
                f"{exc.field}[{', '.join(map(str, idx))}]", exc.value, exc.allowed
            ) from None
    to_float = np.vectorize(float, otypes=[float])
    to_str = np.vectorize(_plain, otypes=[str])
    return RoundedResult(
        value=to_float(vds), U=to_float(uds), value_str=to_str(vds), U_str=to_str(uds),
        decimal_value=vds, decimal_U=uds, exponent=exps, rounded_up=ups,
        significant_digits=significant_digits,
    )
