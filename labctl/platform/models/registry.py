"""The registry: measurement standards (with their calibration history, status history and
corrections) and calibration and measurement capabilities (CMCs).

Exact values are ``Decimal`` (stored as text); each range/uncertainty also has a float shadow
column (``*_f``) used only for indexed search comparisons. Uncertainties are expanded (k≈2,
95 %) and written as ``U(x) = relative·|x| + absolute`` in the entry's unit, which covers the
usual CMC forms "5 µV/V", "0.5 µV" and "5 µV/V + 0.5 µV".
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Generic, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator, model_validator
from pydantic import Field as PField
from sqlmodel import Field, SQLModel

from labctl import errors
from labctl.platform.models.base import (
    NonNegativeRelative,
    NonNegativeValue,
    PastDate,
    PastTime,
    Relative,
    ReviewState,
    StandardKind,
    StandardStatus,
    Value,
    check_validity,
    decimal_field,
    str_field,
    utc_field,
)
from labctl.platform.models.org import CODE_PATTERN
from labctl.quantities import Quantity

IDENT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,63}$"


def _trigram_index(table: str) -> sa.Index:
    """The free-text index on ``search_text`` (substring search, ``LIKE '%word%'``).

    PostgreSQL: a GIN index of pg_trgm trigrams. SQLite has no such index type; there the
    migration builds an FTS5 trigram table over the same column, kept in step by triggers
    (``labctl.platform.db.SQLITE_FTS``), so this index exists on PostgreSQL only.
    """
    return sa.Index(f"ix_{table}_search_text_trgm", "search_text", postgresql_using="gin",
                    postgresql_ops={"search_text": "gin_trgm_ops"}).ddl_if(dialect="postgresql")


_U = ["uncertainty_relative_f", "uncertainty_absolute_f"]


def _sqlite(index: sa.Index) -> sa.Index:
    """An index of the search on SQLite only: PostgreSQL has its covering form instead."""
    return index.ddl_if(dialect="sqlite")


def _covering(name: str, keys: list[str], include: list[str]) -> sa.Index:
    """A search index on PostgreSQL holding every column the search tests or sorts by
    (``INCLUDE``): pages and capped counts from index-only scans (migration 0015)."""
    return sa.Index(name, *keys, postgresql_include=include).ddl_if(dialect="postgresql")


class RangeColumns(SQLModel):
    """What a registry entry covers: a quantity over a range with its best uncertainty, exact
    (``Decimal``) and as float shadows for the indexed search (shared by standards and CMCs)."""

    domain: str = str_field(64, index=True)  # technical domain, e.g. "electrical DC"
    quantity: str = str_field(100, index=True)  # e.g. "DC voltage"
    unit: str = str_field(16)
    range_min: Decimal = decimal_field()
    range_max: Decimal = decimal_field()
    range_min_f: float
    range_max_f: float
    uncertainty_relative: Decimal = decimal_field(default=Decimal(0))
    uncertainty_absolute: Decimal = decimal_field(default=Decimal(0))
    uncertainty_relative_f: float = 0.0
    uncertainty_absolute_f: float = 0.0


class ReviewColumns(SQLModel):
    """The columns of the two-person review a registry entry goes through before it is public
    (draft → submitted → published, see :mod:`labctl.platform.registry.entries`): its holder,
    its state, who entered and edited it, who published it and when."""

    organisation_id: int = Field(foreign_key="organisation.id", index=True)  # holder
    review_state: str = str_field(16, default=ReviewState.DRAFT)
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    #: every person who entered or edited the content (user ids): none of them reviews it
    contributor_ids: list[int] = Field(default_factory=list, sa_type=sa.JSON)
    reviewed_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    published_at: datetime | None = utc_field(nullable=True, default=None)
    created_at: datetime = utc_field(default_now=True)
    #: lower-cased descriptive text for free-text search (substring match of every word)
    search_text: str = str_field(1000, default="")


class Standard(RangeColumns, ReviewColumns, table=True):
    """A measurement standard or piece of equipment held by an organisation."""

    __tablename__ = "standard"
    __table_args__ = (
        # Public search: the review state is not selective (almost all entries are published),
        # so it leads no index; quantity + range is the usual narrowing filter.
        _sqlite(sa.Index("ix_standard_search", "quantity", "range_min_f", "range_max_f")),
        # domain (+ region through the holder) sorted by uncertainty: walk in order, count
        # from the index alone
        _sqlite(sa.Index("ix_standard_domain_u", "domain", "review_state",
                         "uncertainty_relative_f", "uncertainty_absolute_f", "organisation_id")),
        # the default order: a page of a frequent free-text word walks it and stops early
        _sqlite(sa.Index("ix_standard_by_u", "uncertainty_relative_f", "uncertainty_absolute_f",
                         "identifier")),
        # PostgreSQL: the same, covering (migration 0015), and an organisation's entries in
        # the default order
        _covering("ix_standard_search_cover", ["quantity", "range_min_f"],
                  ["range_max_f", *_U, "review_state", "identifier", "id"]),
        _covering("ix_standard_domain_u_cover", ["domain", "review_state", *_U, "identifier"],
                  ["organisation_id", "id"]),
        _covering("ix_standard_by_u_cover", [*_U, "identifier"],
                  ["review_state", "search_text", "id"]),
        _covering("ix_standard_org_u", ["organisation_id", "review_state", *_U, "identifier"],
                  ["id"]),
        # SQLite: a frequent word's matches, counted from FTS5, checked for publication here
        _sqlite(sa.Index("ix_standard_id_state", "id", "review_state")),
        _trigram_index("standard"),
    )
    id: int | None = Field(default=None, primary_key=True)
    identifier: str = str_field(64, unique=True, index=True)
    kind: str = str_field(32)  # StandardKind
    description: str = str_field(300)
    manufacturer: str = str_field(100, default="")
    model: str = str_field(100, default="")
    serial_number: str = str_field(100, default="")
    accuracy_class: str = str_field(64, default="")
    status: str = str_field(24, default=StandardStatus.IN_SERVICE)
    calibration_interval_days: int = 365
    due_date: date | None = None
    #: limits of use its label and pages state, e.g. "not for use below 1 V" (None: none;
    #: NULL rather than "" so that rows audited before the column existed stay explained)
    restrictions: str | None = str_field(300, nullable=True, default=None)
    current_calibration_id: int | None = None  # standard_calibration.id (no FK: cycle)


class StandardCalibration(SQLModel, table=True):
    """One calibration of a standard: the certificate valid from ``calibrated_on`` to ``due_date``.

    ``certificate_id`` points at a certificate issued on this platform (the chain continues
    there); ``certificate_number``/``issuer`` name it in any case, e.g. a certificate from a
    laboratory outside the platform. National primary standards need none.
    """

    __tablename__ = "standard_calibration"
    id: int | None = Field(default=None, primary_key=True)
    standard_id: int = Field(foreign_key="standard.id", index=True)
    certificate_id: int | None = Field(default=None, foreign_key="certificate.id", index=True)
    certificate_number: str = str_field(64)
    issuer: str = str_field(200)
    calibrated_on: date
    due_date: date
    #: a calibration counts once published: one made on the platform is (its certificate
    #: went through check and issue); one recorded from outside waits in ``submitted`` for a
    #: reviewer other than the person who recorded it (``rejected`` ones are kept)
    review_state: str = str_field(16, default=ReviewState.PUBLISHED)
    recorded_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    reviewed_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = utc_field(default_now=True)


class StandardStatusChange(SQLModel, table=True):
    """A status in force from ``effective_at`` (the history answers "status at time t")."""

    __tablename__ = "standard_status_change"
    id: int | None = Field(default=None, primary_key=True)
    standard_id: int = Field(foreign_key="standard.id", index=True)
    status: str = str_field(24)
    effective_at: datetime = utc_field()
    reason: str = str_field(1000)
    #: For out of tolerance: the standard's actual value minus its assigned value, in its unit,
    #: as ``relative·|x| + absolute``.
    error_absolute: Decimal | None = decimal_field(nullable=True, default=None)
    error_relative: Decimal | None = decimal_field(nullable=True, default=None)
    recorded_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = utc_field(default_now=True)


class StandardCorrection(SQLModel, table=True):
    """A correction to a standard's nominal value at one point; superseded values are kept."""

    __tablename__ = "standard_correction"
    id: int | None = Field(default=None, primary_key=True)
    standard_id: int = Field(foreign_key="standard.id", index=True)
    nominal: Decimal = decimal_field()
    correction: Decimal = decimal_field()
    uncertainty: Decimal = decimal_field()  # expanded, k = 2
    valid_from: date
    superseded_at: datetime | None = utc_field(nullable=True, default=None)
    certificate_number: str = str_field(64, default="")
    created_at: datetime = utc_field(default_now=True)


