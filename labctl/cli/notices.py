"""``labctl notices run``: the daily due-notice job (cron it once a day).

Writes one notice per laboratory and responsible person about the standards overdue or due
within N days, then mails the pending notices through the SMTP server of ``LABCTL_SMTP_*``
(none set: the notices stay on the portal). Run twice on one day, it writes nothing twice.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

import typer

from labctl.cli.console import console, flush
from labctl.cli.platform import DatabaseUrl, _fail
from labctl.errors import LabctlError, ValidationError

notices_app = typer.Typer(help="Due notices of standards (e-mail and portal).",
                          no_args_is_help=True)


def _day(text: str | None) -> date:
    if text is None:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError("--today", text, "a date YYYY-MM-DD") from None


@notices_app.command("run")
def notices_run(
    today: Annotated[str | None, typer.Option(
        "--today", help="The day to run for, YYYY-MM-DD (default: today, UTC).")] = None,
    within_days: Annotated[int, typer.Option(
        "--within-days", min=0, max=366,
        help="Standards due within this many days are listed (overdue ones always).")] = 30,
    send: Annotated[bool, typer.Option(
        "--send/--no-send", help="Mail the pending notices (LABCTL_SMTP_*).")] = True,
    database_url: DatabaseUrl = None,
) -> None:
    """Write the day's due notices and mail the pending ones."""
    from labctl.platform.admin import run_due_notices
    from labctl.platform.settings import SmtpConfig

    try:
        day = _day(today)
        smtp = SmtpConfig.from_env() if send else None
        run, report = run_due_notices(database_url, today=day, within_days=within_days,
                                      smtp=smtp, send=send)
    except LabctlError as exc:
        raise _fail(exc) from None
    out = console()
    out.print(f"{day.isoformat()}: {len(run.created)} notice(s) written for "
              f"{run.laboratories} laboratory(ies); {run.existing} already written today")
    if not send:
        out.print("not mailed (--no-send)")
    elif report is None:
        out.print("not mailed: LABCTL_SMTP_HOST is not set (the notices are on the portal)")
    else:
        out.print(f"mailed {len(report.sent)}; {len(report.failed)} failed (kept, tried "
                  "again on the next run)")
        err = console(stderr=True)
        for notice_id, error in sorted(report.failed.items()):
            err.print(f"notice {notice_id}: {error}", markup=False)
    flush()
    if report is not None and report.failed:
        raise typer.Exit(1)


def register_commands(app: typer.Typer) -> None:
    app.add_typer(notices_app, name="notices")
