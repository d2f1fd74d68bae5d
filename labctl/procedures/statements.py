"""A procedure's decision rule checked against the engine's, and budgets as results carry
them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from labctl.errors import ValidationError
from labctl.procedures.results import BudgetLine
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
