"""The corrections a certificate's errors imply: per (quantity, range) an error line
``deviation = gain·x + offset`` fitted through the certificate's points, weighted by their
standard uncertainties, as a laboratory derives its correction model from a certificate. The
bench applies them to a standard's readings; reverse impact carries a standard's error through
the certificates calibrated with it."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from labctl.platform.models.certificates import (
    ResultPoint,
)
from labctl.procedures.interfaces import Correction
from labctl.quantities import CorrectionParameter


@dataclass(frozen=True)
class ErrorLine:
    """``deviation = gain·x + offset`` on one (quantity, range, unit) of a certificate, fitted
    over ``lowest`` … ``highest`` of ``x`` (the setting of a source, the reference value a
    meter was given)."""

    quantity: str
    range_label: str
    unit: str
    gain: float
    offset: float
    u_gain: float
    u_offset: float
    lowest: float
    highest: float


def fit_error_lines(points: Sequence[ResultPoint],
                    deviation: Callable[[ResultPoint], float] | None = None
                    ) -> list[ErrorLine]:
    """Per (quantity, range) a weighted least-squares line through a certificate's errors.

    A source is recognised by its indication being its setting (measured = nominal on every
    point): its actual output deviates from the setting by ``reference − nominal``. A meter's
    error is ``measured − reference``. ``deviation`` replaces that error (the line through
    something else known at the points, on the same axis and weights). One point on a range
    gives an offset only.
    """
    groups: dict[tuple[str, str, str], list[ResultPoint]] = defaultdict(list)
    for p in points:
        groups[(p.quantity, p.range_label or "all", p.unit)].append(p)
    out: list[ErrorLine] = []
    for (quantity, label, unit), pts in groups.items():
        source = all(p.measured_value == p.nominal for p in pts)
        x = np.array([float(p.nominal if source else p.reference_value) for p in pts])
        if deviation is not None:
            dev = np.array([deviation(p) for p in pts])
        else:
            dev = np.array([float(p.reference_value - p.nominal) if source
                            else float(p.measured_value - p.reference_value) for p in pts])
        u = np.array([float(p.expanded_uncertainty / p.coverage_factor) for p in pts])
        if len(pts) >= 2 and np.ptp(x) > 0:
            A = np.column_stack([x, np.ones_like(x)]) / u[:, None]
            cov = np.linalg.inv(A.T @ A)
            gain, offset = cov @ A.T @ (dev / u)
            u_gain, u_offset = math.sqrt(cov[0, 0]), math.sqrt(cov[1, 1])
        else:
            w = 1 / u**2
            gain, u_gain = 0.0, 0.0
            offset, u_offset = float((w * dev).sum() / w.sum()), float(1 / math.sqrt(w.sum()))
        out.append(ErrorLine(quantity, label, unit, float(gain), float(offset), u_gain,
                             u_offset, float(x.min()), float(x.max())))
    return out


def fit_errors(points: Sequence[ResultPoint], certificate_number: str) -> list[Correction]:
    """Per (quantity, range) gain and offset errors from a certificate's points, as the
    runner's corrections (see :func:`fit_error_lines`)."""
    out: list[Correction] = []
    for ln in fit_error_lines(points):
        out += [Correction(ln.quantity, ln.range_label, CorrectionParameter.GAIN, ln.gain,
                           ln.u_gain, "1", certificate_number=certificate_number),
                Correction(ln.quantity, ln.range_label, CorrectionParameter.OFFSET, ln.offset,
                           ln.u_offset, ln.unit, certificate_number=certificate_number)]
    return out
