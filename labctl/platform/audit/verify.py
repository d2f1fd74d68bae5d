"""Checking the audit trail: the hash chain, the seals, every checked row against the last
event that wrote it, the checkpoints; and one certificate against its audit record (public
verification)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from cryptography import x509
from sqlmodel import Session, col, select

from labctl.errors import ValidationError
from labctl.platform.audit.checkpoints import add_checkpoint, check_checkpoint, checkpoint_from_json
from labctl.platform.audit.keys import audit_certificate, signature_holds
from labctl.platform.audit.rows import CHECKED, canon, row_values, values_digest
from labctl.platform.audit.trail import GENESIS, event_hash
from labctl.platform.documents.signing import SigningIdentity
from labctl.platform.models.audit import (
    AuditCheckpoint,
    AuditEvent,
    AuditVerification,
    RowFinding,
)
from labctl.platform.models.certificates import (
    Certificate,
)

#: At most this many row findings are listed (the rest are counted).
MAX_FINDINGS = 2000


def verify_chain(session: Session, *, batch: int = 5000) -> AuditVerification:
    """Recompute every hash in order; report the first event that does not match."""
    prev = GENESIS
    count = 0
    last_id: int | None = None
    for ev in events_in_order(session, batch):
        assert ev.id is not None
        count += 1
        if ev.prev_hash != prev:
            return AuditVerification(
                ok=False, chain_ok=False, events=count, head_hash=prev, first_bad_id=ev.id,
                problem=f"event {ev.id}: prev_hash does not match the hash of the event "
                        "before it (an event was inserted or deleted)",
            )
        if event_hash(ev) != ev.hash:
            return AuditVerification(
                ok=False, chain_ok=False, events=count, head_hash=prev, first_bad_id=ev.id,
                problem=f"event {ev.id}: stored fields do not match its hash (edited)",
            )
        prev = ev.hash
        last_id = ev.id
    return AuditVerification(ok=True, events=count, head_hash=prev, head_id=last_id)


def check_seals(session: Session, certificate: x509.Certificate | None
                ) -> tuple[int, list[str]]:
    """``(unsealed events accepted, problems)``.

    Every event from the first sealed one on must carry a seal of its hash by the audit key.
    An unsealed event is accepted only as one written before the key existed (an upgraded
    database): dated before the key's certificate was made and not before the event preceding
    it. So stripping every seal does not make room for a forged event either.
    """
    unsealed = 0
    problems: list[str] = []
    sealing = False
    # the key store makes certificates valid from an hour before their creation
    key_made = (certificate.not_valid_before_utc + timedelta(hours=1)
                if certificate is not None else None)
    previous_at: datetime | None = None
    for ev in events_in_order(session):
        at, previous_at = ev.at, (previous_at if previous_at is not None else ev.at)
        if ev.seal is None:
            if sealing:
                problems.append(f"event {ev.id} ({ev.action} by {ev.actor}) has no seal: "
                                "written without the platform's audit key")
            elif key_made is not None and at >= key_made:
                problems.append(f"event {ev.id} ({ev.action} by {ev.actor}) has no seal but "
                                f"is dated {at.isoformat()}, after the audit key was made "
                                f"({key_made.isoformat()})")
            elif at < previous_at:
                problems.append(f"event {ev.id} ({ev.action} by {ev.actor}) has no seal and "
                                "is dated before the event preceding it")
            else:
                unsealed += 1
            previous_at = max(previous_at, at)
            continue
        previous_at = max(previous_at, at)
        sealing = True
        if certificate is None:
            problems.append(f"event {ev.id} is sealed but the audit key's certificate is not "
                            "available to check it (LABCTL_KEYS_DIR)")
            break
        if not signature_holds(certificate, ev.seal, ev.hash.encode()):
            problems.append(f"event {ev.id} ({ev.action} by {ev.actor}): its seal does not "
                            "match its hash (forged or re-hashed)")
        if len(problems) >= MAX_FINDINGS:
            break
    return unsealed, problems


def check_rows(session: Session) -> tuple[int, list[RowFinding], int]:
    """``(rows checked, findings, findings not listed)``: every row of every checked table
    against the last event that wrote it."""
    expected: dict[str, dict[str, tuple[str | None, int]]] = {e.name: {} for e in CHECKED}
    for ev in events_in_order(session):
        assert ev.id is not None
        for table, rows in (ev.data.get("rows") or {}).items():
            if table in expected and isinstance(rows, dict):
                for key, values in rows.items():
                    expected[table][key] = (values_digest(values), ev.id)
    findings: list[RowFinding] = []
    extra = 0
    checked = 0

    def add(finding: RowFinding) -> None:
        nonlocal extra
        if len(findings) < MAX_FINDINGS:
            findings.append(finding)
        else:
            extra += 1

    for entity in CHECKED:
        want = expected[entity.name]
        cols = [entity.table.c[c] for c in entity.read_columns]
        order = [entity.table.c[c] for c in entity.key]
        result = session.execute(sa.select(*cols).order_by(*order)
                                 .execution_options(yield_per=2000))
        for row in result.mappings():
            checked += 1
            key = entity.key_of(dict(row))
            values = row_values(entity, row)
            digest, event_id = want.pop(key, (None, 0))
            if event_id == 0:
                add(RowFinding(table=entity.name, key=key, problem="unexplained",
                               row_value=values))
            elif digest is None:
                add(RowFinding(table=entity.name, key=key, problem="resurrected",
                               row_value=values, event_id=event_id))
            elif digest != values_digest(values):
                said = _recorded(session, event_id, entity.name, key) or {}
                for column in (*entity.columns, *entity.added):
                    if said.get(column) != values.get(column):
                        add(RowFinding(table=entity.name, key=key, problem="differs",
                                       column=column, row_value=values.get(column),
                                       event_value=said.get(column), event_id=event_id))
        for key, (digest, event_id) in want.items():
            if digest is not None:
                add(RowFinding(table=entity.name, key=key, problem="deleted",
                               event_value=_recorded(session, event_id, entity.name, key),
                               event_id=event_id))
    return checked, findings, extra


def _recorded(session: Session, event_id: int, table: str, key: str) -> dict[str, Any] | None:
    ev = session.get(AuditEvent, event_id)
    if ev is None:
        return None
    return cast(dict[str, Any] | None, ((ev.data.get("rows") or {}).get(table) or {}).get(key))


def make_checkpoint(session: Session, identity: SigningIdentity, *,
                    created_by: str = "system:cli") -> AuditCheckpoint:
    """Sign the chain's current head now (the chain must verify first) and store it."""
    chain = verify_chain(session)
    if not chain.ok or chain.head_id is None:
        raise ValidationError("audit chain", chain.problem or "empty",
                              "an intact, non-empty chain (a checkpoint vouches for it)")
    row = add_checkpoint(session, identity, head_id=chain.head_id, head_hash=chain.head_hash,
                          events=chain.events, created_by=created_by)
    session.commit()
    return row


