"""Append-only, hash-chained, sealed audit events; the rows they must explain; checkpoints.

**Chain.** Each event's ``hash`` is SHA-256 over a canonical JSON form of the event (time,
actor, organisation, action, entity, reason, data) and the previous event's hash, starting
from ``GENESIS``. Editing, inserting or deleting an event breaks the chain at that point;
:func:`verify_chain` finds the first broken event.

**Seals.** When the process holds the platform's audit key (:func:`use_key`, done by the
server and the CLI; the key lives in ``LABCTL_KEYS_DIR``, outside the database), each event
also carries ``seal``: an ECDSA signature of its hash. Whoever can only write to the
database cannot seal, so an event forged there (appended, or the chain re-hashed from an
edit on) has no valid seal. Once an event is sealed, every later one must be.

**Rows explained.** The tables that matter are listed in :data:`CHECKED` (table, key
columns, checked columns, secret columns). Every row of those tables that a transaction
inserts, changes or deletes through the session (ORM flushes; insert statements with the
key values; update and delete statements, by the rows they match) is noted, and
:func:`record` stores the row's checked columns as they are after the write (secrets as
SHA-256 digests; ``None`` for a deleted row) in the event's ``data["rows"]`` (``{table:
{key: values}}``). :func:`check_rows` replays the events and compares every row of every
checked table with the last event that wrote it: a row no event explains (inserted, changed
or deleted directly in the database) is a finding. To check a new table, add one
:class:`CheckedEntity` to :data:`CHECKED`: its writes are captured from then on, with
nothing to change in the services (writes must go through the session, and ``audit.record``
must come last in the transaction, as it already must).

**Checkpoints.** :func:`make_checkpoint` signs the head (id, hash, number of events, time)
with the audit key; a checkpoint is also written every :data:`CHECKPOINT_EVERY` events (in
the transaction of the event that reaches the count) and after a clean
``labctl audit verify``. Exported as JSON (:func:`checkpoint_json`) and kept elsewhere, it
shows truncation and re-hashing: :func:`check_checkpoint`.

Appends are serialised: on SQLite every write transaction holds the database's write lock
(``BEGIN IMMEDIATE``, see ``db``); on PostgreSQL :func:`record` takes a transaction-scoped
advisory lock before it reads the current head. Call it once per transaction, after the other
writes (it flushes them first, so only the append happens under the lock: no lock cycles).
"""

from __future__ import annotations

import base64
import enum
import hashlib
import json
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, SQLModel, col, select

from labctl.errors import ConflictError, ValidationError
from labctl.platform.db import utcnow
from labctl.platform.documents.signing import LaboratoryKeyStore, SigningIdentity
from labctl.platform.models.audit import (
    AuditCheckpoint,
    AuditEvent,
    AuditVerification,
    CheckpointCheck,
    RowFinding,
)
from labctl.platform.models.certificates import (
    Certificate,
    CertificateFlag,
    CertificateStandard,
    ResultPoint,
    ResultPosting,
)
from labctl.platform.models.org import (
    ApiToken,
    Authorisation,
    Membership,
    Organisation,
    Station,
    User,
)
from labctl.platform.models.registry import (
    Capability,
    Standard,
    StandardCalibration,
    StandardCorrection,
    StandardStatusChange,
)

GENESIS = "0" * 64
_PG_LOCK_KEY = 0x6C616263746C  # "labctl": the advisory lock that orders audit appends

#: The key-store name of the platform's audit key (laboratory codes are upper case: no clash).
AUDIT_KEY_NAME = "labctl-audit"
#: By default a checkpoint is signed in the transaction of every event whose id is a
#: multiple of this (see :func:`use_key`).
CHECKPOINT_EVERY = 500
#: At most this many row findings are listed (the rest are counted).
MAX_FINDINGS = 2000
CHECKPOINT_FORMAT = "labctl-audit-checkpoint/1"


# --- the tables whose rows the events must explain ----------------------------------------


