"""Points as a certificate reports them: value, error and U rounded per EA-4/02 to the decimal
place of U, and conformity decided on those rounded values under the certificate's decision
rule (JCGM 106, ILAC-G8) with the engine's :func:`~labctl.uncertainty.decide`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from labctl.platform.models.base import (
    DecisionRule,
)
from labctl.platform.models.certificates import (
    ResultPoint,
)
from labctl.uncertainty import decide, round_result


@dataclass(frozen=True)
class Reported:
    """A point as reported: value, error and U rounded to the decimal place of U."""

    point: ResultPoint
    reference: Decimal
    measured: Decimal
    error: Decimal
    U: Decimal
    conformity: str | None


def _round_to(value: Decimal, U: Decimal) -> tuple[Decimal, Decimal]:
    # the engine takes floats and rounds from their shortest repr, so the digits survive
    r = round_result(float(value), float(U))
    return r.decimal_value, r.decimal_U  # type: ignore[return-value]


def report_point(p: ResultPoint, rule: str | None, *, error_shift: Decimal = Decimal(0)
                 ) -> Reported:
    """One point of :func:`report_points`."""
    return report_points([p], rule, [error_shift])[0]


def report_points(points: Sequence[ResultPoint], rule: str | None,
                  error_shifts: Sequence[Decimal] | None = None) -> list[Reported]:
    """Round per EA-4/02 and state conformity under ``rule``: every point with limits decided
    in one engine call per coverage factor. ``error_shifts`` (one per point) are subtracted
    from the errors first: used to re-decide with corrected reference values."""
    shifts = error_shifts if error_shifts is not None else [Decimal(0)] * len(points)
    rounded = [(p, *_round_to(p.measured_value - p.reference_value - shift,
                              p.expanded_uncertainty),
                _round_to(p.measured_value, p.expanded_uncertainty)[0],
                _round_to(p.reference_value + shift, p.expanded_uncertainty)[0])
               for p, shift in zip(points, shifts, strict=True)]
    outcome: dict[int, str] = {}
    if rule:
        by_k: dict[Decimal, list[int]] = {}
        for i, p in enumerate(points):
            if p.lower_limit is not None and p.upper_limit is not None:
                by_k.setdefault(p.coverage_factor, []).append(i)
        for k, idx in by_k.items():
            decision = decide([float(rounded[i][1]) for i in idx],
                              [float(rounded[i][2]) for i in idx],
                              [float(points[i].lower_limit) for i in idx],  # type: ignore[arg-type]
                              [float(points[i].upper_limit) for i in idx],  # type: ignore[arg-type]
                              rule, k=float(k))
            outcome.update(zip(idx, (str(o) for o in decision.outcome), strict=True))
    return [Reported(p, reference, measured, error, U, outcome.get(i))
            for i, (p, error, U, measured, reference) in enumerate(rounded)]


def decision_rule_text(rule: str) -> str:
    return DecisionRule(rule).statement if rule else ""