def verify(session: Session, *, keys_dir: str | Path | None = None,
           checkpoint_files: Iterable[tuple[str, dict[str, Any]]] = ()) -> AuditVerification:
    """The whole audit check: chain, seals, rows explained, stored and given checkpoints.

    ``keys_dir``: where the platform's audit key is (its certificate checks seals and
    checkpoints). ``checkpoint_files``: exported checkpoints ``(name, document)``.
    """
    if session.get_bind().dialect.name == "postgresql" and not session.in_transaction():
        # one snapshot for the events and the rows they explain (SQLite's read transaction
        # is one snapshot already)
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    result = verify_chain(session)
    trusted = audit_certificate(keys_dir)
    unsealed, seal_problems = check_seals(session, trusted)
    checked, findings, extra = check_rows(session)
    checks = [check_checkpoint(session, cp, source=f"stored checkpoint {cp.id}", trusted=trusted)
              for cp in session.exec(select(AuditCheckpoint).order_by(AuditCheckpoint.id)  # type: ignore[arg-type]
                                     ).all()]
    for name, doc in checkpoint_files:
        checks.append(check_checkpoint(session, checkpoint_from_json(doc), source=name,
                                       trusted=trusted))
    return result.model_copy(update={
        "ok": result.ok and not seal_problems and not findings and all(c.ok for c in checks),
        "unsealed_events": unsealed, "seal_problems": seal_problems, "rows_checked": checked,
        "rows": findings, "rows_truncated": extra, "checkpoints": checks,
    })


#: What the public verification compares between a certificate's row and its audit record.
_PUBLIC_COLUMNS = ("status", "content_hash", "dcc", "withdrawn_at", "issue_date")


