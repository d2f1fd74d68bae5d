"""Append-only, hash-chained audit events and their verification.

Each event's ``hash`` is SHA-256 over a canonical JSON form of the event (time, actor,
organisation, action, entity, reason, data) and the previous event's hash, starting from
``GENESIS``. Editing, inserting or deleting any event (other than the last ones) breaks the
chain at that point; :func:`verify_chain` finds the first broken event. Truncating the tail is
visible only against a head hash recorded elsewhere, so the verification reports the head.

Appends are serialised: on SQLite every write transaction holds the database's write lock
(``BEGIN IMMEDIATE``, see ``db``); on PostgreSQL :func:`record` takes a transaction-scoped
advisory lock before it reads the current head. Call it once per transaction, after the other
writes (it flushes them first, so only the append happens under the lock: no lock cycles).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session, select

from labctl.platform.db import utcnow
from labctl.platform.models.audit import AuditEvent, AuditVerification

GENESIS = "0" * 64
_PG_LOCK_KEY = 0x6C616263746C  # "labctl": the advisory lock that orders audit appends


def _canonical(*, at: datetime, actor: str, organisation_id: int | None, action: str,
               entity_type: str, entity_id: str, reason: str, data: dict[str, Any],
               prev_hash: str) -> bytes:
    body = {
        "at": at.isoformat(timespec="microseconds"),
        "actor": actor,
        "organisation_id": organisation_id,
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "reason": reason,
        "data": data,
        "prev_hash": prev_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode()


def event_hash(event: AuditEvent) -> str:
    """The hash an event must carry, recomputed from its stored fields."""
    return hashlib.sha256(_canonical(
        at=event.at, actor=event.actor, organisation_id=event.organisation_id,
        action=event.action, entity_type=event.entity_type, entity_id=event.entity_id,
        reason=event.reason, data=event.data, prev_hash=event.prev_hash,
    )).hexdigest()


def _json_safe(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` as it will read back from the JSON column (Decimals and dates as text)."""
    return cast(dict[str, Any], json.loads(json.dumps(data, default=str)))


def record(session: Session, *, actor: str, action: str, entity_type: str, entity_id: str,
           organisation_id: int | None = None, reason: str = "",
           data: dict[str, Any] | None = None) -> AuditEvent:
    """Append one event to the chain inside the caller's transaction (committed with it)."""
    session.flush()  # the audited writes take their row locks before the chain lock
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    head = session.exec(
        select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)  # type: ignore[union-attr]
    ).first()
    event = AuditEvent(
        at=utcnow(), actor=actor, organisation_id=organisation_id, action=action,
        entity_type=entity_type, entity_id=str(entity_id), reason=reason,
        data=_json_safe(data or {}), prev_hash=head or GENESIS, hash="",
    )
    event.hash = event_hash(event)
    session.add(event)
    session.flush()
    return event


def verify_chain(session: Session, *, batch: int = 5000) -> AuditVerification:
    """Recompute every hash in order; report the first event that does not match."""
    prev = GENESIS
    count = 0
    last_id = 0
    while True:
        rows = session.exec(
            select(AuditEvent).where(AuditEvent.id > last_id)  # type: ignore[operator]
            .order_by(AuditEvent.id).limit(batch)  # type: ignore[arg-type]
        ).all()
        if not rows:
            break
        for ev in rows:
            assert ev.id is not None
            count += 1
            if ev.prev_hash != prev:
                return AuditVerification(
                    ok=False, events=count, head_hash=prev, first_bad_id=ev.id,
                    problem=f"event {ev.id}: prev_hash does not match the hash of the event "
                            "before it (an event was inserted or deleted)",
                )
            if event_hash(ev) != ev.hash:
                return AuditVerification(
                    ok=False, events=count, head_hash=prev, first_bad_id=ev.id,
                    problem=f"event {ev.id}: stored fields do not match its hash (edited)",
                )
            prev = ev.hash
            last_id = ev.id
        session.expunge_all()
    return AuditVerification(ok=True, events=count, head_hash=prev)
