"""Comparisons: key, supplementary and interlaboratory comparisons and proficiency tests.

- ``records``: create, enter results, open / close, publish; reading and listing
- ``evaluation``: the evaluation by the uncertainty engine, and the failed participations
"""

from labctl.platform.comparisons import evaluation, records
from labctl.platform.comparisons.evaluation import (
    Design,
    Entry,
    Evaluation,
    FailedParticipation,
    ParticipantScore,
    evaluate,
    failed_participations,
)
from labctl.platform.comparisons.records import (
    comparison_by_identifier,
    comparison_public,
    create_comparison,
    enter_result,
    evaluate_comparison,
    evaluate_stored,
    list_comparisons,
    publish_comparison,
    set_status,
    standard_participations,
)

__all__ = ["Design", "Entry", "Evaluation", "FailedParticipation", "ParticipantScore",
           "comparison_by_identifier", "comparison_public", "create_comparison",
           "enter_result", "evaluate", "evaluate_comparison", "evaluate_stored", "evaluation",
           "failed_participations", "list_comparisons", "publish_comparison", "records",
           "set_status", "standard_participations"]
