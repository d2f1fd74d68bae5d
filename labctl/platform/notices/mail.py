"""Mailing the outbox: every notice with an address and not yet sent, through one SMTP
connection (smtplib; STARTTLS or TLS and a login as configured, every step bounded by the
configuration's timeout).

A notice the server accepted is marked sent; one that failed (server down, refused
recipient, timeout) keeps its error and the count of tries and is tried again on the next
call. Each notice's outcome is committed with its audit event (``notice.send`` /
``notice.fail``) as soon as it is known, so a crash later in the batch never sends a message
twice because its "sent" was lost with the others.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from sqlmodel import Session, col, select

from labctl.platform import audit
from labctl.platform.db import utcnow
from labctl.platform.models.notices import Notice
from labctl.platform.settings import SmtpConfig

ACTOR = "system:mailer"
#: The largest batch one call sends (the rest waits for the next call).
BATCH = 500


@dataclass
class SendReport:
    """What one call did: the notices sent and those that failed (id → error)."""

    sent: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)


def message(notice: Notice, smtp: SmtpConfig) -> EmailMessage:
    """The notice as an e-mail (plain text, UTF-8)."""
    msg = EmailMessage()
    msg["From"] = smtp.sender
    msg["To"] = notice.email
    msg["Subject"] = notice.subject
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = make_msgid(domain=smtp.sender.rpartition("@")[2] or None)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to the job
    msg.set_content(notice.body)
    return msg


def _connect(smtp: SmtpConfig) -> smtplib.SMTP:
    context = ssl.create_default_context()
    conn: smtplib.SMTP
    if smtp.tls == "ssl":
        conn = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout, context=context)
    else:
        conn = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    try:
        if smtp.tls == "starttls":
            conn.starttls(context=context)
        if smtp.user:
            conn.login(smtp.user, smtp.password)
    except BaseException:
        conn.close()
        raise
    return conn


def _error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text[:1000]


def _settle(session: Session, notice: Notice, error: str | None) -> None:
    notice.attempts += 1
    if error is None:
        notice.sent_at = utcnow()
        notice.last_error = ""
    else:
        notice.last_error = error
    session.add(notice)
    audit.record(session, actor=ACTOR, action="notice.send" if error is None else "notice.fail",
                 entity_type="notice", entity_id=str(notice.id),
                 organisation_id=notice.organisation_id,
                 data={"to": notice.email, "attempt": notice.attempts,
                       **({"error": error} if error else {})})
    session.commit()


def pending(session: Session, *, limit: int = BATCH) -> list[Notice]:
    """Notices with an address not sent yet, oldest first."""
    return list(session.exec(select(Notice).where(
        col(Notice.sent_at).is_(None), Notice.email != "").order_by(
        col(Notice.created_at), col(Notice.id)).limit(limit)).all())


def send_pending(session: Session, smtp: SmtpConfig) -> SendReport:
    """Send every pending notice through ``smtp``; see the module for what a failure keeps."""
    report = SendReport()
    notices = pending(session)
    if not notices:
        return report
    try:
        conn = _connect(smtp)
    except (OSError, smtplib.SMTPException) as exc:  # TimeoutError is an OSError
        down = _error(exc)
        for notice in notices:
            _settle(session, notice, down)
            assert notice.id is not None
            report.failed[notice.id] = down
        return report
    try:
        for notice in notices:
            assert notice.id is not None
            error: str | None
            try:
                refused = conn.send_message(message(notice, smtp))
                error = (f"refused: {refused}"[:1000] if refused else None)
            except (OSError, smtplib.SMTPException) as exc:
                error = _error(exc)
            _settle(session, notice, error)
            if error is None:
                report.sent.append(notice.id)
            else:
                report.failed[notice.id] = error
    finally:
        try:
            conn.quit()
        except (OSError, smtplib.SMTPException):
            conn.close()
    return report