class Capability(RangeColumns, ReviewColumns, table=True):
    """A calibration and measurement capability (CMC) of a laboratory."""

    __tablename__ = "capability"
    __table_args__ = (
        _sqlite(sa.Index("ix_capability_search", "quantity", "range_min_f", "range_max_f")),
        _sqlite(sa.Index("ix_capability_by_u", "uncertainty_relative_f",
                         "uncertainty_absolute_f", "id")),
        _covering("ix_capability_search_cover", ["quantity", "range_min_f"],
                  ["range_max_f", *_U, "review_state", "id"]),
        _covering("ix_capability_by_u_cover", [*_U, "id"], ["review_state", "search_text"]),
        _sqlite(sa.Index("ix_capability_id_state", "id", "review_state")),
        _trigram_index("capability"),
    )
    id: int | None = Field(default=None, primary_key=True)
    method: str = str_field(300, default="")


# --- API schemas ---------------------------------------------------------------------------

Dec = Decimal


class _Ranged(BaseModel):
    model_config = ConfigDict(extra="forbid")
    domain: str = PField(min_length=1, max_length=64, examples=["electrical DC"])
    quantity: str = PField(
        min_length=1, max_length=100, examples=[Quantity.DC_VOLTAGE.value],
        description="The quantity by name; labctl's procedures find standards, CMCs and "
        "authorisations under the names of labctl.quantities.Quantity (" + ", ".join(
            q.value for q in Quantity) + "). The registry holds other quantities too.")
    unit: str = PField(min_length=1, max_length=16, examples=["V"])
    range_min: Value
    range_max: Value
    uncertainty_relative: NonNegativeRelative = PField(
        default=Dec(0),
        description="Relative expanded uncertainty (k≈2), dimensionless: 5 µV/V is 0.000005",
    )
    uncertainty_absolute: NonNegativeValue = PField(
        default=Dec(0), description="Absolute expanded uncertainty (k≈2) in the unit",
    )

    @model_validator(mode="after")
    def _check_range(self) -> _Ranged:
        if self.range_min > self.range_max:
            raise errors.ValidationError(
                "range_min", str(self.range_min), f"at most range_max={self.range_max}"
            )
        return self


