"""The public registry: standards and calibration and measurement capabilities (CMCs), their
review before publication, their calibrations and corrections, and search.

- :mod:`~labctl.platform.registry.entries`: standards and CMCs, calibrations, corrections;
- :mod:`~labctl.platform.registry.review`: their one review workflow (submit, review, update,
  revise), parameterised by entry type (:data:`~labctl.platform.registry.review.STANDARD`,
  :data:`~labctl.platform.registry.review.CAPABILITY`);
- :mod:`~labctl.platform.registry.search`: filtered, sorted, paged search of both.
"""

from labctl.platform.registry.entries import (
    CmcTable,
    add_correction,
    add_external_calibration,
    best_cmc_uncertainty,
    calibration_at,
    calibration_public,
    capability_by_id,
    capability_public,
    check_calibration_dates,
    create_capability,
    create_standard,
    default_due_date,
    held_standards,
    list_calibrations,
    list_corrections,
    record_calibration,
    review_calibration,
    standard_by_identifier,
    standard_public,
    status_at,
    visible_capability,
    visible_standard,
)
from labctl.platform.registry.review import (
    CAPABILITY,
    STANDARD,
    ReviewedEntry,
    authors_of,
    awaiting_review,
    review_entry,
    revise_entry,
    submit_entry,
    update_entry,
)
from labctl.platform.registry.search import (
    MAX_PAGE,
    TOTAL_CAP,
    WALK_FROM,
    WALKABLE,
    SearchFilters,
    search_capabilities,
    search_standards,
)
from labctl.platform.registry.text import terms

__all__ = [
    "CAPABILITY", "MAX_PAGE", "STANDARD", "TOTAL_CAP", "WALKABLE", "WALK_FROM", "CmcTable",
    "ReviewedEntry", "SearchFilters", "add_correction", "add_external_calibration", "authors_of",
    "awaiting_review", "best_cmc_uncertainty",
    "calibration_at", "calibration_public", "capability_by_id", "capability_public",
    "check_calibration_dates", "create_capability", "create_standard", "default_due_date",
    "held_standards",
    "list_calibrations", "list_corrections", "record_calibration", "review_calibration",
    "review_entry", "revise_entry", "search_capabilities", "search_standards",
    "standard_by_identifier", "standard_public", "status_at", "submit_entry", "terms",
    "update_entry", "visible_capability", "visible_standard",
]
