"""The tables whose rows the audit events must explain (:data:`CHECKED`) and the noting of
every checked row a transaction writes, through the ORM or by statement, so that
:func:`~labctl.platform.audit.trail.record` can store them with the event."""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, SQLModel

from labctl.platform import models


@dataclass(frozen=True)
class CheckedEntity:
    """A table whose rows must each be explained by the audit event that last wrote them.

    ``columns``: what is compared (the security-relevant content); ``key``: the columns that
    name a row (its primary key, or a natural key when rows are inserted in bulk without
    reading ids back); ``secret``: columns compared and recorded only as SHA-256 digests.
    Byte columns (documents) are always recorded as digests. ``added``: columns checked since
    a later schema version, part of a row's values only when set, so the events written
    before them still explain their rows (an unset added column was not there to record).
    """

    model: type[SQLModel]
    columns: tuple[str, ...]
    key: tuple[str, ...] = ("id",)
    secret: frozenset[str] = field(default_factory=frozenset)
    added: tuple[str, ...] = ()

    @property
    def table(self) -> sa.Table:
        return cast(sa.Table, self.model.__table__)  # type: ignore[attr-defined]

    @property
    def read_columns(self) -> list[str]:
        """Key, checked and added columns, each once: what is read of a row to check it."""
        return list(dict.fromkeys((*self.key, *self.columns, *self.added)))

    @property
    def name(self) -> str:
        return self.table.name

    def key_of(self, values: Any) -> str:
        get = values.get if isinstance(values, dict) else (lambda c: getattr(values, c))
        return "/".join(str(get(c)) for c in self.key)


