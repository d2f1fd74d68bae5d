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
    entity_id: str = str_field(100, index=True)  # public verification finds its events
    reason: str = str_field(1000, default="")
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    prev_hash: str = str_field(64)
    hash: str = str_field(64, unique=True)
    #: ECDSA signature (base64) of ``hash`` by the platform's audit key, which lives outside
    #: the database: an event written without the key (forged in the database) has none.
    seal: str | None = Field(default=None, sa_type=sa.Text, nullable=True)


class AuditCheckpoint(SQLModel, table=True):
    """The chain's head at one moment, signed with the platform's audit key.

    Exported (``labctl audit checkpoint --export``) and kept elsewhere, it shows a chain
    re-hashed or truncated after it was made.
    """

    __tablename__ = "audit_checkpoint"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = utc_field()
    head_id: int  # the last event covered
    head_hash: str = str_field(64)
    events: int  # how many events up to and including head_id
    signature: str = Field(sa_type=sa.Text)  # base64 ECDSA P-256 / SHA-256 over the payload
    signer_fingerprint: str = str_field(64)  # SHA-256 of the signer's X.509 certificate (DER)
    signer_certificate: str = Field(sa_type=sa.Text)  # PEM
    created_by: str = str_field(100)


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


class RowFinding(BaseModel):
    """A row of a checked table that no audit event explains (see ``audit.CHECKED``).

    ``problem``: ``unexplained`` (no event wrote this row: inserted directly), ``differs``
    (``column`` holds ``row_value`` but the last event that wrote the row says
    ``event_value``), ``deleted`` (an event wrote the row; it is gone), ``resurrected`` (an
    event deleted the row; it is there).
    """

    table: str
    key: str
    problem: str
    column: str | None = None
    row_value: Any = None
    event_value: Any = None
    event_id: int | None = None


class CheckpointCheck(BaseModel):
    """One signed checkpoint compared with the chain as it is now."""

    source: str  # "stored checkpoint 3" or the file's name
    head_id: int
    head_hash: str
    events: int
    at: datetime
    ok: bool
    problem: str = ""


class AuditVerification(BaseModel):
    """The audit trail checked: the hash chain, the seals, the rows it must explain, the
    signed checkpoints. ``ok`` only when all of them hold."""

    ok: bool
    events: int
    head_hash: str  # record it elsewhere: truncating the tail is only visible against it
    first_bad_id: int | None = None
    problem: str = ""
    head_id: int | None = None
    chain_ok: bool = True
    unsealed_events: int = 0  # written without the platform's key (before it was in use)
    seal_problems: list[str] = []
    rows_checked: int = 0
    rows: list[RowFinding] = []
    rows_truncated: int = 0  # findings beyond the report's limit, counted only
    checkpoints: list[CheckpointCheck] = []
    new_checkpoint_id: int | None = None
