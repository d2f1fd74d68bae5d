"""Appending to the audit trail: one event per transaction, chained to the previous one by
its hash, sealed when the process holds the audit key, carrying the checked rows the
transaction wrote (serialised: SQLite's write lock, PostgreSQL's advisory lock)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, cast

from sqlmodel import Session, select

from labctl.platform.audit.checkpoints import add_checkpoint
from labctl.platform.audit.keys import sealer_for, sign
from labctl.platform.audit.rows import TOUCHED_KEY, snapshot_rows
from labctl.platform.db import advisory_xact_lock, utcnow
from labctl.platform.models.audit import (
    AuditEvent,
)

GENESIS = "0" * 64
_PG_LOCK_KEY = 0x6C616263746C  # "labctl": the advisory lock that orders audit appends


# --- appending ------------------------------------------------------------------------------


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
    """Append one event to the chain inside the caller's transaction (committed with it).

    The checked rows the transaction wrote are recorded in ``data["rows"]``; the event is
    sealed when the engine has the audit key (:func:`use_key`).
    """
    session.flush()  # the audited writes take their row locks before the chain lock
    payload = dict(data or {})
    touched = session.info.pop(TOUCHED_KEY, None)
    if touched:
        payload["rows"] = snapshot_rows(session, touched)
    advisory_xact_lock(session, _PG_LOCK_KEY)
    head = session.exec(
        select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)  # type: ignore[union-attr]
    ).first()
    event = AuditEvent(
        at=utcnow(), actor=actor, organisation_id=organisation_id, action=action,
        entity_type=entity_type, entity_id=str(entity_id), reason=reason,
        data=_json_safe(payload), prev_hash=head or GENESIS, hash="",
    )
    event.hash = event_hash(event)
    sealer = sealer_for(session)
    if sealer is not None:
        event.seal = sign(sealer.identity, event.hash.encode())
    session.add(event)
    session.flush()
    session.info.pop(TOUCHED_KEY, None)  # the event row itself is not a checked row
    assert event.id is not None
    if sealer is not None and event.id % sealer.checkpoint_every == 0:
        add_checkpoint(session, sealer.identity, head_id=event.id, head_hash=event.hash,
                        created_by="system:interval")
    return event