@dataclass(frozen=True)
class CheckedEntity:
    """A table whose rows must each be explained by the audit event that last wrote them.

    ``columns``: what is compared (the security-relevant content); ``key``: the columns that
    name a row (its primary key, or a natural key when rows are inserted in bulk without
    reading ids back); ``secret``: columns compared and recorded only as SHA-256 digests.
    Byte columns (documents) are always recorded as digests.
    """

    model: type[SQLModel]
    columns: tuple[str, ...]
    key: tuple[str, ...] = ("id",)
    secret: frozenset[str] = field(default_factory=frozenset)

    @property
    def table(self) -> sa.Table:
        return cast(sa.Table, self.model.__table__)  # type: ignore[attr-defined]

    @property
    def name(self) -> str:
        return self.table.name

    def key_of(self, values: Any) -> str:
        get = values.get if isinstance(values, dict) else (lambda c: getattr(values, c))
        return "/".join(str(get(c)) for c in self.key)


#: The checked tables. Add one line to check another (e.g. a new account table).
CHECKED: tuple[CheckedEntity, ...] = (
    CheckedEntity(Organisation, ("code", "name", "level", "parent_id")),
    CheckedEntity(User, ("username", "full_name", "password_hash", "is_active",
                         "is_superuser"), secret=frozenset({"password_hash"})),
    CheckedEntity(Membership, ("user_id", "organisation_id", "role")),
    CheckedEntity(Authorisation, ("user_id", "organisation_id", "quantity", "procedure",
                                  "valid_from", "valid_until")),
    CheckedEntity(Station, ("organisation_id", "name")),
    CheckedEntity(ApiToken, ("token_hash", "user_id", "station_id", "expires_at",
                             "revoked_at"), secret=frozenset({"token_hash"})),
    CheckedEntity(Standard, ("identifier", "organisation_id", "kind", "quantity", "unit",
                             "range_min", "range_max", "uncertainty_relative",
                             "uncertainty_absolute", "status", "due_date",
                             "current_calibration_id", "review_state",
                             "calibration_interval_days")),
    CheckedEntity(StandardCalibration, ("standard_id", "certificate_id", "certificate_number",
                                        "issuer", "calibrated_on", "due_date")),
    CheckedEntity(StandardStatusChange, ("standard_id", "status", "effective_at",
                                         "error_absolute", "error_relative")),
    CheckedEntity(StandardCorrection, ("standard_id", "nominal", "correction", "uncertainty",
                                       "valid_from", "superseded_at")),
    CheckedEntity(Capability, ("organisation_id", "quantity", "unit", "range_min", "range_max",
                               "uncertainty_relative", "uncertainty_absolute",
                               "review_state")),
    CheckedEntity(Certificate, (
        "number", "revision", "organisation_id", "status", "replaces_id",
        "customer_organisation_id", "customer_name", "customer_address", "item_standard_id",
        "item_description", "item_manufacturer", "item_model", "item_serial_number",
        "item_identifier", "quantity", "procedure", "method", "location",
        "calibration_begin", "calibration_end", "decision_rule", "conditions", "statements",
        "performed_by_id", "checked_by_id", "approved_by_id", "issue_date", "withdrawn_at",
        "withdrawal_reason", "pdf", "dcc", "content_hash")),
    CheckedEntity(CertificateStandard, ("certificate_id", "standard_id", "calibration_id",
                                        "standard_certificate_id", "used_at")),
    CheckedEntity(ResultPosting, ("certificate_id", "idempotency_key", "request_hash",
                                  "actor")),
    # Points are inserted in bulk without reading their ids back: named by posting and seq.
    CheckedEntity(ResultPoint, ("certificate_id", "seq", "table_title", "quantity", "unit",
                                "range_label", "nominal", "reference_value", "measured_value",
                                "expanded_uncertainty", "coverage_factor",
                                "coverage_probability", "lower_limit", "upper_limit"),
                  key=("posting_id", "seq")),
    CheckedEntity(CertificateFlag, ("certificate_id", "standard_id", "status_change_id",
                                    "depth")),
)
_BY_MODEL = {e.model: e for e in CHECKED}
_BY_TABLE = {e.name: e for e in CHECKED}


