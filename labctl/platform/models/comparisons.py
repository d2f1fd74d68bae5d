"""Comparisons: key and supplementary comparisons between national institutes,
interlaboratory comparisons and proficiency tests between laboratories (ISO/IEC 17025 7.7.2,
ISO/IEC 17043); tables and API schemas.

A ``comparison`` states what is measured (quantity, measurand, nominal value and unit), who
pilots it, its state and how its reference value is formed: the weighted mean of the
participants with the largest consistent subset (Cox 2002/2007), or, for a proficiency test,
the provider's assigned value with its standard uncertainty. Each participant's result is a
``comparison_result`` row (value, standard uncertainty u, degrees of freedom, coverage
factor, and the standard it was measured with); one per participant organisation.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

import sqlalchemy as sa
from pydantic import AfterValidator, BaseModel, ConfigDict, model_validator
from pydantic import Field as PField
from pydantic_core import PydanticCustomError
from sqlmodel import Field, SQLModel

from labctl.platform.models.base import (
    MAX_MAGNITUDE,
    MAX_SIGNIFICANT_DIGITS,
    MIN_MAGNITUDE,
    Text,
    UnitSymbol,
    Value,
    _significant_digits,
    decimal_field,
    str_field,
    utc_field,
)
from labctl.platform.models.org import CODE_PATTERN
from labctl.platform.models.registry import Page

# --- enumerations -----------------------------------------------------------------------


class ComparisonKind(StrEnum):
    """What kind of comparison: ``key`` and ``supplementary`` (CIPM MRA, between national
    institutes), ``interlaboratory`` (between laboratories) or ``proficiency_test`` (a
    provider's scheme under ISO/IEC 17043, with an assigned value)."""

    KEY = "key"
    SUPPLEMENTARY = "supplementary"
    INTERLABORATORY = "interlaboratory"
    PROFICIENCY_TEST = "proficiency_test"


class ComparisonStatus(StrEnum):
    """planned → open (results are entered) → closed (no more results) → published (the
    evaluation is public; results are locked)."""

    PLANNED = "planned"
    OPEN = "open"
    CLOSED = "closed"
    PUBLISHED = "published"


#: The states a comparison moves to by hand, from the states before each.
STATUS_FROM: dict[ComparisonStatus, frozenset[ComparisonStatus]] = {
    ComparisonStatus.OPEN: frozenset({ComparisonStatus.PLANNED}),
    ComparisonStatus.CLOSED: frozenset({ComparisonStatus.PLANNED, ComparisonStatus.OPEN}),
}
#: States in which participants' results are entered or replaced.
ENTRY_STATES = frozenset({ComparisonStatus.PLANNED, ComparisonStatus.OPEN})


class ReferenceMethod(StrEnum):
    """How the reference value is formed: the weighted mean of the participants with the
    largest consistent subset (Cox 2002 Procedure A, Cox 2007), or the value assigned by a
    proficiency-test provider with its standard uncertainty."""

    WEIGHTED_MEAN = "weighted_mean"
    ASSIGNED_VALUE = "assigned_value"


# --- bounds -----------------------------------------------------------------------------

IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$"
IDENTIFIER_ALLOWED = ("1 … 64 characters of A-Z a-z 0-9 . _ / -, starting with a letter or "
                      "digit (e.g. CCEM-K4, PT-2026-DCV-01)")
STD_U_ALLOWED = (f"a standard uncertainty: finite, > 0, at most {MAX_SIGNIFICANT_DIGITS} "
                 f"significant digits, {MIN_MAGNITUDE:.0e} ≤ u ≤ {MAX_MAGNITUDE:.0e} "
                 "(the unit of the comparison)")
#: Degrees of freedom of a u: 1 … this, or none (known exactly: infinite).
MAX_DOF = 1_000_000
K_ALLOWED = "a coverage factor: 1 ≤ k ≤ 10, at most 4 decimal places"
EN_LIMIT_ALLOWED = "a decision threshold on |En|: 0 < limit ≤ 10"


def bounded_standard_uncertainty(v: Decimal) -> Decimal:
    """A standard uncertainty u within :data:`STD_U_ALLOWED`."""
    if not v.is_finite() or v <= 0:
        raise PydanticCustomError(
            "uncertainty_not_positive", "a standard uncertainty is finite and > 0 "
            "(allowed: {allowed})", {"allowed": STD_U_ALLOWED, "value": str(v)})
    if _significant_digits(v) > MAX_SIGNIFICANT_DIGITS or \
            not MIN_MAGNITUDE <= v <= MAX_MAGNITUDE:
        raise PydanticCustomError(
            "uncertainty_out_of_bounds", "the standard uncertainty is out of bounds "
            "(allowed: {allowed})", {"allowed": STD_U_ALLOWED, "value": str(v)})
    return v


def bounded_k(v: Decimal) -> Decimal:
    if not v.is_finite() or not Decimal(1) <= v <= Decimal(10) or \
            v.as_tuple().exponent < -4:  # type: ignore[operator]
        raise PydanticCustomError("coverage_factor_out_of_bounds", "the coverage factor is "
                                  "out of bounds (allowed: {allowed})",
                                  {"allowed": K_ALLOWED, "value": str(v)})
    return v


def bounded_en_limit(v: Decimal) -> Decimal:
    if not v.is_finite() or not Decimal(0) < v <= Decimal(10):
        raise PydanticCustomError("en_limit_out_of_bounds", "the |En| threshold is out of "
                                  "bounds (allowed: {allowed})",
                                  {"allowed": EN_LIMIT_ALLOWED, "value": str(v)})
    return v


StandardU = Annotated[Decimal, AfterValidator(bounded_standard_uncertainty)]
"""A standard uncertainty (k = 1), > 0 (see :data:`STD_U_ALLOWED`)."""
CoverageFactor = Annotated[Decimal, AfterValidator(bounded_k)]
EnLimit = Annotated[Decimal, AfterValidator(bounded_en_limit)]
Identifier = Annotated[str, PField(pattern=IDENTIFIER_PATTERN, max_length=64,
                                   examples=["CCEM-K4"])]


# --- tables -----------------------------------------------------------------------------


class Comparison(SQLModel, table=True):
    """One comparison: what is measured, who pilots it, how its reference is formed, its
    state and who created and published it."""

    __tablename__ = "comparison"
    id: int | None = Field(default=None, primary_key=True)
    identifier: str = str_field(64, unique=True, index=True)
    kind: str = str_field(24)  # ComparisonKind
    title: str = str_field(300, default="")
    quantity: str = str_field(100)
    measurand: str = str_field(2000, default="")
    nominal_value: Decimal = decimal_field()
    unit: str = str_field(16)
    pilot_id: int = Field(foreign_key="organisation.id", index=True)
    status: str = str_field(16, default=ComparisonStatus.OPEN)  # ComparisonStatus
    reference_method: str = str_field(24)  # ReferenceMethod
    # the provider's assigned value of a proficiency test (reference_method assigned_value)
    assigned_value: Decimal | None = decimal_field(nullable=True, default=None)
    assigned_u: Decimal | None = decimal_field(nullable=True, default=None)
    # the standard deviation for proficiency assessment (z scores), when the scheme sets one
    sigma_pt: Decimal | None = decimal_field(nullable=True, default=None)
    en_limit: Decimal = decimal_field(default=Decimal(1))
    created_by_id: int = Field(foreign_key="user_account.id")
    created_at: datetime = utc_field(default_now=True)
    published_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    published_at: datetime | None = utc_field(nullable=True, default=None)


class ComparisonResult(SQLModel, table=True):
    """A participant's result: value, standard uncertainty ``u`` (k = 1), degrees of
    freedom of u (None: infinite), the coverage factor of its reported U, the standard it
    was measured with (when the participant holds it on the platform), and who entered it."""

    __tablename__ = "comparison_result"
    __table_args__ = (sa.UniqueConstraint("comparison_id", "participant_id"),)
    id: int | None = Field(default=None, primary_key=True)
    comparison_id: int = Field(foreign_key="comparison.id", index=True)
    participant_id: int = Field(foreign_key="organisation.id", index=True)
    standard_id: int | None = Field(default=None, foreign_key="standard.id", index=True)
    value: Decimal = decimal_field()
    u: Decimal = decimal_field()
    dof: int | None = None
    coverage_factor: Decimal = decimal_field(default=Decimal(2))
    reported_at: datetime = utc_field()
    entered_by_id: int = Field(foreign_key="user_account.id")
    entered_at: datetime = utc_field(default_now=True)


# --- API schemas: input -----------------------------------------------------------------


class ComparisonCreate(BaseModel):
    """A new comparison. A proficiency test with an assigned value gives ``assigned_value``
    and ``assigned_u`` (the provider's standard uncertainty); a weighted-mean comparison
    gives neither."""

    model_config = ConfigDict(extra="forbid")
    identifier: Identifier
    kind: ComparisonKind
    title: str = PField(default="", max_length=300)
    quantity: str = PField(min_length=1, max_length=100, examples=["DC voltage"])
    measurand: Text = ""
    nominal_value: Value
    unit: UnitSymbol
    pilot_code: str = PField(pattern=CODE_PATTERN, description="The pilot organisation")
    status: ComparisonStatus = PField(default=ComparisonStatus.OPEN,
                                      description="planned or open")
    reference_method: ReferenceMethod = ReferenceMethod.WEIGHTED_MEAN
    assigned_value: Value | None = None
    assigned_u: StandardU | None = None
    sigma_pt: StandardU | None = PField(default=None, description="σ_pt for z scores")
    en_limit: EnLimit = Decimal(1)

    @model_validator(mode="after")
    def _method_consistent(self) -> ComparisonCreate:
        if self.status not in (ComparisonStatus.PLANNED, ComparisonStatus.OPEN):
            raise PydanticCustomError("status_on_create", "a comparison starts planned or "
                                      "open (got {status})", {"status": str(self.status)})
        assigned = self.reference_method is ReferenceMethod.ASSIGNED_VALUE
        if assigned and (self.assigned_value is None or self.assigned_u is None):
            raise PydanticCustomError("assigned_value_missing", "an assigned-value reference "
                                      "needs assigned_value and assigned_u", {})
        if not assigned and (self.assigned_value is not None or self.assigned_u is not None):
            raise PydanticCustomError("assigned_value_unused", "a weighted-mean reference "
                                      "takes no assigned value", {})
        return self


class ResultIn(BaseModel):
    """A participant's result. ``participant_code``: the participant organisation (default:
    the caller's only one); ``standard``: the identifier of the participant's standard it
    was measured with (optional)."""

    model_config = ConfigDict(extra="forbid")
    participant_code: str | None = PField(default=None, pattern=CODE_PATTERN)
    standard: str | None = PField(default=None, min_length=1, max_length=64)
    value: Value
    u: StandardU
    dof: int | None = PField(default=None, ge=1, le=MAX_DOF,
                             description="Degrees of freedom of u (none: infinite)")
    coverage_factor: CoverageFactor = Decimal(2)
    reported_at: datetime | None = PField(default=None, description="Default: now (UTC)")


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: ComparisonStatus = PField(description="open or closed")
    note: Text = ""


class PublishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Text = ""


# --- API schemas: output ----------------------------------------------------------------


class ParticipantPublic(BaseModel):
    """One participant's result and its evaluation (numbers as text, shortest round trip;
    ``en``, ``zeta``, ``z`` are ``None`` where they do not apply)."""

    participant_code: str
    participant_name: str
    standard: str | None
    value: str
    u: str
    dof: int | None
    coverage_factor: str
    U: str
    reported_at: datetime
    contributing: bool
    doe: str | None = None
    u_doe: str | None = None
    U_doe: str | None = None
    en: str | None = None
    zeta: str | None = None
    z: str | None = None
    en_passed: bool | None = None


class EvaluationPublic(BaseModel):
    """The evaluation: reference value and its standard uncertainty, the chi-squared check
    of the results that formed it, the participants left out, and each participant's
    degree of equivalence with its expanded uncertainty (k = 2) and scores."""

    method: ReferenceMethod
    reference_value: str
    reference_u: str
    chi2: str | None
    chi2_dof: int | None
    p_value: str | None
    consistent: bool | None
    first_check_passed: bool | None
    excluded: list[str]
    k: str


class ComparisonPublic(BaseModel):
    identifier: str
    kind: ComparisonKind
    title: str
    quantity: str
    measurand: str
    nominal_value: str
    unit: str
    pilot_code: str
    pilot_name: str
    status: ComparisonStatus
    reference_method: ReferenceMethod
    assigned_value: str | None
    assigned_u: str | None
    sigma_pt: str | None
    en_limit: str
    created_at: datetime
    published_at: datetime | None
    participants: list[ParticipantPublic]
    evaluation: EvaluationPublic | None


class ComparisonSummary(BaseModel):
    identifier: str
    kind: ComparisonKind
    title: str
    quantity: str
    nominal_value: str
    unit: str
    pilot_code: str
    status: ComparisonStatus
    participants: int
    published_at: datetime | None


__all__ = ["ENTRY_STATES", "STATUS_FROM", "Comparison", "ComparisonCreate", "ComparisonKind",
           "ComparisonPublic", "ComparisonResult", "ComparisonStatus", "ComparisonSummary",
           "EvaluationPublic", "Page", "ParticipantPublic", "PublishIn", "ReferenceMethod",
           "ResultIn", "StatusIn"]
