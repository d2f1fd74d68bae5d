"""Certificates (one row per revision), the standards they used, their result points, the
idempotency records of result postings and the flags raised by reverse traceability."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator, model_validator
from pydantic import Field as PField
from sqlmodel import Field, SQLModel

from labctl import errors
from labctl.platform.models.base import (
    MAX_TEXT,
    CertificateStatus,
    Coefficient,
    DecisionRule,
    NonNegativeCoefficient,
    PastDate,
    PastTime,
    Text,
    Uncertainty,
    UnitSymbol,
    Value,
    check_relative_u,
    decimal_field,
    str_field,
    upper_limit_paired,
    utc_field,
)
from labctl.platform.models.org import CODE_PATTERN
from labctl.platform.models.registry import IDENT_PATTERN

Dec = Decimal


class Certificate(SQLModel, table=True):
    """One revision of a calibration certificate (ISO/IEC 17025 7.8).

    ``number`` is ``<LAB CODE>-<year>-<sequence>``: unique per laboratory and, because laboratory
    codes are unique, across the platform, so the public verification URL needs only the number.
    """

    __tablename__ = "certificate"
    __table_args__ = (sa.UniqueConstraint("number", "revision"),)
    id: int | None = Field(default=None, primary_key=True)
    number: str = str_field(64, index=True)
    revision: int = 0
    organisation_id: int = Field(foreign_key="organisation.id", index=True)  # the laboratory
    status: str = str_field(16, default=CertificateStatus.DRAFT, index=True)
    replaces_id: int | None = Field(default=None, foreign_key="certificate.id")
    amendment_reason: str = str_field(1000, default="")
    customer_organisation_id: int | None = Field(default=None, foreign_key="organisation.id")
    customer_name: str = str_field(200)
    customer_address: str = str_field(500, default="")
    item_standard_id: int | None = Field(default=None, foreign_key="standard.id", index=True)
    item_description: str = str_field(300)
    item_manufacturer: str = str_field(100, default="")
    item_model: str = str_field(100, default="")
    item_serial_number: str = str_field(100, default="")
    item_identifier: str = str_field(100, default="")
    quantity: str = str_field(100)  # what the performer must be authorised for
    procedure: str = str_field(100)
    method: str = str_field(300)
    location: str = str_field(300)
    calibration_begin: datetime = utc_field()
    calibration_end: datetime = utc_field()
    receipt_date: date | None = None
    decision_rule: str = str_field(16, default="")
    conditions: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    statements: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    performed_by_id: int = Field(foreign_key="user_account.id")
    checked_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    approved_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    checked_at: datetime | None = utc_field(nullable=True, default=None)
    issued_at: datetime | None = utc_field(nullable=True, default=None)
    issue_date: date | None = None
    withdrawn_at: datetime | None = utc_field(nullable=True, default=None)
    withdrawal_reason: str = str_field(1000, default="")
    pdf: bytes | None = Field(default=None, sa_type=sa.LargeBinary, nullable=True)
    dcc: bytes | None = Field(default=None, sa_type=sa.LargeBinary, nullable=True)
    content_hash: str = str_field(100, default="")
    created_by: str = str_field(100)  # actor
    #: every person who performed, posted or discarded results or edited the draft (user
    #: ids): none of them checks or issues it
    contributor_ids: list[int] = Field(default_factory=list, sa_type=sa.JSON)
    created_at: datetime = utc_field(default_now=True)


class CertificateStandard(SQLModel, table=True):
    """A standard used, frozen with the calibration that was valid for it at the time of use."""

    __tablename__ = "certificate_standard"
    __table_args__ = (sa.UniqueConstraint("certificate_id", "standard_id"),)
    id: int | None = Field(default=None, primary_key=True)
    certificate_id: int = Field(foreign_key="certificate.id", index=True)
    standard_id: int = Field(foreign_key="standard.id", index=True)
    calibration_id: int | None = Field(default=None, foreign_key="standard_calibration.id")
    #: The certificate on this platform behind ``calibration_id`` (denormalised: the reverse
    #: traceability walk follows it without a join).
    standard_certificate_id: int | None = Field(
        default=None, foreign_key="certificate.id", index=True
    )
    used_at: datetime = utc_field(index=True)


class ResultPoint(SQLModel, table=True):
    """One measured point as posted (unrounded); reporting rounds it per EA-4/02."""

    __tablename__ = "result_point"
    __table_args__ = (sa.Index("ix_result_point_cert_seq", "certificate_id", "seq"),)
    id: int | None = Field(default=None, primary_key=True)
    certificate_id: int = Field(foreign_key="certificate.id")
    posting_id: int = Field(foreign_key="result_posting.id", index=True)
    seq: int
    table_title: str = str_field(200)
    quantity: str = str_field(100)
    unit: str = str_field(16)
    range_label: str = str_field(100, default="")
    nominal: Decimal = decimal_field()
    reference_value: Decimal = decimal_field()
    measured_value: Decimal = decimal_field()
    expanded_uncertainty: Decimal = decimal_field()
    coverage_factor: Decimal = decimal_field()
    coverage_probability: Decimal = decimal_field()
    lower_limit: Decimal | None = decimal_field(nullable=True, default=None)
    upper_limit: Decimal | None = decimal_field(nullable=True, default=None)
    #: effective degrees of freedom of U (Welch–Satterthwaite); ``None``: infinite
    dof: float | None = Field(default=None, nullable=True)
    #: the uncertainty budget as posted (:class:`BudgetLineIn` in JSON: numbers as exact
    #: decimal strings); ``None``: not posted
    budget: list[dict[str, Any]] | None = Field(default=None, sa_type=sa.JSON(none_as_null=True),
                                                nullable=True)


class ResultPosting(SQLModel, table=True):
    """One idempotent POST of results: the key, a hash of the body and the stored answer."""

    __tablename__ = "result_posting"
    __table_args__ = (sa.UniqueConstraint("certificate_id", "idempotency_key"),)
    id: int | None = Field(default=None, primary_key=True)
    certificate_id: int = Field(foreign_key="certificate.id", index=True)
    idempotency_key: str = str_field(200)
    request_hash: str = str_field(64)
    actor: str = str_field(100)
    created_at: datetime = utc_field(default_now=True)


class CertificateFlag(SQLModel, table=True):
    """A certificate whose traceability passes through a standard found out of tolerance."""

    __tablename__ = "certificate_flag"
    __table_args__ = (sa.UniqueConstraint("certificate_id", "status_change_id"),)
    id: int | None = Field(default=None, primary_key=True)
    certificate_id: int = Field(foreign_key="certificate.id", index=True)
    standard_id: int = Field(foreign_key="standard.id", index=True)
    status_change_id: int = Field(foreign_key="standard_status_change.id")
    depth: int  # 1 = the standard was used directly
    report: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    created_at: datetime = utc_field(default_now=True)


# --- API schemas ---------------------------------------------------------------------------


class ConditionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quantity: str = PField(min_length=1, max_length=64, examples=["temperature"])
    unit: UnitSymbol = PField(examples=["°C"])
    mean: Value
    minimum: Value
    maximum: Value
    uncertainty: Uncertainty | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ConditionIn:
        if not self.minimum <= self.mean <= self.maximum:
            raise errors.ValidationError(
                "mean", str(self.mean), f"between minimum {self.minimum} and maximum {self.maximum}"
            )
        return self


class CertificateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    laboratory_code: str = PField(pattern=CODE_PATTERN)
    customer_name: str = PField(min_length=1, max_length=200)
    customer_address: str = PField(default="", max_length=500)
    customer_code: str | None = PField(
        default=None, pattern=CODE_PATTERN,
        description="The customer's organisation, whose users may read it"
    )
    item_standard: str | None = PField(
        default=None, pattern=IDENT_PATTERN,
        description="Registry identifier, when the item is a registered standard"
    )
    item_description: str = PField(min_length=1, max_length=300)
    item_manufacturer: str = PField(default="", max_length=100)
    item_model: str = PField(default="", max_length=100)
    item_serial_number: str = PField(default="", max_length=100)
    item_identifier: str = PField(default="", max_length=100)
    quantity: str = PField(min_length=1, max_length=100)
    procedure: str = PField(min_length=1, max_length=100)
    method: str = PField(min_length=1, max_length=300)
    location: str = PField(min_length=1, max_length=300)
    calibration_begin: PastTime
    calibration_end: PastTime
    receipt_date: PastDate | None = None
    performed_by: str | None = PField(default=None, min_length=1, max_length=64,
                                      description="Username (default: caller)")
    standards: list[Annotated[str, PField(pattern=IDENT_PATTERN)]] = PField(
        default_factory=list, max_length=50)
    conditions: list[ConditionIn] = PField(default_factory=list, max_length=20)
    decision_rule: DecisionRule | None = None
    statements: list[Text] = PField(default_factory=list, max_length=20,
                                    description=f"At most 20, each at most {MAX_TEXT} "
                                                "characters")


#: The largest effective degrees of freedom stated (beyond, a t-factor equals the normal's to
#: every printed digit: post ``null``, infinite).
MAX_DOF = 1e9
Dof = Annotated[float, PField(gt=0, le=MAX_DOF, allow_inf_nan=False,
                              description=f"Degrees of freedom, > 0 and ≤ {MAX_DOF:.0e}; "
                                          "null: infinite")]
MAX_BUDGET_LINES = 100


class BudgetLineIn(BaseModel):
    """One line of a point's uncertainty budget (GUM 8, EA-4/02 M:2022 clause 7): an input
    quantity, its estimate and standard uncertainty (in ``unit`` when known), the
    distribution assumed, its sensitivity coefficient and its contribution |c·u| in the unit
    of the result, and its degrees of freedom (``null``: infinite)."""

    model_config = ConfigDict(extra="forbid")
    name: str = PField(min_length=1, max_length=100, examples=["V_ind"])
    estimate: Coefficient
    standard_uncertainty: NonNegativeCoefficient
    unit: UnitSymbol | None = PField(default=None, description="Unit of estimate and "
                                                               "standard uncertainty, if known")
    distribution: str = PField(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9 _-]*$",
                               examples=["normal", "rectangular"])
    sensitivity: Coefficient
    contribution: NonNegativeCoefficient
    dof: Dof | None = None


class PointIn(BaseModel):
    """One point as measured: unrounded values, U expanded with its k (same unit)."""

    model_config = ConfigDict(extra="forbid")
    table_title: str = PField(min_length=1, max_length=200, examples=["DC voltage"])
    quantity: str = PField(min_length=1, max_length=100)
    unit: UnitSymbol = PField(examples=["V"])
    range_label: str = PField(default="", max_length=100)
    nominal: Value
    reference_value: Value
    measured_value: Value
    expanded_uncertainty: Uncertainty
    coverage_factor: Dec = PField(default=Dec(2), ge=1, le=10, allow_inf_nan=False,
                                  max_digits=10)
    coverage_probability: Dec = PField(default=Dec("0.95"), gt=0, lt=1, allow_inf_nan=False,
                                       max_digits=10)
    lower_limit: Value | None = PField(default=None,
                                       description="Tolerance on the error (lower)")
    upper_limit: Value | None = PField(default=None, validate_default=True)
    dof: Dof | None = PField(default=None, description="Effective degrees of freedom of U; "
                                                       "null: infinite")
    budget: list[BudgetLineIn] | None = PField(
        default=None, max_length=MAX_BUDGET_LINES,
        description=f"The uncertainty budget, at most {MAX_BUDGET_LINES} lines")

    @field_validator("expanded_uncertainty")
    @classmethod
    def _relative_u(cls, U: Dec, info: ValidationInfo) -> Dec:
        check_relative_u(U, *(info.data.get(k) for k in ("nominal", "reference_value",
                                                          "measured_value")))
        return U

    _limits = field_validator("upper_limit")(upper_limit_paired)


class ResultsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    points: list[PointIn] = PField(min_length=1, max_length=1000)


class PointPublic(BaseModel):
    """A reported point: rounded per EA-4/02 (value to the decimal place of U), as text."""

    seq: int
    table_title: str
    quantity: str
    unit: str
    range_label: str
    nominal: str
    reference_value: str
    measured_value: str
    error: str
    expanded_uncertainty: str
    coverage_factor: str
    coverage_probability: str
    lower_limit: str | None
    upper_limit: str | None
    conformity: str | None


class ResultsPosted(BaseModel):
    certificate_number: str
    revision: int
    idempotency_key: str
    points: list[PointPublic]


class StandardUsedPublic(BaseModel):
    identifier: str
    description: str
    certificate_number: str | None
    certificate_issuer: str | None
    calibrated_on: date | None
    due_date: date | None


class CertificateSummary(BaseModel):
    """One certificate revision in a list (``GET /certificates``): enough to find it and see
    where it stands, and who is already on it (the two- and three-person rules)."""

    number: str
    revision: int
    status: CertificateStatus
    laboratory_code: str
    customer_name: str
    item_description: str
    item_serial_number: str
    quantity: str
    procedure: str
    calibration_end: datetime
    issue_date: date | None
    performed_by: str
    contributors: list[str] = PField(description="Everyone who performed, posted or edited")
    checked_by: str | None
    approved_by: str | None
    flagged: bool = PField(description="A standard in its chain was found out of tolerance")


class CertificatePublic(BaseModel):
    number: str
    revision: int
    status: CertificateStatus
    laboratory_code: str
    customer_name: str
    customer_address: str = ""
    item_description: str
    item_manufacturer: str = ""
    item_model: str = ""
    item_serial_number: str
    item_identifier: str = ""
    item_standard: str | None
    receipt_date: date | None = None
    quantity: str
    procedure: str
    method: str
    location: str
    calibration_begin: datetime
    calibration_end: datetime
    issue_date: date | None
    performed_by: str
    checked_by: str | None
    approved_by: str | None
    decision_rule: DecisionRule | None
    standards: list[StandardUsedPublic]
    conditions: list[dict[str, Any]]
    statements: list[str]
    points: list[PointPublic]
    replaces: str | None
    amendment_reason: str
    withdrawal_reason: str
    content_hash: str
    flags: list[dict[str, Any]]


class CertificateUpdate(BaseModel):
    """Changes to a draft (e.g. what an amendment corrects); omitted fields stay as they are.

    ``reason`` is recorded in the audit trail (and, for an amendment, says what changed).
    """

    model_config = ConfigDict(extra="forbid")
    reason: str = PField(min_length=1, max_length=1000)
    customer_name: str | None = PField(default=None, min_length=1, max_length=200)
    customer_address: str | None = PField(default=None, max_length=500)
    item_description: str | None = PField(default=None, min_length=1, max_length=300)
    item_manufacturer: str | None = PField(default=None, max_length=100)
    item_model: str | None = PField(default=None, max_length=100)
    item_serial_number: str | None = PField(default=None, max_length=100)
    item_identifier: str | None = PField(default=None, max_length=100)
    method: str | None = PField(default=None, min_length=1, max_length=300)
    location: str | None = PField(default=None, min_length=1, max_length=300)
    receipt_date: PastDate | None = None
    decision_rule: DecisionRule | None = None
    conditions: list[ConditionIn] | None = PField(default=None, max_length=20)
    statements: list[Text] | None = PField(default=None, max_length=20)


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = PField(min_length=1, max_length=1000)


class Verification(BaseModel):
    number: str
    revision: int
    status: CertificateStatus
    laboratory: str
    issue_date: date | None
    content_hash: str
    signature_valid: bool
    signature_detail: str
    #: False when a later revision replaced this one, it was withdrawn, its record does not
    #: match the audit trail, or a standard in its chain was found out of tolerance (``flags``)
    current: bool
    audit_consistent: bool = True  # status, content hash and DCC as the audit trail recorded
    audit_detail: str = ""
    flags: list[str] = []  # why the certificate is under review (out-of-tolerance standards)