def _digest(value: Any) -> str:
    data = value if isinstance(value, bytes) else str(value).encode()
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _canon(value: Any) -> Any:
    """A column's value as recorded in an event and compared (JSON-safe, one form per value)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, enum.Enum):
        return _canon(value.value)
    if isinstance(value, Decimal | float):
        return str(value)
    if isinstance(value, datetime):
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes | memoryview | bytearray):
        return _digest(bytes(value))
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _row_values(entity: CheckedEntity, row: Any) -> dict[str, Any]:
    return {c: (_digest(row[c]) if c in entity.secret and row[c] is not None
                else _canon(row[c])) for c in entity.columns}


def _values_digest(values: dict[str, Any] | None) -> str | None:
    if values is None:
        return None
    return hashlib.sha256(json.dumps(values, sort_keys=True, separators=(",", ":"),
                                     ensure_ascii=False).encode()).hexdigest()


# --- noting the rows a transaction writes -------------------------------------------------

_TOUCHED = "labctl.audit.touched"


def _touched(session: OrmSession) -> set[tuple[str, str]]:
    return cast(set[tuple[str, str]], session.info.setdefault(_TOUCHED, set()))


@sa_event.listens_for(OrmSession, "after_flush")
def _note_flushed(session: OrmSession, _context: Any) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        entity = _BY_MODEL.get(type(obj))
        if entity is not None:
            _touched(session).add((entity.name, entity.key_of(obj)))


@sa_event.listens_for(OrmSession, "do_orm_execute")
def _note_statement(state: Any) -> None:
    """Rows written by statements rather than by flushed objects: an ``INSERT`` carrying the
    key values, an ``UPDATE`` or ``DELETE`` (the rows its WHERE matches, read just before)."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    entity = _BY_TABLE.get(table.name) if isinstance(table, sa.Table) else None
    if entity is None:
        return
    if state.is_insert:
        params = state.parameters
        for values in params if isinstance(params, list) else [params or {}]:
            if all(c in values for c in entity.key):
                _touched(state.session).add((entity.name, entity.key_of(values)))
        return
    keys = sa.select(*[entity.table.c[c] for c in entity.key])
    if state.statement.whereclause is not None:
        keys = keys.where(state.statement.whereclause)
    for row in state.session.execute(keys).mappings():
        _touched(state.session).add((entity.name, entity.key_of(dict(row))))


@sa_event.listens_for(OrmSession, "after_commit")
@sa_event.listens_for(OrmSession, "after_rollback")
def _forget(session: OrmSession) -> None:
    session.info.pop(_TOUCHED, None)


def _key_clause(entity: CheckedEntity, keys: list[str]) -> Any:
    cols = [entity.table.c[c] for c in entity.key]
    if len(cols) == 1:
        return cols[0].in_([int(k) for k in keys])
    return sa.tuple_(*cols).in_([tuple(int(p) for p in k.split("/")) for k in keys])


