"""The corrections a certificate's errors imply — the one place they are fitted.

Per (quantity, range, unit) of a certificate an error line ``deviation = gain·x + offset``
is fitted through its points with the engine's :func:`labctl.uncertainty.curve_fit`,
weighted by the points' standard uncertainties U/k, as a laboratory derives its correction
model from a certificate. The gain–offset covariance of that fit is kept, so a correction at
``x`` carries its uncertainty with their correlation. Two readers use it:

- the bench: :func:`fit_errors` gives the runner a standard's
  :class:`~labctl.procedures.interfaces.Correction` s (gain and offset per range, with their
  correlation and degrees of freedom);
- reverse impact: :class:`ReferenceShift` is how far the reference values a standard gave
  were off, either the error found in it or that error carried through the certificate of a
  standard calibrated in between (:meth:`ReferenceShift.carried_through`, a fit of the same
  kind through the error at that certificate's points).

Degrees of freedom. With known uncertainties the weighted fit itself reports ν = ∞ (ISO/TS
28037: the points' uncertainties are taken as stated, not re-estimated from the scatter).
What is finite is the points' own ν, where a posted point carries one: each fitted parameter
is a linear combination b_j = Σ_i s_ji·y_i of the points' deviations, so its effective ν is
Welch–Satterthwaite over the contributions s_ji·u_i with the points' ν_i (GUM G.2b), and a
correction at ``x`` is the same over (x·s_gain,i + s_offset,i)·u_i. A point without ``dof``
counts as ν = ∞; with none given the corrections have ν = ∞, as before.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from numpy.typing import NDArray

from labctl.errors import ValidationError
from labctl.platform.models.certificates import ResultPoint
from labctl.procedures.interfaces import Correction
from labctl.quantities import CorrectionParameter
from labctl.uncertainty import CurveFit, curve_fit, welch_satterthwaite

__all__ = ["ErrorAt", "ErrorLine", "ReferenceShift", "fit_error_lines", "fit_errors",
           "line_at"]


@dataclass(frozen=True)
class ErrorAt:
    """The error line's value at one ``x``: ``value`` and its standard uncertainty ``u``
    (unit of the line), with effective degrees of freedom ``dof`` (inf: none stated)."""

    value: float
    u: float
    dof: float


@dataclass(frozen=True, eq=False)
class ErrorLine:
    """``deviation = gain·x + offset`` on one (quantity, range, unit) of a certificate, fitted
    over ``lowest`` … ``highest`` of ``x`` (the setting of a source, the reference value a
    meter was given), in the unit of the points.

    ``fit`` is the engine's weighted fit (degree 1, or 0 — an offset only, gain exactly 0 —
    where the range has one distinct ``x``). ``contributions[i, j]`` is what point ``i``'s
    standard uncertainty contributes to parameter ``j`` (0 offset, 1 gain), ∂b_j/∂y_i·u_i;
    ``point_dof`` the points' ν (inf where not stated).
    """

    quantity: str
    range_label: str
    unit: str
    fit: CurveFit = field(repr=False)
    lowest: float
    highest: float
    contributions: NDArray[np.float64] = field(repr=False)
    point_dof: NDArray[np.float64] = field(repr=False)

    @property
    def offset(self) -> float:
        """Error at x = 0, unit of the line."""
        return float(self.fit.params[0])

    @property
    def gain(self) -> float:
        """Error per unit of x (relative, unit 1); 0 for an offset-only line."""
        return float(self.fit.params[1]) if self.fit.degree else 0.0

    @property
    def u_offset(self) -> float:
        return float(self.fit.u[0])

    @property
    def u_gain(self) -> float:
        """0 for an offset-only line: its gain is not estimated, it is taken as exactly 0."""
        return float(self.fit.u[1]) if self.fit.degree else 0.0

    @property
    def cov_gain_offset(self) -> float:
        """Covariance of gain and offset (unit of the line), from the same fit."""
        return float(self.fit.cov[0, 1]) if self.fit.degree else 0.0

    @property
    def correlation(self) -> float:
        """Correlation coefficient of gain and offset, −1 … 1 (0 for an offset-only line)."""
        return float(self.fit.correlation[0, 1]) if self.fit.degree else 0.0

    @property
    def dof_offset(self) -> float:
        return _ws(self.contributions[:, 0], self.point_dof)

    @property
    def dof_gain(self) -> float:
        return _ws(self.contributions[:, 1], self.point_dof) if self.fit.degree else math.inf

    def covers(self, x: float) -> bool:
        """Whether ``x`` lies within the span the line was fitted over."""
        return self.lowest <= x <= self.highest

    def at(self, x: float) -> ErrorAt:
        """The error at ``x``: ``gain·x + offset`` with u² = x²u²(gain) + 2x·cov + u²(offset)
        (gain and offset correlated, from the one fit) and ν from the points' ν."""
        value, u = self.fit.predict(float(x))
        a = np.array([1.0, float(x)])  # the gain's column is 0 for an offset-only line
        return ErrorAt(float(value), float(u), _ws(self.contributions @ a, self.point_dof))


