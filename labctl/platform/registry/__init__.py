"""The public registry: standards and calibration and measurement capabilities (CMCs), their
review before publication, their calibrations and corrections, and search.

- :mod:`~labctl.platform.registry.entries`: standards and CMCs, calibrations, corrections;
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
    list_calibrations,
    list_corrections,
    record_calibration,
    review_calibration,
    review_capability,
    review_standard,
    revise_capability,
    revise_standard,
    standard_by_identifier,
    standard_public,
    status_at,
    submit_capability,
    submit_standard,
    update_capability,
    update_standard,
    visible_capability,
    visible_standard,
)
from labctl.platform.registry.search import (
    MAX_PAGE,
    WALK_FROM,
    WALKABLE,
    SearchFilters,
    search_capabilities,
    search_standards,
)
from labctl.platform.registry.text import terms

__all__ = [
    "MAX_PAGE", "WALKABLE", "WALK_FROM", "CmcTable", "SearchFilters", "add_correction",
    "add_external_calibration", "best_cmc_uncertainty", "calibration_at", "calibration_public",
    "capability_by_id", "capability_public", "check_calibration_dates", "create_capability",
    "create_standard", "default_due_date", "list_calibrations", "list_corrections",
    "record_calibration", "review_calibration", "review_capability", "review_standard",
    "revise_capability", "revise_standard", "search_capabilities", "search_standards",
    "standard_by_identifier", "standard_public", "status_at", "submit_capability",
    "submit_standard", "terms", "update_capability", "update_standard", "visible_capability",
    "visible_standard",
]