def _snapshot(session: Session, touched: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """``{table: {key: values or None}}`` of the noted rows as they are now in the database."""
    by_table: dict[str, list[str]] = {}
    for table, key in touched:
        by_table.setdefault(table, []).append(key)
    out: dict[str, dict[str, Any]] = {}
    for table, keys in sorted(by_table.items()):
        entity = _BY_TABLE[table]
        found: dict[str, Any] = dict.fromkeys(sorted(keys))
        cols = [entity.table.c[c] for c in dict.fromkeys((*entity.key, *entity.columns))]
        for i in range(0, len(keys), 500):
            for row in session.execute(sa.select(*cols).where(
                    _key_clause(entity, keys[i:i + 500]))).mappings():
                found[entity.key_of(dict(row))] = _row_values(entity, row)
        out[table] = found
    return out


# --- the platform's audit key -------------------------------------------------------------

@dataclass(frozen=True)
class _Sealer:
    identity: SigningIdentity
    checkpoint_every: int


_KEYS: weakref.WeakKeyDictionary[Any, _Sealer] = weakref.WeakKeyDictionary()


def audit_identity(keys_dir: str | Path, *, create: bool = True) -> SigningIdentity:
    """The platform's audit key and certificate in ``keys_dir`` (made on first use)."""
    store = LaboratoryKeyStore(keys_dir)
    if create:
        return store.get_or_create(AUDIT_KEY_NAME, "labctl platform audit trail")
    return store.get(AUDIT_KEY_NAME)


def audit_certificate(keys_dir: str | Path | None) -> x509.Certificate | None:
    """The audit key's certificate in ``keys_dir``, if there (the private key is not needed:
    an auditor checks seals and checkpoints with a directory holding only the certificate)."""
    if keys_dir is None:
        return None
    path = Path(keys_dir) / f"{AUDIT_KEY_NAME}.cert.pem"
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ValidationError("audit certificate", str(path), f"a readable PEM ({exc})") from None


def use_key(engine: sa.Engine, keys_dir: str | Path, *,
            checkpoint_every: int = CHECKPOINT_EVERY) -> SigningIdentity:
    """Seal the events written through ``engine`` (and its read view) with the audit key,
    and sign a checkpoint in the transaction of every ``checkpoint_every``-th event."""
    if checkpoint_every < 1:
        raise ValidationError("checkpoint_every", checkpoint_every, "an integer >= 1")
    identity = audit_identity(keys_dir)
    _KEYS[engine.pool] = _Sealer(identity, checkpoint_every)
    return identity


def _sealer_for(session: Session) -> _Sealer | None:
    bind = session.get_bind()
    pool = getattr(bind, "pool", None)
    return _KEYS.get(pool) if pool is not None else None


def _sign(identity: SigningIdentity, data: bytes) -> str:
    return base64.b64encode(identity.private_key.sign(data, ec.ECDSA(hashes.SHA256()))).decode()


def _signature_holds(certificate: x509.Certificate, signature: str, data: bytes) -> bool:
    key = certificate.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return False
    try:
        key.verify(base64.b64decode(signature, validate=True), data, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


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
    touched = session.info.pop(_TOUCHED, None)
    if touched:
        payload["rows"] = _snapshot(session, touched)
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    head = session.exec(
        select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)  # type: ignore[union-attr]
    ).first()
    event = AuditEvent(
        at=utcnow(), actor=actor, organisation_id=organisation_id, action=action,
        entity_type=entity_type, entity_id=str(entity_id), reason=reason,
        data=_json_safe(payload), prev_hash=head or GENESIS, hash="",
    )
    event.hash = event_hash(event)
    sealer = _sealer_for(session)
    if sealer is not None:
        event.seal = _sign(sealer.identity, event.hash.encode())
    session.add(event)
    session.flush()
    session.info.pop(_TOUCHED, None)  # the event row itself is not a checked row
    assert event.id is not None
    if sealer is not None and event.id % sealer.checkpoint_every == 0:
        _add_checkpoint(session, sealer.identity, head_id=event.id, head_hash=event.hash,
                        created_by="system:interval")
    return event


# --- checking the chain and its seals ------------------------------------------------------


def _events(session: Session, batch: int = 2000) -> Iterator[AuditEvent]:
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


def verify_chain(session: Session, *, batch: int = 5000) -> AuditVerification:
    """Recompute every hash in order; report the first event that does not match."""
    prev = GENESIS
    count = 0
    last_id: int | None = None
    for ev in _events(session, batch):
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
    for ev in _events(session):
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
        if not _signature_holds(certificate, ev.seal, ev.hash.encode()):
            problems.append(f"event {ev.id} ({ev.action} by {ev.actor}): its seal does not "
                            "match its hash (forged or re-hashed)")
        if len(problems) >= MAX_FINDINGS:
            break
    return unsealed, problems


# --- checking the rows ----------------------------------------------------------------------


def check_rows(session: Session) -> tuple[int, list[RowFinding], int]:
    """``(rows checked, findings, findings not listed)``: every row of every checked table
    against the last event that wrote it."""
    expected: dict[str, dict[str, tuple[str | None, int]]] = {e.name: {} for e in CHECKED}
    for ev in _events(session):
        assert ev.id is not None
        for table, rows in (ev.data.get("rows") or {}).items():
            if table in expected and isinstance(rows, dict):
                for key, values in rows.items():
                    expected[table][key] = (_values_digest(values), ev.id)
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
        cols = [entity.table.c[c] for c in dict.fromkeys((*entity.key, *entity.columns))]
        order = [entity.table.c[c] for c in entity.key]
        result = session.execute(sa.select(*cols).order_by(*order)
                                 .execution_options(yield_per=2000))
        for row in result.mappings():
            checked += 1
            key = entity.key_of(dict(row))
            values = _row_values(entity, row)
            digest, event_id = want.pop(key, (None, 0))
            if event_id == 0:
                add(RowFinding(table=entity.name, key=key, problem="unexplained",
                               row_value=values))
            elif digest is None:
                add(RowFinding(table=entity.name, key=key, problem="resurrected",
                               row_value=values, event_id=event_id))
            elif digest != _values_digest(values):
                said = _recorded(session, event_id, entity.name, key) or {}
                for column in entity.columns:
                    if said.get(column) != values[column]:
                        add(RowFinding(table=entity.name, key=key, problem="differs",
                                       column=column, row_value=values[column],
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


# --- checkpoints ----------------------------------------------------------------------------


def _checkpoint_payload(*, head_id: int, head_hash: str, events: int, at: datetime) -> bytes:
    return json.dumps({"format": CHECKPOINT_FORMAT, "head_id": head_id, "head_hash": head_hash,
                       "events": events, "at": _canon(at)},
                      sort_keys=True, separators=(",", ":")).encode()


def _add_checkpoint(session: Session, identity: SigningIdentity, *, head_id: int,
                    head_hash: str, created_by: str, events: int | None = None
                    ) -> AuditCheckpoint:
    if events is None:
        events = session.execute(sa.select(sa.func.count()).select_from(AuditEvent)
                                 .where(col(AuditEvent.id) <= head_id)).scalar_one()
    at = utcnow()
    payload = _checkpoint_payload(head_id=head_id, head_hash=head_hash, events=events, at=at)
    row = AuditCheckpoint(
        at=at, head_id=head_id, head_hash=head_hash, events=events,
        signature=_sign(identity, payload), signer_fingerprint=identity.fingerprint,
        signer_certificate=identity.certificate_pem.decode(), created_by=created_by)
    session.add(row)
    session.flush()
    return row


def make_checkpoint(session: Session, identity: SigningIdentity, *,
                    created_by: str = "system:cli") -> AuditCheckpoint:
    """Sign the chain's current head now (the chain must verify first) and store it."""
    chain = verify_chain(session)
    if not chain.ok or chain.head_id is None:
        raise ValidationError("audit chain", chain.problem or "empty",
                              "an intact, non-empty chain (a checkpoint vouches for it)")
    row = _add_checkpoint(session, identity, head_id=chain.head_id, head_hash=chain.head_hash,
                          events=chain.events, created_by=created_by)
    session.commit()
    return row


def checkpoint_json(row: AuditCheckpoint) -> dict[str, Any]:
    """The exportable form of a checkpoint: keep it somewhere the database's users cannot
    write (a file, a printout, an e-mail to the quality manager)."""
    return {"format": CHECKPOINT_FORMAT, "head_id": row.head_id, "head_hash": row.head_hash,
            "events": row.events, "at": _canon(row.at), "signature": row.signature,
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
    payload = _checkpoint_payload(head_id=cp.head_id, head_hash=cp.head_hash,
                                  events=cp.events, at=cp.at)
    if not _signature_holds(cert, cp.signature, payload):
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


# --- everything at once ---------------------------------------------------------------------


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


# --- one certificate against its audit record (public verification) ------------------------

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
                ev.seal is None or not _signature_holds(trusted, ev.seal, ev.hash.encode())):
            return False, (f"audit event {ev.id} about this certificate is not sealed by the "
                           "platform's audit key (forged?)")
    snapshots = [(ev, rows[str(cert.id)]) for ev in events
                 if str(cert.id) in (rows := (ev.data.get("rows") or {}).get("certificate") or {})]
    row = session.execute(sa.select(*[Certificate.__table__.c[c]  # type: ignore[attr-defined]
                                      for c in _PUBLIC_COLUMNS])
                          .where(Certificate.__table__.c.id == cert.id)  # type: ignore[attr-defined]
                          ).mappings().one()
    now = {c: _canon(row[c]) for c in _PUBLIC_COLUMNS}
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


# --- adopting rows written before the cross-check -------------------------------------------


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
    unknown = wanted - set(_BY_TABLE)
    if unknown:
        raise ValidationError("tables", sorted(unknown), ", ".join(sorted(_BY_TABLE)))
    known: dict[str, set[str]] = {e.name: set() for e in CHECKED}
    done: set[str] = set()
    for ev in _events(session):
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
            _touched(session).update((entity.name, k) for k in chunk)
            record(session, actor=actor, action="audit.baseline", entity_type="audit",
                   entity_id=entity.name, reason=reason, data={"adopted": len(chunk)})
        adopted[entity.name] = len(keys)
    session.commit()
    return adopted