#: The checked tables. Add one line to check another (e.g. a new account table).
CHECKED: tuple[CheckedEntity, ...] = (
    CheckedEntity(models.Organisation, (
        "code", "name", "level", "parent_id")),
    CheckedEntity(models.User, (
        "username", "full_name", "password_hash", "is_active", "is_superuser"),
        secret=frozenset({"password_hash"})),
    CheckedEntity(models.Membership, (
        "user_id", "organisation_id", "role")),
    CheckedEntity(models.Authorisation, (
        "user_id", "organisation_id", "quantity", "procedure", "valid_from",
        "valid_until")),
    CheckedEntity(models.Station, (
        "organisation_id", "name")),
    CheckedEntity(models.ApiToken, (
        "token_hash", "user_id", "station_id", "expires_at", "revoked_at"),
        secret=frozenset({"token_hash"})),
    CheckedEntity(models.Standard, (
        "identifier", "organisation_id", "kind", "quantity", "unit", "range_min",
        "range_max", "uncertainty_relative", "uncertainty_absolute", "status", "due_date",
        "current_calibration_id", "review_state", "calibration_interval_days"),
        added=("restrictions",)),
    CheckedEntity(models.StandardCalibration, (
        "standard_id", "certificate_id", "certificate_number", "issuer", "calibrated_on",
        "due_date")),
    CheckedEntity(models.StandardStatusChange, (
        "standard_id", "status", "effective_at", "error_absolute", "error_relative")),
    CheckedEntity(models.StandardCorrection, (
        "standard_id", "nominal", "correction", "uncertainty", "valid_from",
        "superseded_at")),
    CheckedEntity(models.Capability, (
        "organisation_id", "quantity", "unit", "range_min", "range_max",
        "uncertainty_relative", "uncertainty_absolute", "review_state")),
    CheckedEntity(models.Certificate, (
        "number", "revision", "organisation_id", "status", "replaces_id",
        "customer_organisation_id", "customer_name", "customer_address",
        "item_standard_id", "item_description", "item_manufacturer", "item_model",
        "item_serial_number", "item_identifier", "quantity", "procedure", "method",
        "location", "calibration_begin", "calibration_end", "decision_rule", "conditions",
        "statements", "performed_by_id", "checked_by_id", "approved_by_id", "issue_date",
        "withdrawn_at", "withdrawal_reason", "pdf", "dcc", "content_hash")),
    CheckedEntity(models.CertificateStandard, (
        "certificate_id", "standard_id", "calibration_id", "standard_certificate_id",
        "used_at")),
    CheckedEntity(models.ResultPosting, (
        "certificate_id", "idempotency_key", "request_hash", "actor")),
    # Points are inserted in bulk without reading their ids back: named by posting and seq.
    CheckedEntity(models.ResultPoint, (
        "certificate_id", "seq", "table_title", "quantity", "unit", "range_label",
        "nominal", "reference_value", "measured_value", "expanded_uncertainty",
        "coverage_factor", "coverage_probability", "lower_limit", "upper_limit"),
        key=("posting_id", "seq"), added=("dof", "budget")),
    CheckedEntity(models.CertificateFlag, (
        "certificate_id", "standard_id", "status_change_id", "depth")),
    # the service desk: who booked, quoted, received, performed; what was agreed and rated
    CheckedEntity(models.ServiceOrder, (
        "kind", "status", "laboratory_id", "customer_organisation_id", "capability_id",
        "item_description", "item_manufacturer", "item_model", "item_serial_number",
        "quantity", "unit", "range_min", "range_max", "preferred_date", "customer_name",
        "customer_address", "quote_amount", "quote_currency", "quote_valid_until",
        "payment_reference", "received_on", "condition_on_receipt", "certificate_number",
        "answer", "end_reason", "created_by_id", "quoted_by_id", "accepted_by_id",
        "payment_by_id", "received_by_id", "started_by_id", "linked_by_id",
        "completed_by_id")),
    CheckedEntity(models.OrderEvent, (
        "order_id", "step", "status", "at", "by_id", "note")),
    CheckedEntity(models.Complaint, (
        "laboratory_id", "customer_organisation_id", "order_id", "status", "subject",
        "description", "filed_by_id", "handler_id", "assigned_by_id", "answer",
        "answered_at", "closed_at")),
    CheckedEntity(models.ComplaintEvent, (
        "complaint_id", "step", "status", "at", "by_id", "note")),
    # intermediate checks and the events they open (quality control)
    CheckedEntity(models.CheckResult, (
        "standard_id", "organisation_id", "point_key", "nominal", "unit", "value", "u",
        "measured_at", "run_id", "procedure", "station_id", "recorded_by")),
    CheckedEntity(models.QualityEvent, (
        "standard_id", "organisation_id", "kind", "point_key", "rules", "check_ids",
        "opened_at", "opened_by", "opened_by_id", "status", "standard_status",
        "status_change_id", "closed_at", "closed_by_id", "verification")),
    CheckedEntity(models.Notice, (
        "organisation_id", "recipient_id", "email", "kind", "subject", "body",
        "standard_ids", "day", "dedupe_key", "sent_at", "attempts", "last_error")),
    CheckedEntity(models.Evaluation, (
        "order_id", "laboratory_id", "customer_organisation_id", "by_id", "fit",
        "competence", "timeliness", "satisfaction", "effectiveness", "fit_comment",
        "competence_comment", "timeliness_comment", "satisfaction_comment",
        "effectiveness_comment", "comment")),
    # the primary-standards ledger: each record and component as its last event wrote it
    CheckedEntity(models.PrimaryStandardProfile, (
        "standard_id", "domain", "status", "self_reliance", "risk_notes", "actions",
        "created_by_id", "updated_by_id")),
    CheckedEntity(models.PrimaryStandardComponent, (
        "profile_id", "name", "role", "origin", "supplier", "supplier_country",
        "domestic_alternative", "notes")),
    # comparisons: what was compared, each participant's result, who entered and published
    CheckedEntity(models.Comparison, (
        "identifier", "kind", "title", "quantity", "measurand", "nominal_value", "unit",
        "pilot_id", "status", "reference_method", "assigned_value", "assigned_u", "sigma_pt",
        "en_limit", "created_by_id", "published_by_id", "published_at")),
    CheckedEntity(models.ComparisonResult, (
        "comparison_id", "participant_id", "standard_id", "value", "u", "dof",
        "coverage_factor", "reported_at", "entered_by_id")),
    # agents' benches: which station a bench's run requests go to
    CheckedEntity(models.Bench, (
        "name", "laboratory_id", "station_id", "roles")),
)


