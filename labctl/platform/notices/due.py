"""The daily due-notice job: per laboratory, the standards due for calibration within N days
and those overdue, in one notice to each person who looks after its standards
(:data:`~labctl.platform.accounts.policy.STANDARD_KEEPERS` there).

A notice is keyed by day, laboratory and person (``Notice.dedupe_key``): the job run again on
the same day writes nothing new. Each laboratory's notices are one transaction with their
audit event (``notice.create``). Retired standards and customers' items are not looked
after by the laboratory's calibration programme and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlmodel import Session, col, select

from labctl.errors import ValidationError
from labctl.platform import audit
from labctl.platform.accounts import policy
from labctl.platform.accounts.auth import Principal
from labctl.platform.models.base import StandardKind, StandardStatus
from labctl.platform.models.notices import Notice, NoticeKind, NoticePublic
from labctl.platform.models.org import Membership, Organisation, User
from labctl.platform.models.registry import Standard

#: The longest look-ahead the job accepts (days).
MAX_WITHIN_DAYS = 366
ACTOR = "system:due-notices"


@dataclass
class DueRun:
    """What one run of the job did: the notices it wrote (ids) and those it found already
    written for the day (a second run)."""

    day: date
    created: list[int] = field(default_factory=list)
    existing: int = 0
    laboratories: int = 0


def _check_within(within_days: int) -> None:
    if isinstance(within_days, bool) or not isinstance(within_days, int) \
            or not 0 <= within_days <= MAX_WITHIN_DAYS:
        raise ValidationError("within_days", within_days, f"a whole number 0 to {MAX_WITHIN_DAYS}")


def due_by_laboratory(session: Session, today: date, within_days: int
                      ) -> dict[int, list[Standard]]:
    """The standards due on or before ``today + within_days`` (overdue included), by holder,
    each list by due date then identifier."""
    _check_within(within_days)
    rows = session.exec(select(Standard).where(
        col(Standard.due_date).is_not(None),
        col(Standard.due_date) <= today + timedelta(days=within_days),
        Standard.status != StandardStatus.RETIRED.value,
        Standard.kind != StandardKind.DEVICE_UNDER_CALIBRATION.value,
    ).order_by(col(Standard.organisation_id), col(Standard.due_date),
               col(Standard.identifier))).all()
    out: dict[int, list[Standard]] = {}
    for row in rows:
        out.setdefault(row.organisation_id, []).append(row)
    return out


def keepers(session: Session, lab_id: int) -> list[User]:
    """The active people holding a role that looks after the laboratory's standards there."""
    return list(session.exec(select(User).join(
        Membership, col(Membership.user_id) == col(User.id)).where(
        Membership.organisation_id == lab_id,
        col(Membership.role).in_([r.value for r in policy.STANDARD_KEEPERS]),
        col(User.is_active).is_(True)).distinct().order_by(col(User.id))).all())


def _line(std: Standard, today: date) -> str:
    assert std.due_date is not None
    days = (std.due_date - today).days
    when = (f"overdue by {-days} day{'s' if days != -1 else ''}" if days < 0
            else "due today" if days == 0 else f"due in {days} day{'s' if days != 1 else ''}")
    status = "" if std.status == StandardStatus.IN_SERVICE else f" [{std.status}]"
    return f"- {std.identifier}: {std.description} — {when} ({std.due_date.isoformat()}){status}"


def compose(lab: Organisation, standards: list[Standard], today: date, within_days: int,
            person: User) -> tuple[NoticeKind, str, str]:
    """The kind, subject and plain-text body of one laboratory's notice to one person."""
    overdue = [s for s in standards if s.due_date is not None and s.due_date < today]
    soon = [s for s in standards if s not in overdue]
    kind = NoticeKind.OVERDUE if overdue else NoticeKind.DUE_SOON
    parts = []
    if overdue:
        parts.append(f"{len(overdue)} overdue")
    if soon:
        parts.append(f"{len(soon)} due within {within_days} days")
    subject = f"[{lab.code}] Standards due for calibration: {', '.join(parts)}"
    lines = [f"Dear {person.full_name},", "",
             f"On {today.isoformat()} these standards of {lab.name} ({lab.code}) need "
             "calibration:", ""]
    if overdue:
        lines += ["Overdue (do not use them until calibrated):",
                  *[_line(s, today) for s in overdue], ""]
    if soon:
        lines += [f"Due within {within_days} days:", *[_line(s, today) for s in soon], ""]
    lines += ["You receive this notice because you look after the laboratory's standards.",
              "labctl"]
    return kind, subject, "\n".join(lines)


def daily_due_notices(session: Session, today: date, within_days: int = 30, *,
                      actor: str = ACTOR) -> DueRun:
    """Write today's due notices: for every laboratory with standards overdue or due within
    ``within_days`` days, one notice per person who looks after its standards. Notices
    already written today are left as they are (counted in ``existing``)."""
    _check_within(within_days)
    due = due_by_laboratory(session, today, within_days)
    run = DueRun(day=today)
    for lab_id, standards in due.items():
        lab = session.get(Organisation, lab_id)
        assert lab is not None
        written = []
        for person in keepers(session, lab_id):
            key = f"due/{today.isoformat()}/{lab_id}/{person.id}"
            if session.exec(select(Notice.id).where(Notice.dedupe_key == key)).first():
                run.existing += 1
                continue
            assert person.id is not None
            kind, subject, body = compose(lab, standards, today, within_days, person)
            notice = Notice(organisation_id=lab_id, recipient_id=person.id,
                            email=person.email, kind=kind.value, subject=subject, body=body,
                            standard_ids=[s.id for s in standards if s.id is not None],
                            day=today, dedupe_key=key)
            session.add(notice)
            written.append(notice)
        if not written:
            continue
        session.flush()
        audit.record(session, actor=actor, action="notice.create", entity_type="notice",
                     entity_id=f"{lab.code}/{today.isoformat()}", organisation_id=lab_id,
                     data={"day": today.isoformat(), "within_days": within_days,
                           "recipients": [n.recipient_id for n in written],
                           "standards": [s.identifier for s in standards]})
        session.commit()
        run.created.extend(n.id for n in written if n.id is not None)
        run.laboratories += 1
    return run


def notices_for(session: Session, principal: Principal, *, limit: int = 50) -> list[Notice]:
    """The caller's own notices, newest first (a station or a person with none: empty)."""
    if principal.kind != "user" or principal.user_id is None:
        return []
    return list(session.exec(select(Notice).where(Notice.recipient_id == principal.user_id)
                             .order_by(col(Notice.created_at).desc(), col(Notice.id).desc())
                             .limit(limit)).all())


def notice_public(session: Session, notice: Notice) -> NoticePublic:
    lab = session.get(Organisation, notice.organisation_id)
    assert lab is not None and notice.id is not None
    idents = session.exec(select(Standard.identifier).where(
        col(Standard.id).in_(notice.standard_ids or [-1])).order_by(
        col(Standard.identifier))).all()
    return NoticePublic(
        id=notice.id, laboratory_code=lab.code, kind=NoticeKind(notice.kind),
        subject=notice.subject, body=notice.body, standards=list(idents), day=notice.day,
        created_at=notice.created_at, email=notice.email, sent_at=notice.sent_at,
        attempts=notice.attempts, last_error=notice.last_error)
