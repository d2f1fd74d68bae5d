"""Decision rules as a procedure states them, and budgets as results carry them."""

from __future__ import annotations

from typing import Any

from labctl.errors import ValidationError
from labctl.procedures.results import BudgetLine

#: ILAC-G8:09/2019 decision rules (the engine's names) and how a certificate words them.
DECISION_RULES: dict[str, str] = {
    "simple": "Simple acceptance (ILAC-G8:09/2019 4.2.1, guard band w = 0): a point passes "
              "when its error lies within the tolerance limits; the risk of a false accept "
              "may reach 50 % for errors at a limit.",
    "guarded_acceptance": "Guarded acceptance (ILAC-G8:09/2019 4.2.2, guard band w = U): a "
                          "point passes when its error lies within the tolerance reduced by U "
                          "at each side; the risk of a false accept is below 2.5 %.",
    "non_binary": "Non-binary statements (ILAC-G8:09/2019 4.2.3, guard band w = U): pass, "
                  "conditional pass, conditional fail or fail according to where the error "
                  "and its expanded uncertainty lie relative to the tolerance limits.",
}


def check_rule(rule: str) -> str:
    if rule not in DECISION_RULES:
        raise ValidationError("decision_rule", rule, "one of " + ", ".join(DECISION_RULES))
    return rule


def budget_lines(gum_result: Any) -> tuple[BudgetLine, ...]:
    """The engine's budget of a single-point result as frozen result rows."""
    return tuple(
        BudgetLine(name=row.name, estimate=float(row.estimate), u=float(row.u),
                   distribution=str(row.distribution), sensitivity=float(row.sensitivity),
                   contribution=float(row.contribution), share=float(row.share),
                   dof=float(row.dof))
        for row in gum_result.budget.rows()
    )
