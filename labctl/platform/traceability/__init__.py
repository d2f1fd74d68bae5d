"""Traceability and what breaks it.

- :mod:`~labctl.platform.traceability.chain`: item → standards → their certificates → … →
  national primary standards, each link judged at its time of use;
- :mod:`~labctl.platform.traceability.impact`: reverse traceability, the certificates a
  standard found out of tolerance affected, re-decided with the error found;
- :mod:`~labctl.platform.traceability.status`: a standard's status changes (quarantine,
  return to service, out of tolerance, retirement) and the flags they raise.
"""

from labctl.platform.traceability.chain import (
    Traceability,
    calibrating_certificate,
    certificate_for_chain,
    chain,
    statement,
)
from labctl.platform.traceability.impact import (
    ImpactReport,
    default_since,
    flag_out_of_tolerance,
    impact,
    out_of_tolerance,
)
from labctl.platform.traceability.status import change_status

__all__ = ["ImpactReport", "Traceability", "calibrating_certificate", "certificate_for_chain",
           "chain", "change_status", "default_since", "flag_out_of_tolerance", "impact",
           "out_of_tolerance", "statement"]
