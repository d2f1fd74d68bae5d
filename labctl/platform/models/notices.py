"""Due notices: the outbox of messages telling a laboratory's responsible people which of its
standards are due for calibration soon or overdue (ISO/IEC 17025 6.4.8, 6.4.13).

A notice is written once (by the daily job, :mod:`labctl.platform.notices`) and then only its
delivery columns change: ``sent_at`` once an SMTP server accepted it, ``attempts`` and
``last_error`` for each failed try (kept, retried on the next send). ``dedupe_key`` is unique,
so the daily job run twice on one day writes nothing the second time. The portal shows a
person their notices whether or not an e-mail could be sent (``email`` is "" when the person
has no address: the notice is for the portal only).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import Field, SQLModel

from labctl.platform.models.base import str_field, utc_field


class NoticeKind(StrEnum):
    """Why a notice was written: some standard is overdue (the more urgent), or only due
    within the job's window."""

    DUE_SOON = "due_soon"
    OVERDUE = "overdue"


class Notice(SQLModel, table=True):
    """One message to one person about one laboratory's standards on one day."""

    __tablename__ = "notice"
    id: int | None = Field(default=None, primary_key=True)
    #: the laboratory whose standards it is about
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    recipient_id: int = Field(foreign_key="user_account.id", index=True)
    #: where it is mailed ("" when the person has no address: portal only)
    email: str = str_field(200, default="")
    kind: str = str_field(16)  # NoticeKind
    subject: str = str_field(200)
    body: str = Field(sa_type=sa.Text)
    #: the standards it lists (standard.id)
    standard_ids: list[int] = Field(default_factory=list, sa_type=sa.JSON)
    #: the day the job ran for (the dates in the text are relative to it)
    day: date
    #: one notice per (day, laboratory, person): a second run the same day writes nothing
    dedupe_key: str = str_field(200, unique=True)
    created_at: datetime = utc_field(default_now=True)
    sent_at: datetime | None = utc_field(nullable=True, default=None)
    attempts: int = 0
    last_error: str = str_field(1000, default="")


class NoticePublic(BaseModel):
    """A notice as its recipient reads it on the portal."""

    id: int
    laboratory_code: str
    kind: NoticeKind
    subject: str
    body: str
    standards: list[str]
    day: date
    created_at: datetime
    email: str
    sent_at: datetime | None
    attempts: int
    last_error: str
