"""Signed checkpoints of the chain's head (id, hash, number of events, time): stored, exported
as JSON to be kept outside the database, and checked against the chain as it is now."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from sqlmodel import Session, col

from labctl.errors import ValidationError
from labctl.platform.audit.keys import sign, signature_holds
from labctl.platform.audit.rows import canon
from labctl.platform.db import utcnow
from labctl.platform.documents.signing import SigningIdentity
from labctl.platform.models.audit import (
    AuditCheckpoint,
    AuditEvent,
    CheckpointCheck,
)

CHECKPOINT_FORMAT = "labctl-audit-checkpoint/1"


def checkpoint_payload(*, head_id: int, head_hash: str, events: int, at: datetime) -> bytes:
    return json.dumps({"format": CHECKPOINT_FORMAT, "head_id": head_id, "head_hash": head_hash,
                       "events": events, "at": canon(at)},
                      sort_keys=True, separators=(",", ":")).encode()


def add_checkpoint(session: Session, identity: SigningIdentity, *, head_id: int,
                    head_hash: str, created_by: str, events: int | None = None
                    ) -> AuditCheckpoint:
    if events is None:
        events = session.execute(sa.select(sa.func.count()).select_from(AuditEvent)
                                 .where(col(AuditEvent.id) <= head_id)).scalar_one()
    at = utcnow()
    payload = checkpoint_payload(head_id=head_id, head_hash=head_hash, events=events, at=at)
    row = AuditCheckpoint(
        at=at, head_id=head_id, head_hash=head_hash, events=events,
        signature=sign(identity, payload), signer_fingerprint=identity.fingerprint,
        signer_certificate=identity.certificate_pem.decode(), created_by=created_by)
    session.add(row)
    session.flush()
    return row


def checkpoint_json(row: AuditCheckpoint) -> dict[str, Any]:
    """The exportable form of a checkpoint: keep it somewhere the database's users cannot
    write (a file, a printout, an e-mail to the quality manager)."""
    return {"format": CHECKPOINT_FORMAT, "head_id": row.head_id, "head_hash": row.head_hash,
            "events": row.events, "at": canon(row.at), "signature": row.signature,
            "signer_fingerprint": row.signer_fingerprint,
            "signer_certificate": row.signer_certificate}


def checkpoint_from_json(doc: Any) -> AuditCheckpoint:
    """Read an exported checkpoint (:func:`checkpoint_json`); ``ValidationError`` if malformed."""
    if not isinstance(doc, dict) or doc.get("format") != CHECKPOINT_FORMAT:
        raise ValidationError("checkpoint", str(doc)[:80], f"a {CHECKPOINT_FORMAT} document")
    try:
        return AuditCheckpoint(
            at=datetime.fromisoformat(doc["at"]), head_id=int(doc["head_id"]),
            head_hash=str(doc["head_hash"]), events=int(doc["events"]),
            signature=str(doc["signature"]), signer_fingerprint=str(doc["signer_fingerprint"]),
            signer_certificate=str(doc["signer_certificate"]), created_by="file")
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationError("checkpoint", str(exc), "head_id, head_hash, events, at, "
                              "signature, signer_fingerprint, signer_certificate") from None


def check_checkpoint(session: Session, cp: AuditCheckpoint, *, source: str,
                     trusted: x509.Certificate | None) -> CheckpointCheck:
    """Whether the chain, as it is now, still holds the head the checkpoint signed."""
    def result(problem: str = "") -> CheckpointCheck:
        return CheckpointCheck(source=source, head_id=cp.head_id, head_hash=cp.head_hash,
                               events=cp.events, at=cp.at, ok=not problem, problem=problem)

    try:
        cert = x509.load_pem_x509_certificate(cp.signer_certificate.encode())
    except ValueError:
        return result("its signer certificate cannot be read")
    if trusted is not None and cert.fingerprint(hashes.SHA256()) != \
            trusted.fingerprint(hashes.SHA256()):
        return result("signed by another key than this platform's audit key")
    payload = checkpoint_payload(head_id=cp.head_id, head_hash=cp.head_hash,
                                  events=cp.events, at=cp.at)
    if not signature_holds(cert, cp.signature, payload):
        return result("its signature does not hold (the checkpoint was altered)")
    head = session.get(AuditEvent, cp.head_id)
    if head is None:
        last = session.execute(sa.select(sa.func.max(AuditEvent.id))).scalar_one()
        return result(f"event {cp.head_id} is gone: the chain now ends at event {last} "
                      "(truncated)")
    if head.hash != cp.head_hash:
        return result(f"event {cp.head_id} now hashes to {head.hash}, the checkpoint signed "
                      f"{cp.head_hash} (the chain was re-written up to it)")
    count = session.execute(sa.select(sa.func.count()).select_from(AuditEvent)
                            .where(col(AuditEvent.id) <= cp.head_id)).scalar_one()
    if count != cp.events:
        return result(f"{count} events up to event {cp.head_id}, the checkpoint signed "
                      f"{cp.events} (events inserted or deleted before it)")
    return result()
