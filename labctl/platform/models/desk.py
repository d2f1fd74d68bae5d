"""The service desk: orders (a booked calibration or a request for information), their steps,
complaints with theirs, and evaluations of completed orders; tables and API schemas.

Each step of an order or a complaint is a row of its own (``order_event``,
``complaint_event``: the step, when, by whom, a note and the step's data), so the customer
and the laboratory read the same dated history; the order or complaint row carries the
current state and the people each rule later asks about (who quoted, received, performed).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import AfterValidator, BaseModel, ConfigDict, model_validator
from pydantic import Field as PField
from pydantic_core import PydanticCustomError
from sqlmodel import Field, SQLModel

from labctl.platform.models.base import (
    MAX_TEXT,
    Key,
    Text,
    Value,
    decimal_field,
    str_field,
    utc_field,
)
from labctl.platform.models.org import CODE_PATTERN
from labctl.platform.models.registry import Page

# --- enumerations -----------------------------------------------------------------------


class OrderKind(StrEnum):
    """What is booked. "Information is free; physical services carry a quote": a
    ``calibration`` (an item is sent in and calibrated) needs an accepted quote and the
    payment before the laboratory takes the item in; an ``information`` request (a question
    about a capability, a method, a result) is answered without quote or payment."""

    CALIBRATION = "calibration"
    INFORMATION = "information"


class OrderStatus(StrEnum):
    """Where an order stands. A calibration goes requested → quoted → confirmed →
    payment_received → item_received → in_progress → completed; an information request goes
    requested → completed (answered). Either may end cancelled or rejected, with a reason."""

    REQUESTED = "requested"
    QUOTED = "quoted"
    CONFIRMED = "confirmed"  # the customer accepted the quote
    PAYMENT_RECEIVED = "payment_received"
    ITEM_RECEIVED = "item_received"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"  # the laboratory declined the request


#: Where an order ends: nothing changes it after these.
ORDER_FINAL = frozenset({OrderStatus.COMPLETED, OrderStatus.CANCELLED, OrderStatus.REJECTED})


class OrderStep(StrEnum):
    """One step of an order's history (``order_event.step``)."""

    REQUESTED = "requested"
    QUOTED = "quoted"
    ACCEPTED = "accepted"
    PAYMENT_RECEIVED = "payment_received"
    ITEM_RECEIVED = "item_received"
    STARTED = "started"
    CERTIFICATE_LINKED = "certificate_linked"
    COMPLETED = "completed"
    ANSWERED = "answered"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


class ComplaintStatus(StrEnum):
    """open → under_investigation → answered → closed (ISO/IEC 17025 7.9)."""

    OPEN = "open"
    UNDER_INVESTIGATION = "under_investigation"
    ANSWERED = "answered"
    CLOSED = "closed"


class ComplaintStep(StrEnum):
    FILED = "filed"
    ASSIGNED = "assigned"
    INVESTIGATING = "investigating"
    ANSWERED = "answered"
    CLOSED = "closed"


class Dimension(StrEnum):
    """The five dimensions a customer rates a completed order on (1 poor … 5 excellent)."""

    FIT = "fit"  # fit of the service to the need
    COMPETENCE = "competence"  # technical competence
    TIMELINESS = "timeliness"
    SATISFACTION = "satisfaction"
    EFFECTIVENESS = "effectiveness"  # effectiveness of the result


DIMENSIONS: tuple[Dimension, ...] = tuple(Dimension)


# --- bounds -----------------------------------------------------------------------------

#: The largest quoted amount (in the currency's main unit): a calibration is not dearer.
MAX_AMOUNT = Decimal("1000000000")
AMOUNT_ALLOWED = "a finite amount > 0 and ≤ 1000000000 with at most 2 decimal places"
CURRENCY_PATTERN = r"^[A-Z]{3}$"
#: A quote is valid at most this many days (a price list changes at least yearly).
MAX_QUOTE_DAYS = 366


def bounded_amount(v: Decimal) -> Decimal:
    """A quoted price: > 0, ≤ :data:`MAX_AMOUNT`, to the cent."""
    if not v.is_finite() or v <= 0 or v > MAX_AMOUNT or \
            v.as_tuple().exponent < -2:  # type: ignore[operator]
        raise PydanticCustomError("amount_out_of_bounds", "the amount is out of bounds "
                                  "(allowed: {allowed})",
                                  {"allowed": AMOUNT_ALLOWED, "value": str(v)})
    return v