def _ws(contributions: NDArray[np.float64], dof: NDArray[np.float64]) -> float:
    return float(welch_satterthwaite(contributions, dof))


def _standard_uncertainty(p: ResultPoint) -> float:
    if not p.coverage_factor > 0:
        raise ValidationError(f"point {p.seq} coverage_factor", str(p.coverage_factor),
                              "> 0 to weight the error line by U/k")
    u = float(p.expanded_uncertainty / p.coverage_factor)
    if not (math.isfinite(u) and u > 0):
        raise ValidationError(f"point {p.seq} expanded_uncertainty",
                              str(p.expanded_uncertainty), "> 0 to weight the error line")
    return u


def _dof(p: ResultPoint) -> float:
    # ``dof`` on a posted point is optional (older points have none): none counts as ∞.
    nu = p.dof
    if nu is None:
        return math.inf
    value = float(nu)
    if not value > 0:
        raise ValidationError(f"point {p.seq} dof", str(nu), "degrees of freedom > 0")
    return value


def fit_error_lines(points: Sequence[ResultPoint],
                    deviation: Callable[[ResultPoint], float] | None = None
                    ) -> list[ErrorLine]:
    """Per (quantity, range, unit) a weighted least-squares line through a certificate's
    errors (:func:`labctl.uncertainty.curve_fit` with u = U/k of each point).

    A source is recognised by its indication being its setting (measured = nominal on every
    point): its actual output deviates from the setting by ``reference − nominal`` at
    x = nominal. A meter's error is ``measured − reference`` at x = reference. ``deviation``
    replaces that error (the line through something else known at the points, on the same
    axis and weights). A range with one point, or one distinct x, gives an offset only
    (degree 0: the weighted mean of its errors).
    """
    groups: dict[tuple[str, str, str], list[ResultPoint]] = defaultdict(list)
    for p in points:
        groups[(p.quantity, p.range_label or "all", p.unit)].append(p)
    out: list[ErrorLine] = []
    for (quantity, label, unit), pts in groups.items():
        source = all(p.measured_value == p.nominal for p in pts)
        x = np.array([float(p.nominal if source else p.reference_value) for p in pts])
        if deviation is not None:
            dev = np.array([float(deviation(p)) for p in pts])
        else:
            dev = np.array([float(p.reference_value - p.nominal) if source
                            else float(p.measured_value - p.reference_value) for p in pts])
        u = np.array([_standard_uncertainty(p) for p in pts])
        nu = np.array([_dof(p) for p in pts])
        degree = 1 if np.unique(x).size >= 2 else 0
        fit = curve_fit(x, dev, degree=degree, u_y=u)
        # b = cov·AᵀW·y for the weighted fit: row j of cov·AᵀW is ∂b_j/∂y_i
        A = np.vander(x, degree + 1, increasing=True)
        sens = fit.cov @ (A / u[:, None] ** 2).T
        contributions = np.zeros((x.size, 2))
        contributions[:, : degree + 1] = (sens * u).T
        out.append(ErrorLine(quantity, label, unit, fit, float(x.min()), float(x.max()),
                             contributions, nu))
    return out