def certificate_record(session: Session, cert: Certificate, *,
                       keys_dir: str | Path | None = None) -> tuple[bool, str]:
    """``(consistent, detail)``: whether a certificate revision's status, content hash and
    stored DCC are what the audit events that wrote it recorded (and those events are
    intact, and sealed by the platform's key once sealing is in use). Cheap: only that
    certificate's events (and baseline events, which may have adopted it).

    Events from before the row snapshots (an upgraded database, not yet baselined) are read
    the older way: the content hash the issue event recorded, and the status its events say.
    """
    assert cert.id is not None
    trusted = audit_certificate(keys_dir)
    first_sealed = session.execute(sa.select(sa.func.min(AuditEvent.id))
                                   .where(AuditEvent.seal.is_not(None))  # type: ignore[union-attr]
                                   ).scalar_one()
    last = session.execute(sa.select(sa.func.max(Certificate.revision))
                           .where(col(Certificate.number) == cert.number)).scalar_one()
    # every event about any revision (an issue also supersedes the one before), by index
    names = [f"{cert.number}/{r}" for r in range(int(last or 0) + 2)]
    events = session.exec(select(AuditEvent).where(sa.or_(
        sa.and_(col(AuditEvent.entity_type) == "certificate",
                col(AuditEvent.entity_id).in_(names)),
        sa.and_(col(AuditEvent.action) == "audit.baseline",
                col(AuditEvent.entity_id) == "certificate"),
    )).order_by(AuditEvent.id)).all()  # type: ignore[arg-type]
    for ev in events:
        if event_hash(ev) != ev.hash:
            return False, f"audit event {ev.id} about this certificate was edited"
        if trusted is not None and first_sealed is not None and ev.id is not None \
                and ev.id >= first_sealed and (
                ev.seal is None or not signature_holds(trusted, ev.seal, ev.hash.encode())):
            return False, (f"audit event {ev.id} about this certificate is not sealed by the "
                           "platform's audit key (forged?)")
    snapshots = [(ev, rows[str(cert.id)]) for ev in events
                 if str(cert.id) in (rows := (ev.data.get("rows") or {}).get("certificate") or {})]
    row = session.execute(sa.select(*[Certificate.__table__.c[c]  # type: ignore[attr-defined]
                                      for c in _PUBLIC_COLUMNS])
                          .where(Certificate.__table__.c.id == cert.id)  # type: ignore[attr-defined]
                          ).mappings().one()
    now = {c: canon(row[c]) for c in _PUBLIC_COLUMNS}
    said_by: AuditEvent | None
    checked: tuple[str, ...]
    if snapshots:
        said_by, said = snapshots[-1]
        if said is None:
            return False, f"the audit trail says this revision was deleted (event {said_by.id})"
        checked = _PUBLIC_COLUMNS
    else:
        said_by, said = _legacy_record(cert, events)
        if said_by is None:
            return False, "the audit trail has no record of this certificate's issue"
        checked = ("status", "content_hash")
    differs = [c for c in checked if now[c] != said.get(c)]
    if differs:
        where = ", ".join(f"{c} is {now[c]!r}, the audit trail says {said.get(c)!r}"
                          for c in differs)
        return False, f"the stored record does not match the audit trail ({where})"
    return True, f"matches the audit trail (event {said_by.id}, {said_by.action})"


def _legacy_record(cert: Certificate, events: Iterable[AuditEvent]
                   ) -> tuple[AuditEvent | None, dict[str, Any]]:
    """What events without row snapshots say of a revision: its issue event's content hash,
    and the status its issue / withdrawal / the next revision's issue left it in."""
    mine, following = f"{cert.number}/{cert.revision}", f"{cert.number}/{cert.revision + 1}"
    issued: AuditEvent | None = None
    said: dict[str, Any] = {}
    for ev in events:
        if ev.entity_id == mine and ev.action == "certificate.issue":
            issued = ev
            said = {"status": "issued", "content_hash": ev.data.get("content_hash")}
        elif issued and ev.entity_id == mine and ev.action == "certificate.withdraw":
            said["status"] = "withdrawn"
        elif issued and ev.entity_id == following and ev.action == "certificate.issue":
            said["status"] = "superseded"
    return issued, said


def events_in_order(session: Session, batch: int = 2000) -> Iterator[AuditEvent]:
    last_id = 0
    while True:
        rows = session.exec(
            select(AuditEvent).where(AuditEvent.id > last_id)  # type: ignore[operator]
            .order_by(AuditEvent.id).limit(batch)  # type: ignore[arg-type]
        ).all()
        if not rows:
            return
        for ev in rows:
            assert ev.id is not None
            last_id = ev.id
            yield ev
        session.expunge_all()