Amount = Annotated[Decimal, AfterValidator(bounded_amount)]
Score = Annotated[int, PField(ge=1, le=5, description="1 (poor) … 5 (excellent)")]
Comment = Annotated[str, PField(default="", max_length=1000)]
Line = Annotated[str, PField(max_length=100)]


# --- tables -----------------------------------------------------------------------------


class ServiceOrder(SQLModel, table=True):
    """One booking by a customer organisation with a laboratory: a calibration of an item
    against one of the laboratory's published CMCs, or a request for information."""

    __tablename__ = "service_order"
    __table_args__ = (sa.UniqueConstraint("created_by_id", "idempotency_key"),
                      sa.Index("ix_service_order_queue", "laboratory_id", "status"))
    id: int | None = Field(default=None, primary_key=True)
    kind: str = str_field(16)  # OrderKind
    status: str = str_field(24, default=OrderStatus.REQUESTED)  # OrderStatus
    laboratory_id: int = Field(foreign_key="organisation.id")
    customer_organisation_id: int = Field(foreign_key="organisation.id", index=True)
    capability_id: int | None = Field(default=None, foreign_key="capability.id")
    # what is to be calibrated (or asked about)
    item_description: str = str_field(300, default="")
    item_manufacturer: str = str_field(100, default="")
    item_model: str = str_field(100, default="")
    item_serial_number: str = str_field(100, default="")
    quantity: str = str_field(100, default="")
    unit: str = str_field(16, default="")
    range_min: Decimal | None = decimal_field(nullable=True, default=None)
    range_max: Decimal | None = decimal_field(nullable=True, default=None)
    preferred_date: date | None = None
    notes: str = str_field(MAX_TEXT, default="")
    customer_name: str = str_field(200)
    customer_address: str = str_field(500, default="")
    # the quote (calibrations)
    quote_amount: Decimal | None = decimal_field(nullable=True, default=None)
    quote_currency: str = str_field(3, default="")
    quote_valid_until: date | None = None
    quote_note: str = str_field(MAX_TEXT, default="")
    # receipt of the item
    payment_reference: str = str_field(100, default="")
    received_on: date | None = None
    condition_on_receipt: str = str_field(MAX_TEXT, default="")
    # the outcome
    certificate_number: str = str_field(64, default="")
    answer: str = str_field(MAX_TEXT, default="")
    end_reason: str = str_field(1000, default="")  # why it was cancelled or rejected
    # the people each later rule asks about (complaint handlers must be none of them)
    created_by_id: int = Field(foreign_key="user_account.id")
    quoted_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    accepted_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    payment_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    received_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    started_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    linked_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    completed_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    # idempotent booking: the client's key and a hash of what it sent
    idempotency_key: str | None = str_field(200, default=None, nullable=True)
    request_hash: str = str_field(64, default="")
    created_at: datetime = utc_field(default_now=True)
    updated_at: datetime = utc_field(default_now=True)


class OrderEvent(SQLModel, table=True):
    """One dated step of an order, by whom, with its note and data (what the customer and the
    laboratory both see)."""

    __tablename__ = "order_event"
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="service_order.id", index=True)
    step: str = str_field(24)  # OrderStep
    status: str = str_field(24)  # the order's status after the step
    at: datetime = utc_field(default_now=True)
    by_id: int = Field(foreign_key="user_account.id")
    note: str = str_field(MAX_TEXT, default="")
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


class Complaint(SQLModel, table=True):
    """A customer's complaint against an order or a laboratory (ISO/IEC 17025 7.9), handled
    by a person of the laboratory who took no part in the work complained about."""

    __tablename__ = "complaint"
    __table_args__ = (sa.UniqueConstraint("filed_by_id", "idempotency_key"),
                      sa.Index("ix_complaint_queue", "laboratory_id", "status"))
    id: int | None = Field(default=None, primary_key=True)
    laboratory_id: int = Field(foreign_key="organisation.id")
    customer_organisation_id: int = Field(foreign_key="organisation.id", index=True)
    order_id: int | None = Field(default=None, foreign_key="service_order.id", index=True)
    status: str = str_field(24, default=ComplaintStatus.OPEN)  # ComplaintStatus
    subject: str = str_field(200)
    description: str = str_field(MAX_TEXT)
    filed_by_id: int = Field(foreign_key="user_account.id")
    handler_id: int | None = Field(default=None, foreign_key="user_account.id")
    assigned_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    answer: str = str_field(MAX_TEXT, default="")
    answered_at: datetime | None = utc_field(nullable=True, default=None)
    closed_at: datetime | None = utc_field(nullable=True, default=None)
    idempotency_key: str | None = str_field(200, default=None, nullable=True)
    request_hash: str = str_field(64, default="")
    created_at: datetime = utc_field(default_now=True)


