"""What tells a laboratory's people the state of its standards between calibrations
(ISO/IEC 17025 6.4.8, 6.4.13): printed status labels (:mod:`.labels`), and the daily due
notices (:mod:`.due`) mailed through SMTP from an outbox (:mod:`.mail`) and shown on the
portal."""

from labctl.platform.notices.due import (
    DueRun,
    daily_due_notices,
    notice_public,
    notices_for,
)
from labctl.platform.notices.labels import LabelFilters, laboratory_labels
from labctl.platform.notices.mail import SendReport, send_pending

__all__ = [
    "DueRun", "LabelFilters", "SendReport", "daily_due_notices", "laboratory_labels",
    "notice_public", "notices_for", "send_pending",
]