BY_MODEL = {e.model: e for e in CHECKED}


BY_TABLE = {e.name: e for e in CHECKED}


def _digest(value: Any) -> str:
    data = value if isinstance(value, bytes) else str(value).encode()
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canon(value: Any) -> Any:
    """A column's value as recorded in an event and compared (JSON-safe, one form per value)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, enum.Enum):
        return canon(value.value)
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


def row_values(entity: CheckedEntity, row: Any) -> dict[str, Any]:
    values = {c: (_digest(row[c]) if c in entity.secret and row[c] is not None
                  else canon(row[c])) for c in entity.columns}
    values.update({c: canon(row[c]) for c in entity.added if row[c] is not None})
    return values


def values_digest(values: dict[str, Any] | None) -> str | None:
    if values is None:
        return None
    return hashlib.sha256(json.dumps(values, sort_keys=True, separators=(",", ":"),
                                     ensure_ascii=False).encode()).hexdigest()


TOUCHED_KEY = "labctl.audit.touched"


def touched_rows(session: OrmSession) -> set[tuple[str, str]]:
    return cast(set[tuple[str, str]], session.info.setdefault(TOUCHED_KEY, set()))


@sa_event.listens_for(OrmSession, "after_flush")
def _note_flushed(session: OrmSession, _context: Any) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        entity = BY_MODEL.get(type(obj))
        if entity is not None:
            touched_rows(session).add((entity.name, entity.key_of(obj)))


@sa_event.listens_for(OrmSession, "do_orm_execute")
def _note_statement(state: Any) -> None:
    """Rows written by statements rather than by flushed objects: an ``INSERT`` carrying the
    key values, an ``UPDATE`` or ``DELETE`` (the rows its WHERE matches, read just before)."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    entity = BY_TABLE.get(table.name) if isinstance(table, sa.Table) else None
    if entity is None:
        return
    if state.is_insert:
        params = state.parameters
        for values in params if isinstance(params, list) else [params or {}]:
            if all(c in values for c in entity.key):
                touched_rows(state.session).add((entity.name, entity.key_of(values)))
        return
    keys = sa.select(*[entity.table.c[c] for c in entity.key])
    if state.statement.whereclause is not None:
        keys = keys.where(state.statement.whereclause)
    for row in state.session.execute(keys).mappings():
        touched_rows(state.session).add((entity.name, entity.key_of(dict(row))))


@sa_event.listens_for(OrmSession, "after_commit")
@sa_event.listens_for(OrmSession, "after_rollback")
def _forget(session: OrmSession) -> None:
    session.info.pop(TOUCHED_KEY, None)


def _key_clause(entity: CheckedEntity, keys: list[str]) -> Any:
    cols = [entity.table.c[c] for c in entity.key]
    if len(cols) == 1:
        return cols[0].in_([int(k) for k in keys])
    return sa.tuple_(*cols).in_([tuple(int(p) for p in k.split("/")) for k in keys])


def snapshot_rows(session: Session, touched: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """``{table: {key: values or None}}`` of the noted rows as they are now in the database."""
    by_table: dict[str, list[str]] = {}
    for table, key in touched:
        by_table.setdefault(table, []).append(key)
    out: dict[str, dict[str, Any]] = {}
    for table, keys in sorted(by_table.items()):
        entity = BY_TABLE[table]
        found: dict[str, Any] = dict.fromkeys(sorted(keys))
        cols = [entity.table.c[c] for c in entity.read_columns]
        for i in range(0, len(keys), 500):
            for row in session.execute(sa.select(*cols).where(
                    _key_clause(entity, keys[i:i + 500]))).mappings():
                found[entity.key_of(dict(row))] = row_values(entity, row)
        out[table] = found
    return out
