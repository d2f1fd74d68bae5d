"""Points as a certificate reports them: value, error and U rounded per EA-4/02 to the decimal
place of U, and conformity decided on those rounded values under the certificate's decision
rule (JCGM 106, ILAC-G8) with the engine's :func:`~labctl.uncertainty.decide_reported`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext

import numpy as np

from labctl.platform.models.base import (
    DecisionRule,
)
from labctl.platform.models.certificates import (
    ResultPoint,
)
from labctl.uncertainty import decide_reported, round_to_place, round_uncertainty


@dataclass(frozen=True)
class Reported:
    """A point as reported: value, error and U rounded to the decimal place of U."""

    point: ResultPoint
    reference: Decimal
    measured: Decimal
    error: Decimal
    U: Decimal
    conformity: str | None


def report_point(p: ResultPoint, rule: str | None, *, error_shift: Decimal = Decimal(0)
                 ) -> Reported:
    """One point of :func:`report_points`."""
    return report_points([p], rule, [error_shift])[0]


def report_points(points: Sequence[ResultPoint], rule: str | None,
                  error_shifts: Sequence[Decimal] | None = None) -> list[Reported]:
    """Round per EA-4/02 and state conformity under ``rule``: every point with limits in one
    call of the engine's :func:`~labctl.uncertainty.decide_reported`, the function the
    procedure decided its run with, on the same numbers, so a certificate states what its
    run did. ``error_shifts`` (one per point) are subtracted from the errors first (added to
    the reference values): used to re-decide with corrected reference values."""
    shifts = error_shifts if error_shifts is not None else [Decimal(0)] * len(points)
    references = [p.reference_value + s for p, s in zip(points, shifts, strict=True)]
    decided: dict[int, tuple[Decimal, str]] = {}
    limited = [i for i, p in enumerate(points)
               if p.lower_limit is not None and p.upper_limit is not None]
    if rule and limited:
        r = decide_reported([points[i].measured_value for i in limited],
                            [points[i].expanded_uncertainty for i in limited],
                            [points[i].lower_limit for i in limited],
                            [points[i].upper_limit for i in limited], rule,
                            reference=[references[i] for i in limited],
                            k=[float(points[i].coverage_factor) for i in limited])
        outcomes = np.atleast_1d(r.decision.outcome)
        decided = {i: (Decimal(v), str(o)) for i, v, o in
                   zip(limited, np.atleast_1d(np.asarray(r.value)), outcomes, strict=True)}
    reported = []
    for i, (p, reference) in enumerate(zip(points, references, strict=True)):
        U, exp, _ = round_uncertainty(float(p.expanded_uncertainty))
        with localcontext(prec=64):  # exact, as the engine takes the error
            error = round_to_place(p.measured_value - reference, exp)
        error, outcome = decided.get(i, (error, None))
        reported.append(Reported(p, round_to_place(reference, exp),
                                 round_to_place(p.measured_value, exp), error, U, outcome))
    return reported


def decision_rule_text(rule: str) -> str:
    return DecisionRule(rule).statement if rule else ""
