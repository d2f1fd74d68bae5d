"""Comparisons: key, supplementary and interlaboratory comparisons and proficiency tests.

- ``records``: create, enter results, open / close, publish; reading and listing
- ``evaluation``: the evaluation by the uncertainty engine (``evaluate_entries``, pure), and
  the failed participations; ``evaluate(session, identifier)`` evaluates a stored one
"""

from labctl.platform.comparisons import evaluation, records
from labctl.platform.comparisons.evaluation import (
    Design,
    Entry,
    Evaluation,
    FailedParticipation,
    ParticipantScore,
    failed_participations,
)
from labctl.platform.comparisons.evaluation import evaluate as evaluate_entries
from labctl.platform.comparisons.records import (
    comparison_by_identifier,
    comparison_public,
    create_comparison,
    enter_result,
    evaluate,
    evaluate_stored,
    list_comparisons,
    publish_comparison,
    sees_everything,
    set_status,
    standard_participations,
)

__all__ = ["Design", "Entry", "Evaluation", "FailedParticipation", "ParticipantScore",
           "comparison_by_identifier", "comparison_public", "create_comparison",
           "enter_result", "evaluate", "evaluate_entries", "evaluate_stored", "evaluation",
           "failed_participations", "list_comparisons", "publish_comparison", "records",
           "sees_everything", "set_status", "standard_participations"]