def fit_errors(points: Sequence[ResultPoint], certificate_number: str) -> list[Correction]:
    """Per (quantity, range) gain and offset errors from a certificate's points, as the
    runner's corrections (see :func:`fit_error_lines`): each with its standard uncertainty,
    its effective ν and the gain–offset correlation of the fit."""
    out: list[Correction] = []
    for ln in fit_error_lines(points):
        r = ln.correlation
        out += [Correction(ln.quantity, ln.range_label, CorrectionParameter.GAIN, ln.gain,
                           ln.u_gain, "1", dof=ln.dof_gain, certificate_number=certificate_number,
                           correlation=r),
                Correction(ln.quantity, ln.range_label, CorrectionParameter.OFFSET, ln.offset,
                           ln.u_offset, ln.unit, dof=ln.dof_offset,
                           certificate_number=certificate_number, correlation=r)]
    return out


def line_at(lines: Sequence[ErrorLine], x: float) -> tuple[ErrorLine, bool]:
    """The line that applies at ``x`` and whether it is extrapolated there: the narrowest
    one whose span covers ``x``, else the one whose span ends nearest to it."""
    if not lines:
        raise ValidationError("lines", "none", "at least one error line")
    inside = [ln for ln in lines if ln.covers(x)]
    if inside:
        return min(inside, key=lambda ln: ln.highest - ln.lowest), False
    return min(lines, key=lambda ln: min(abs(x - ln.lowest), abs(x - ln.highest))), True


@dataclass(frozen=True)
class ReferenceShift:
    """δ(x): how far the reference value of a point at ``x`` really was from the one
    reported, in one quantity and unit (used by reverse impact).

    At the standard found out of tolerance δ is the error found, ``absolute + relative·|x|``,
    exactly. One calibration further down it is carried by the certificate of the standard
    calibrated in between: that standard's corrections (the error lines :func:`fit_errors`
    derives for a bench) were all off by δ at their points, so the reference values it later
    gave were off by the same kind of line fitted through those δ (:func:`fit_error_lines`
    with δ as the deviation): first order, exact where the corrections are linear.
    """

    quantity: str
    unit: str
    absolute: Decimal = Decimal(0)
    relative: Decimal = Decimal(0)
    lines: tuple[ErrorLine, ...] = ()  # carried: per range of the standard in between
    basis: str = ""  # where δ comes from, in words

    def at(self, x: float) -> tuple[float, bool]:
        """δ at ``x`` and whether it is extrapolated beyond a calibrated span."""
        if not self.lines:
            return float(self.absolute) + float(self.relative) * abs(x), False
        ln, extrapolated = line_at(self.lines, x)
        return ln.at(x).value, extrapolated

    def delta(self, reference_value: Decimal) -> tuple[Decimal, bool]:
        """δ at a point's reference value as a decimal: exact for the error found, six
        significant digits when carried through a fit; and whether it is extrapolated."""
        if not self.lines:
            return self.absolute + self.relative * abs(reference_value), False
        value, extrapolated = self.at(float(reference_value))
        return Decimal(f"{value:.6g}"), extrapolated

    def carried_through(self, points: Sequence[ResultPoint], basis: str
                        ) -> ReferenceShift | None:
        """The shift downstream of a standard calibrated on ``points`` (None: none of them
        is in this quantity and unit)."""
        mine = [p for p in points if p.quantity == self.quantity and p.unit == self.unit]
        if not mine:
            return None
        lines = fit_error_lines(mine, lambda p: self.at(float(p.reference_value))[0])
        return ReferenceShift(self.quantity, self.unit, lines=tuple(lines), basis=basis)
