"""service desk: orders and their steps, complaints and theirs, evaluations

``service_order`` (a booked calibration or an information request, its state, quote,
receipt, certificate and the people on each step), ``order_event`` (each step dated, by
whom), ``complaint`` and ``complaint_event``, ``evaluation`` (five scores 1-5, once per
order). New tables only: nothing existing changes. Their rows are checked by the audit trail
(``audit.CHECKED``); a database upgraded to this revision has none to adopt.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "service_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("laboratory_id", sa.Integer(), nullable=False),
        sa.Column("customer_organisation_id", sa.Integer(), nullable=False),
        sa.Column("capability_id", sa.Integer(), nullable=True),
        sa.Column("item_description", sa.String(length=300), nullable=False),
        sa.Column("item_manufacturer", sa.String(length=100), nullable=False),
        sa.Column("item_model", sa.String(length=100), nullable=False),
        sa.Column("item_serial_number", sa.String(length=100), nullable=False),
        sa.Column("quantity", sa.String(length=100), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("range_min", sa.String(length=64), nullable=True),
        sa.Column("range_max", sa.String(length=64), nullable=True),
        sa.Column("preferred_date", sa.Date(), nullable=True),
        sa.Column("notes", sa.String(length=2000), nullable=False),
        sa.Column("customer_name", sa.String(length=200), nullable=False),
        sa.Column("customer_address", sa.String(length=500), nullable=False),
        sa.Column("quote_amount", sa.String(length=64), nullable=True),
        sa.Column("quote_currency", sa.String(length=3), nullable=False),
        sa.Column("quote_valid_until", sa.Date(), nullable=True),
        sa.Column("quote_note", sa.String(length=2000), nullable=False),
        sa.Column("payment_reference", sa.String(length=100), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=True),
        sa.Column("condition_on_receipt", sa.String(length=2000), nullable=False),
        sa.Column("certificate_number", sa.String(length=64), nullable=False),
        sa.Column("answer", sa.String(length=2000), nullable=False),
        sa.Column("end_reason", sa.String(length=1000), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("quoted_by_id", sa.Integer(), nullable=True),
        sa.Column("accepted_by_id", sa.Integer(), nullable=True),
        sa.Column("payment_by_id", sa.Integer(), nullable=True),
        sa.Column("received_by_id", sa.Integer(), nullable=True),
        sa.Column("started_by_id", sa.Integer(), nullable=True),
        sa.Column("linked_by_id", sa.Integer(), nullable=True),
        sa.Column("completed_by_id", sa.Integer(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["accepted_by_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["capability_id"], ["capability.id"]),
        sa.ForeignKeyConstraint(["completed_by_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["created_by_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["customer_organisation_id"], ["organisation.id"]),
        sa.ForeignKeyConstraint(["laboratory_id"], ["organisation.id"]),
        sa.ForeignKeyConstraint(["linked_by_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["payment_by_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["quoted_by_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["received_by_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["started_by_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("created_by_id", "idempotency_key")
    )
    op.create_index(op.f("ix_service_order_customer_organisation_id"), "service_order",
                    ["customer_organisation_id"])
    op.create_index("ix_service_order_queue", "service_order",
                    ["laboratory_id", "status"])
    op.create_table(
        "complaint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("laboratory_id", sa.Integer(), nullable=False),
        sa.Column("customer_organisation_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("filed_by_id", sa.Integer(), nullable=False),
        sa.Column("handler_id", sa.Integer(), nullable=True),
        sa.Column("assigned_by_id", sa.Integer(), nullable=True),
        sa.Column("answer", sa.String(length=2000), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["assigned_by_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["customer_organisation_id"], ["organisation.id"]),
        sa.ForeignKeyConstraint(["filed_by_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["handler_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["laboratory_id"], ["organisation.id"]),
        sa.ForeignKeyConstraint(["order_id"], ["service_order.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("filed_by_id", "idempotency_key")
    )
    op.create_index(op.f("ix_complaint_customer_organisation_id"), "complaint",
                    ["customer_organisation_id"])
    op.create_index(op.f("ix_complaint_order_id"), "complaint",
                    ["order_id"])
    op.create_index("ix_complaint_queue", "complaint",
                    ["laboratory_id", "status"])
    op.create_table(
        "evaluation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("laboratory_id", sa.Integer(), nullable=False),
        sa.Column("customer_organisation_id", sa.Integer(), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=False),
        sa.Column("fit", sa.Integer(), nullable=False),
        sa.Column("competence", sa.Integer(), nullable=False),
        sa.Column("timeliness", sa.Integer(), nullable=False),
        sa.Column("satisfaction", sa.Integer(), nullable=False),
        sa.Column("effectiveness", sa.Integer(), nullable=False),
        sa.Column("fit_comment", sa.String(length=1000), nullable=False),
        sa.Column("competence_comment", sa.String(length=1000), nullable=False),
        sa.Column("timeliness_comment", sa.String(length=1000), nullable=False),
        sa.Column("satisfaction_comment", sa.String(length=1000), nullable=False),
        sa.Column("effectiveness_comment", sa.String(length=1000), nullable=False),
        sa.Column("comment", sa.String(length=2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["by_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["customer_organisation_id"], ["organisation.id"]),
        sa.ForeignKeyConstraint(["laboratory_id"], ["organisation.id"]),
        sa.ForeignKeyConstraint(["order_id"], ["service_order.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id")
    )
    op.create_index(op.f("ix_evaluation_laboratory_id"), "evaluation",
                    ["laboratory_id"])
    op.create_table(
        "order_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["by_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["order_id"], ["service_order.id"]),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_order_event_order_id"), "order_event",
                    ["order_id"])
    op.create_table(
        "complaint_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.ForeignKeyConstraint(["by_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["complaint_id"], ["complaint.id"]),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_complaint_event_complaint_id"), "complaint_event",
                    ["complaint_id"])


def downgrade() -> None:
    op.drop_table("complaint_event")
    op.drop_table("order_event")
    op.drop_table("evaluation")
    op.drop_table("complaint")
    op.drop_table("service_order")