class StandardCreate(_Ranged):
    identifier: str = PField(pattern=IDENT_PATTERN, examples=["NIM-DCV-001"])
    kind: StandardKind
    description: str = PField(min_length=1, max_length=300)
    manufacturer: str = PField(default="", max_length=100)
    model: str = PField(default="", max_length=100)
    serial_number: str = PField(default="", max_length=100)
    accuracy_class: str = PField(default="", max_length=64)
    organisation_code: str = PField(pattern=CODE_PATTERN, description="The holder")
    calibration_interval_days: int = PField(default=365, ge=1, le=3650)
    restrictions: str = PField(
        default="", max_length=300, examples=["not for use below 1 V"],
        description="Limits of use printed on its label and shown on its pages")


class CalibrationPublic(BaseModel):
    id: int
    review_state: ReviewState
    certificate_number: str
    issuer: str
    calibrated_on: date
    due_date: date


class StandardPublic(BaseModel):
    identifier: str
    kind: StandardKind
    description: str
    manufacturer: str
    model: str
    serial_number: str
    domain: str
    quantity: str
    unit: str
    range_min: str
    range_max: str
    uncertainty_relative: str
    uncertainty_absolute: str
    accuracy_class: str
    organisation_code: str
    organisation_name: str
    region: str
    status: StandardStatus
    calibration_interval_days: int
    due_date: date | None
    current_calibration: CalibrationPublic | None
    review_state: ReviewState
    restrictions: str = ""