class ComplaintEvent(SQLModel, table=True):
    """One dated step of a complaint, by whom, with its note."""

    __tablename__ = "complaint_event"
    id: int | None = Field(default=None, primary_key=True)
    complaint_id: int = Field(foreign_key="complaint.id", index=True)
    step: str = str_field(24)  # ComplaintStep
    status: str = str_field(24)
    at: datetime = utc_field(default_now=True)
    by_id: int = Field(foreign_key="user_account.id")
    note: str = str_field(MAX_TEXT, default="")


class Evaluation(SQLModel, table=True):
    """The customer's rating of a completed order: five dimensions, 1–5, each with an optional
    comment; one per order."""

    __tablename__ = "evaluation"
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="service_order.id", unique=True)
    laboratory_id: int = Field(foreign_key="organisation.id", index=True)
    customer_organisation_id: int = Field(foreign_key="organisation.id")
    by_id: int = Field(foreign_key="user_account.id")
    fit: int
    competence: int
    timeliness: int
    satisfaction: int
    effectiveness: int
    fit_comment: str = str_field(1000, default="")
    competence_comment: str = str_field(1000, default="")
    timeliness_comment: str = str_field(1000, default="")
    satisfaction_comment: str = str_field(1000, default="")
    effectiveness_comment: str = str_field(1000, default="")
    comment: str = str_field(MAX_TEXT, default="")
    created_at: datetime = utc_field(default_now=True)


# --- API schemas: input -----------------------------------------------------------------


class OrderCreate(BaseModel):
    """A booking. A calibration names the CMC (``capability_id``, published) and the item;
    its quantity and unit default to the CMC's and its range must lie within the CMC's. An
    information request names the laboratory (or a CMC) and asks in ``notes``."""

    model_config = ConfigDict(extra="forbid")
    kind: OrderKind = OrderKind.CALIBRATION
    capability_id: int | None = PField(default=None, ge=1, le=2**31 - 1)
    laboratory_code: str | None = PField(default=None, pattern=CODE_PATTERN,
                                         description="Information requests without a CMC")
    customer_code: str | None = PField(
        default=None, pattern=CODE_PATTERN,
        description="The customer organisation (default: the caller's only one)")
    item_description: str = PField(default="", max_length=300)
    item_manufacturer: Line = ""
    item_model: Line = ""
    item_serial_number: Line = ""
    quantity: str = PField(default="", max_length=100)
    unit: str = PField(default="", max_length=16)
    range_min: Value | None = None
    range_max: Value | None = None
    preferred_date: date | None = None
    notes: Text = ""
    customer_address: str | None = PField(
        default=None, max_length=500,
        description="Address for the certificate (default: the organisation's)")

    @model_validator(mode="after")
    def _range_ordered(self) -> OrderCreate:
        if self.range_min is not None and self.range_max is not None and \
                self.range_min > self.range_max:
            raise PydanticCustomError("range_ordered", "range_max is at least range_min "
                                      "({lower})", {"lower": str(self.range_min)})
        return self


class QuoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Amount
    currency: str = PField(pattern=CURRENCY_PATTERN, examples=["CNY"],
                           description="ISO 4217 code")
    valid_until: date = PField(description=f"Today … {MAX_QUOTE_DAYS} days on")
    note: Text = ""


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reference: str = PField(min_length=1, max_length=100,
                            description="The payment's reference (transfer, invoice)")
    note: Text = ""


class ReceiptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    condition: str = PField(min_length=1, max_length=MAX_TEXT,
                            description="Condition of the item on receipt (ISO/IEC 17025 "
                                        "7.4.3)")
    received_on: date | None = PField(default=None, description="Default: today (UTC)")


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Text = ""


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: str = PField(min_length=1, max_length=MAX_TEXT)


