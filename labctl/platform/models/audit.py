"""Audit events: who did what, when and why, append-only and hash-chained."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import Field, SQLModel

from labctl.platform.models.base import str_field, utc_field


class AuditEvent(SQLModel, table=True):
    """One write. ``hash`` = SHA-256 over the event's canonical form and ``prev_hash``."""

    __tablename__ = "audit_event"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = utc_field()
    actor: str = str_field(100)  # "user:alice", "station:7", "system"
    organisation_id: int | None = Field(default=None, index=True)  # no FK: events outlive rows
    action: str = str_field(64)  # "certificate.issue"
    entity_type: str = str_field(32)
    entity_id: str = str_field(100)
    reason: str = str_field(1000, default="")
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    prev_hash: str = str_field(64)
    hash: str = str_field(64, unique=True)


class AuditEventPublic(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    reason: str
    data: dict[str, Any]
    prev_hash: str
    hash: str


class AuditVerification(BaseModel):
    """The result of re-computing the chain: ``ok`` and, if not, the first broken event."""

    ok: bool
    events: int
    head_hash: str  # record it elsewhere: truncating the tail is only visible against it
    first_bad_id: int | None = None
    problem: str = ""