class CapabilityCreate(_Ranged):
    organisation_code: str = PField(pattern=CODE_PATTERN)
    method: str = PField(default="", max_length=300)


class CapabilityPublic(BaseModel):
    id: int
    organisation_code: str
    organisation_name: str
    region: str
    domain: str
    quantity: str
    unit: str
    range_min: str
    range_max: str
    uncertainty_relative: str
    uncertainty_absolute: str
    method: str
    review_state: ReviewState


class EntryUpdate(BaseModel):
    """Changes to a draft registry entry (standard or CMC); omitted fields stay as they are."""

    model_config = ConfigDict(extra="forbid")
    reason: str = PField(min_length=1, max_length=1000)
    description: str | None = PField(default=None, min_length=1, max_length=300)
    manufacturer: str | None = PField(default=None, max_length=100)
    model: str | None = PField(default=None, max_length=100)
    serial_number: str | None = PField(default=None, max_length=100)
    accuracy_class: str | None = PField(default=None, max_length=64)
    calibration_interval_days: int | None = PField(default=None, ge=1, le=3650)
    restrictions: str | None = PField(
        default=None, max_length=300,
        description="A standard's limits of use (\"\" removes them)")
    method: str | None = PField(default=None, max_length=300)
    range_min: Value | None = None
    range_max: Value | None = None
    uncertainty_relative: NonNegativeRelative | None = None
    uncertainty_absolute: NonNegativeValue | None = None


class ReviewDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approve: bool
    comment: str = PField(default="", max_length=1000)


class StatusChangeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: StandardStatus
    reason: str = PField(min_length=1, max_length=1000)
    effective_at: PastTime | None = PField(
        default=None, description="When the status took effect (default: now); timezone-aware"
    )
    error_absolute: Value | None = PField(
        default=None,
        description="Out of tolerance: actual minus assigned value of the standard, in its unit",
    )
    error_relative: Relative | None = PField(
        default=None,
        description="Out of tolerance: the same error, relative to the value (dimensionless)",
    )
    impact_since: PastTime | None = PField(
        default=None, description="Out of tolerance: flag certificates that used it since "
        "(default: its last calibration, the last time it was known good)")


class ExternalCalibrationCreate(BaseModel):
    """A calibration certificate for a standard issued outside the platform."""

    model_config = ConfigDict(extra="forbid")
    certificate_number: str = PField(min_length=1, max_length=64)
    issuer: str = PField(min_length=1, max_length=200)
    calibrated_on: PastDate
    due_date: date = PField(description="After calibrated_on, at most ten years on")

    @field_validator("due_date")
    @classmethod
    def _bounded_due(cls, due: date, info: ValidationInfo) -> date:
        if "calibrated_on" in info.data:
            check_validity(info.data["calibrated_on"], due)
        return due


class CorrectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    nominal: Value
    correction: Value
    uncertainty: NonNegativeValue
    valid_from: PastDate
    certificate_number: str = PField(default="", max_length=64)


class CorrectionPublic(BaseModel):
    nominal: str
    correction: str
    uncertainty: str
    valid_from: date
    superseded_at: datetime | None
    certificate_number: str


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    #: how many entries match; a search counts at most up to its cap (10 000): beyond it
    #: ``total`` is the cap and ``total_is_lower_bound`` is true ("10000+")
    total: int
    offset: int
    limit: int
    total_is_lower_bound: bool = PField(
        default=False, description="true when more entries match than were counted: `total` "
        "is then a lower bound (the public search counts up to 10 000)")
