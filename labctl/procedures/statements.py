"""A procedure's decision rule checked against the engine's, budgets as results carry them,
and the summary a check run states."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from labctl.errors import ValidationError
from labctl.procedures.results import BudgetLine, PointResult
from labctl.quantities import ProcedureKind
from labctl.uncertainty import DecisionRule


def check_rule(rule: str) -> str:
    """``rule`` as one of the engine's ILAC-G8 decision rules (their wording is the engine's
    :attr:`DecisionRule.statement`)."""
    try:
        return DecisionRule(rule).value
    except ValueError:
        raise ValidationError("decision_rule", rule,
                              "one of " + ", ".join(r.value for r in DecisionRule)) from None


def budget_lines(gum_result: Any, units: Mapping[str, str] | None = None
                 ) -> tuple[BudgetLine, ...]:
    """The engine's budget of a single-point result as frozen result rows; ``units``: the
    unit of each input quantity by name (the engine's budget has none), "1" for a
    dimensionless one."""
    units = units or {}
    return tuple(
        BudgetLine(name=row.name, estimate=float(row.estimate), u=float(row.u),
                   distribution=str(row.distribution), sensitivity=float(row.sensitivity),
                   contribution=float(row.contribution), share=float(row.share),
                   dof=float(row.dof), unit=units.get(row.name, ""))
        for row in gum_result.budget.rows()
    )


def check_summary(points: Sequence[PointResult], *, checked_role: str,
                  check_standard_role: str) -> dict[str, Any]:
    """The run-level record of a check: its kind, the roles, and value/u/dof per point."""
    return {
        "kind": str(ProcedureKind.CHECK),
        "checked_role": checked_role,
        "check_standard_role": check_standard_role,
        "values": [{"key": q.key, "nominal": q.nominal, "value": q.error, "u": q.extra["u"],
                    "U": q.U, "k": q.k, "dof": q.dof, "unit": q.unit} for q in points],
    }
