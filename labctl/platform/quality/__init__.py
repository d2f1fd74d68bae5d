"""Quality control of standards between calibrations (ISO/IEC 17025 6.4.10, 6.4.9).

- :mod:`~labctl.platform.quality.checks`: filing intermediate checks (:func:`file_check`),
  their control charts, run rules, En test, tolerance and drift per point
  (:func:`standard_checks`), the status and events a signal leads to;
- :mod:`~labctl.platform.quality.events`: listing events (:func:`quality_events`) and the
  verified return to service (:func:`return_to_service`).
"""

from labctl.platform.quality.checks import (
    BASELINE_CHECKS,
    CheckPointIn,
    CheckRun,
    check_run_from_result,
    checked_drifts,
    file_check,
    file_check_run,
    standard_checks,
)
from labctl.platform.quality.events import (
    open_comparison_events,
    quality_events,
    return_to_service,
)
from labctl.platform.quality.reports import check_report, standard_charts

__all__ = ["BASELINE_CHECKS", "CheckPointIn", "CheckRun", "check_report",
           "check_run_from_result", "checked_drifts",
           "file_check", "file_check_run", "open_comparison_events", "quality_events",
           "return_to_service", "standard_charts",
           "standard_checks"]