class EndIn(BaseModel):
    """Why an order is cancelled or rejected (shown to both sides)."""

    model_config = ConfigDict(extra="forbid")
    reason: str = PField(min_length=1, max_length=1000)


class LinkCertificateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    certificate_number: str = PField(min_length=1, max_length=64)


class ComplaintCreate(BaseModel):
    """A complaint against an order (``order_id``) or a laboratory (``laboratory_code``)."""

    model_config = ConfigDict(extra="forbid")
    order_id: int | None = PField(default=None, ge=1, le=2**31 - 1)
    laboratory_code: str | None = PField(default=None, pattern=CODE_PATTERN)
    customer_code: str | None = PField(default=None, pattern=CODE_PATTERN)
    subject: str = PField(min_length=1, max_length=200)
    description: str = PField(min_length=1, max_length=MAX_TEXT)


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    handler: str = PField(min_length=1, max_length=64, description="Username")
    note: Text = ""


class EvaluationIn(BaseModel):
    """Five ratings, 1 (poor) … 5 (excellent), each with an optional comment."""

    model_config = ConfigDict(extra="forbid")
    fit: Score
    competence: Score
    timeliness: Score
    satisfaction: Score
    effectiveness: Score
    fit_comment: Comment = ""
    competence_comment: Comment = ""
    timeliness_comment: Comment = ""
    satisfaction_comment: Comment = ""
    effectiveness_comment: Comment = ""
    comment: Text = ""


IdempotencyKey = Key


# --- API schemas: output ----------------------------------------------------------------


class StepPublic(BaseModel):
    """One dated step, by whom (username and full name)."""

    step: str
    status: str
    at: datetime
    by: str
    by_name: str
    note: str
    data: dict[str, Any] = {}


class OrderPublic(BaseModel):
    id: int
    kind: OrderKind
    status: OrderStatus
    laboratory_code: str
    laboratory_name: str
    customer_code: str
    customer_name: str
    customer_address: str
    capability_id: int | None
    item_description: str
    item_manufacturer: str
    item_model: str
    item_serial_number: str
    quantity: str
    unit: str
    range_min: str | None
    range_max: str | None
    preferred_date: date | None
    notes: str
    quote_amount: str | None
    quote_currency: str
    quote_valid_until: date | None
    quote_note: str
    payment_reference: str
    received_on: date | None
    condition_on_receipt: str
    certificate_number: str
    answer: str
    end_reason: str
    created_at: datetime
    updated_at: datetime
    evaluated: bool
    steps: list[StepPublic]


class ComplaintPublic(BaseModel):
    id: int
    status: ComplaintStatus
    laboratory_code: str
    laboratory_name: str
    customer_code: str
    order_id: int | None
    subject: str
    description: str
    filed_by: str
    handler: str | None
    handler_name: str | None
    answer: str
    answered_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    steps: list[StepPublic]


class EvaluationPublic(BaseModel):
    order_id: int
    laboratory_code: str
    by: str
    scores: dict[Dimension, int]
    comments: dict[Dimension, str]
    comment: str
    created_at: datetime


class DimensionSummary(BaseModel):
    """One dimension over a laboratory's evaluations: mean (text, two decimals; ``None``
    with none), and how many gave 1, 2, 3, 4, 5 (``distribution[0]`` is the count of 1s)."""

    dimension: Dimension
    mean: str | None
    distribution: list[int]


class LaboratoryRating(BaseModel):
    laboratory_code: str
    laboratory_name: str
    count: int
    dimensions: list[DimensionSummary]


def score_values(data: EvaluationIn) -> dict[Dimension, int]:
    return {d: int(getattr(data, d.value)) for d in DIMENSIONS}


__all__ = ["AMOUNT_ALLOWED", "DIMENSIONS", "ORDER_FINAL", "AnswerIn", "AssignIn", "Complaint",
           "ComplaintCreate", "ComplaintEvent", "ComplaintPublic", "ComplaintStatus",
           "ComplaintStep", "Dimension", "DimensionSummary", "EndIn", "Evaluation",
           "EvaluationIn", "EvaluationPublic", "LaboratoryRating", "LinkCertificateIn",
           "NoteIn", "OrderCreate", "OrderEvent", "OrderKind", "OrderPublic", "OrderStatus",
           "OrderStep", "Page", "PaymentIn", "QuoteIn", "ReceiptIn", "ServiceOrder",
           "StepPublic"]
