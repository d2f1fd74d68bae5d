"""The platform's background jobs, each run once per period across all API workers.

- ``due-notices`` (daily, UTC): the day's due notices (``notices.due.daily_due_notices``,
  looking ``Settings.due_notice_days`` ahead), then the pending mail through the SMTP server of
  ``LABCTL_SMTP_*`` when one is set (earlier days' failures included). The same work as
  ``labctl notices run``, which stays for a cron-driven set-up (a day's notices are
  deduplicated, so both running on one day write nothing twice).
- ``audit-checkpoint`` (daily, UTC): sign the audit chain's head with the platform's audit key
  (``audit.make_checkpoint``, which verifies the chain first) unless no event was written since
  the newest checkpoint. A broken chain fails the run: its error says where.

Reverse-impact reports need no job: ``traceability.impact`` computes them when asked, and the
flags of an out-of-tolerance finding are written in the transaction of the status change.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from labctl.platform import audit
from labctl.platform.jobs.scheduler import Job, JobContext
from labctl.platform.models.audit import AuditCheckpoint, AuditEvent
from labctl.platform.notices import daily_due_notices, send_pending
from labctl.platform.settings import SmtpConfig

DAY = timedelta(days=1)


def due_notices(ctx: JobContext) -> Mapping[str, Any]:
    """The day's due notices, then the outbox mailed (see the module)."""
    day = ctx.period_start.date()
    smtp = SmtpConfig.from_env()
    with Session(ctx.engine) as session:
        run = daily_due_notices(session, day, ctx.settings.due_notice_days)
        report = send_pending(session, smtp) if smtp is not None else None
    return {"day": day.isoformat(), "created": len(run.created), "existing": run.existing,
            "laboratories": run.laboratories,
            "mail": "LABCTL_SMTP_HOST not set" if report is None else {
                "sent": len(report.sent), "failed": len(report.failed)}}


def audit_checkpoint(ctx: JobContext) -> Mapping[str, Any]:
    """A signed checkpoint of the audit chain's head, if events were written since the last."""
    with Session(ctx.engine) as session:
        head = session.execute(sa.select(sa.func.max(AuditEvent.id))).scalar_one()
        covered = session.execute(sa.select(sa.func.max(AuditCheckpoint.head_id))).scalar_one()
        if head is None:
            return {"skipped": "no audit event yet"}
        if covered == head:
            return {"skipped": "the head is already checkpointed", "head_id": head}
        identity = audit.audit_identity(ctx.settings.keys_dir)
        row = audit.make_checkpoint(session, identity, created_by="system:scheduler")
        return {"checkpoint_id": row.id, "head_id": row.head_id, "events": row.events}


#: What the scheduler of every worker runs.
PLATFORM_JOBS: tuple[Job, ...] = (
    Job("due-notices", DAY, due_notices),
    Job("audit-checkpoint", DAY, audit_checkpoint),
)
