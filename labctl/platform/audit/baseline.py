"""Adopting rows written before the row cross-check existed: once per table, in sealed
``audit.baseline`` events that state the reason."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlmodel import Session

from labctl.errors import ConflictError, ValidationError
from labctl.platform.audit.rows import BY_TABLE, CHECKED, touched_rows
from labctl.platform.audit.trail import record
from labctl.platform.audit.verify import events_in_order, verify_chain


def baseline(session: Session, *, actor: str, reason: str,
             tables: Iterable[str] | None = None) -> dict[str, int]:
    """Record, in sealed ``audit.baseline`` events, the rows of the checked tables that no
    event explains yet: once, after upgrading a database whose events predate the row
    cross-check, or after adding a table to :data:`CHECKED`. ``{table: rows adopted}``.

    Each table is adopted at most once (a second baseline would hide direct edits made
    since); the events name who did it and why, so the adoption itself is on the record.
    """
    if not reason.strip():
        raise ValidationError("reason", reason, "why the rows are adopted (it is recorded)")
    chain = verify_chain(session)
    if not chain.ok:
        raise ValidationError("audit chain", chain.problem, "an intact chain before adopting rows")
    wanted = set(tables) if tables is not None else {e.name for e in CHECKED}
    unknown = wanted - set(BY_TABLE)
    if unknown:
        raise ValidationError("tables", sorted(unknown), ", ".join(sorted(BY_TABLE)))
    known: dict[str, set[str]] = {e.name: set() for e in CHECKED}
    done: set[str] = set()
    for ev in events_in_order(session):
        if ev.action == "audit.baseline":
            done.add(ev.entity_id)
        for table, rows in (ev.data.get("rows") or {}).items():
            if table in known and isinstance(rows, dict):
                known[table].update(rows)
    again = wanted & done
    if again:
        raise ConflictError(f"tables {sorted(again)} were adopted by an earlier baseline; "
                            "rows no event explains now were written around the platform")
    adopted: dict[str, int] = {}
    for entity in CHECKED:
        if entity.name not in wanted:
            continue
        cols = [entity.table.c[c] for c in entity.key]
        keys = [k for k in (entity.key_of(dict(r)) for r in
                            session.execute(sa.select(*cols)).mappings())
                if k not in known[entity.name]]
        # one event per table even when nothing is adopted: the table counts as adopted
        for chunk in [keys[i:i + 1000] for i in range(0, len(keys), 1000)] or [[]]:
            touched_rows(session).update((entity.name, k) for k in chunk)
            record(session, actor=actor, action="audit.baseline", entity_type="audit",
                   entity_id=entity.name, reason=reason, data={"adopted": len(chunk)})
        adopted[entity.name] = len(keys)
    session.commit()
    return adopted
