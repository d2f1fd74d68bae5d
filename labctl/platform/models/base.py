"""Column helpers and enumerations shared by the platform tables."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

import pydantic
import sqlalchemy as sa
from pydantic import AfterValidator, StringConstraints, ValidationInfo, WithJsonSchema
from pydantic import Field as PField
from pydantic_core import PydanticCustomError
from sqlmodel import Field

from labctl import errors
from labctl.platform.db import DecimalText, UTCDateTime, utcnow
from labctl.uncertainty import DecisionRule as _DecisionRule
from labctl.units import BY_SYMBOL


def decimal_field(*, nullable: bool = False, **kwargs: Any) -> Any:
    """An exact decimal column (stored as text, see :class:`~labctl.platform.db.DecimalText`)."""
    return Field(sa_type=DecimalText, nullable=nullable, **kwargs)


def utc_field(*, nullable: bool = False, default_now: bool = False, **kwargs: Any) -> Any:
    """A timezone-aware UTC datetime column."""
    if default_now:
        kwargs["default_factory"] = utcnow
    return Field(sa_type=UTCDateTime, nullable=nullable, **kwargs)


def str_field(length: int, **kwargs: Any) -> Any:
    return Field(sa_type=sa.String(length), **kwargs)


def as_float(d: Decimal | None) -> float | None:
    """The float shadow of an exact value, used only for indexed range comparisons."""
    return None if d is None else float(d)


class OrgLevel(StrEnum):
    """Where an organisation sits in the national metrology hierarchy."""

    NATIONAL = "national"  # national metrology institute: holds the primary standards
    PROVINCIAL = "provincial"
    LOCAL = "local"
    INDUSTRY = "industry"


LEVEL_RANK = {OrgLevel.NATIONAL: 0, OrgLevel.PROVINCIAL: 1, OrgLevel.LOCAL: 2,
              OrgLevel.INDUSTRY: 2}


class Role(StrEnum):
    """What a person may do within one organisation (ISO/IEC 17025 6.2.5, 6.2.6)."""

    ADMIN = "admin"  # organisations below, users, roles, authorisations, stations
    DATA_ENTRY = "data_entry"  # enters registry entries (standards, CMCs)
    REVIEWER = "reviewer"  # reviews and publishes registry entries; quarantines standards
    TECHNICIAN = "technician"  # performs calibrations, drafts certificates, posts results
    CHECKER = "checker"  # checks a drafted certificate
    APPROVER = "approver"  # authorised signatory: issues, amends, withdraws
    CUSTOMER = "customer"  # reads the certificates issued to their organisation


class StandardKind(StrEnum):
    NATIONAL_PRIMARY = "national_primary"
    REFERENCE = "reference"
    WORKING = "working"
    CHECK = "check"
    DEVICE_UNDER_CALIBRATION = "device_under_calibration"


class StandardStatus(StrEnum):
    IN_SERVICE = "in_service"
    QUARANTINED = "quarantined"
    #: a check signalled (a run rule, a failed En): still usable, the runner warns
    UNDER_INVESTIGATION = "under_investigation"
    OUT_OF_TOLERANCE = "out_of_tolerance"
    RETIRED = "retired"


class ReviewState(StrEnum):
    """Registry entries go draft → submitted → published; entered and reviewed by two people."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    PUBLISHED = "published"
    REJECTED = "rejected"  # an external calibration a reviewer refused (kept for the record)


class CertificateStatus(StrEnum):
    DRAFT = "draft"
    CHECKED = "checked"
    ISSUED = "issued"
    SUPERSEDED = "superseded"  # an amendment (a later revision) replaced it
    WITHDRAWN = "withdrawn"


#: Decision rules for statements of conformity are the uncertainty engine's (ILAC-G8:09/2019).
DecisionRule = _DecisionRule


# --- bounds on input ----------------------------------------------------------------------
#
# What the platform accepts as a measured value, an uncertainty, a date, a free text or a key
# used in a URL. The API models and the domain's own input models use these types, so a value
# is refused (HTTP 422, by field, with what is allowed) before anything is written, and what
# is stored can always be reported: EA-4/02 rounding quantizes a value to the decimal place of
# its U in 28-digit decimal arithmetic, which values beyond these bounds overflow.

#: Significant digits of a value: a binary double (what a bench computes in) shows at most 17,
#: so any value a station posts is taken exactly; no calibration states more.
MAX_SIGNIFICANT_DIGITS = 17
#: Magnitudes in SI units (V, Ω, A, s, Pa, K, m, kg, ...): from femto to peta.
MAX_MAGNITUDE = Decimal("1e15")
MIN_MAGNITUDE = Decimal("1e-15")
#: The smallest relative expanded uncertainty accepted (1 part in 10^12, finer than the best
#: realisations of the units this platform calibrates in): below that, U is a typing error.
MIN_RELATIVE_U = Decimal("1e-12")
#: How far ahead of the server's clock a time of measurement may lie (clocks drift).
CLOCK_SKEW = timedelta(minutes=5)
#: Dates (not times) may be a day ahead of UTC: a laboratory east of Greenwich is.
DATE_SKEW = timedelta(days=1)
#: No record of this platform predates this.
EARLIEST_DATE = date(1950, 1, 1)
#: The longest calibration interval or validity (a due date at most this after its start).
MAX_VALIDITY = timedelta(days=3653)  # ten years
#: Free text: a statement, remark or reason (a page of text at most).
MAX_TEXT = 2000
#: Keys that appear in URLs (idempotency keys, run ids): URL-safe, no "/" or "..".
KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,199}$"
KEY_ALLOWED = ("1 … 200 ASCII characters of A-Z a-z 0-9 . _ ~ -, starting with a letter or "
               "digit")


def _significant_digits(d: Decimal) -> int:
    digits = d.as_tuple().digits
    stripped = "".join(map(str, digits)).lstrip("0").rstrip("0")
    return max(len(stripped), 1)


def _value_allowed(what: str = "a value") -> str:
    return (f"{what}: finite, at most {MAX_SIGNIFICANT_DIGITS} significant digits, 0 or "
            f"{MIN_MAGNITUDE:.0e} ≤ |value| ≤ {MAX_MAGNITUDE:.0e} (SI units)")


VALUE_ALLOWED = _value_allowed()
U_ALLOWED = (f"an expanded uncertainty: finite, > 0, at most {MAX_SIGNIFICANT_DIGITS} "
             f"significant digits, {MIN_MAGNITUDE:.0e} ≤ U ≤ {MAX_MAGNITUDE:.0e} (SI units)")


def _refuse(kind: str, message: str, value: Any, allowed: str) -> PydanticCustomError:
    return PydanticCustomError(kind, message + " (allowed: {allowed})",
                               {"allowed": allowed, "value": str(value)})


def bounded_value(v: Decimal) -> Decimal:
    """A measured, nominal or limit value within :data:`VALUE_ALLOWED` (zero made plain)."""
    if not v.is_finite():
        raise _refuse("value_not_finite", "the value is not finite", v, VALUE_ALLOWED)
    if v == 0:
        return Decimal(0)
    if _significant_digits(v) > MAX_SIGNIFICANT_DIGITS:
        raise _refuse("value_too_many_digits", "the value has more significant digits than "
                      "any measurement carries", v, VALUE_ALLOWED)
    if not MIN_MAGNITUDE <= abs(v) <= MAX_MAGNITUDE:
        raise _refuse("value_out_of_bounds", "the value's magnitude is out of bounds", v,
                      VALUE_ALLOWED)
    return v


def bounded_uncertainty(v: Decimal) -> Decimal:
    """An expanded uncertainty within :data:`U_ALLOWED`."""
    if not v.is_finite() or v <= 0:
        raise _refuse("uncertainty_not_positive", "an expanded uncertainty is finite and > 0",
                      v, U_ALLOWED)
    if _significant_digits(v) > MAX_SIGNIFICANT_DIGITS or \
            not MIN_MAGNITUDE <= v <= MAX_MAGNITUDE:
        raise _refuse("uncertainty_out_of_bounds", "the expanded uncertainty is out of bounds",
                      v, U_ALLOWED)
    return v


def bounded_relative(v: Decimal) -> Decimal:
    """A relative (dimensionless) uncertainty or error of a registry entry: |v| < 1."""
    bounded_value(v)
    if abs(v) >= 1:
        raise _refuse("relative_out_of_bounds", "a relative value is a fraction (5 µV/V is "
                      "0.000005)", v, "|value| < 1, " + VALUE_ALLOWED)
    return v


def check_relative_u(u_expanded: Decimal, *values: Decimal | None) -> None:
    """U may not be finer than :data:`MIN_RELATIVE_U` of the largest of ``values`` (called
    from a validator: it raises pydantic's error)."""
    scale = max((abs(v) for v in values if v is not None), default=Decimal(0))
    if u_expanded < MIN_RELATIVE_U * scale:
        raise _refuse("uncertainty_relative_too_small",
                      f"U is finer than {MIN_RELATIVE_U:.0e} of the point's value {scale}",
                      u_expanded,
                      f"U ≥ {MIN_RELATIVE_U:.0e} × {scale} = {MIN_RELATIVE_U * scale:.3e}")


def _now() -> datetime:
    return datetime.now(UTC)


def past_time(v: datetime) -> datetime:
    """A time of something done: not in the future (beyond clock skew), not before
    :data:`EARLIEST_DATE`. A time without its zone passes here: the service that takes it
    refuses it, naming its field."""
    if v.tzinfo is None or v.utcoffset() is None:
        return v
    latest = _now() + CLOCK_SKEW
    if v > latest or v.date() < EARLIEST_DATE:
        raise _refuse("time_out_of_bounds", "a time of measurement is not in the future",
                      v.isoformat(), f"{EARLIEST_DATE.isoformat()} … now (+{CLOCK_SKEW})")
    return v


def past_date(v: date) -> date:
    """A date of something done (calibrated, received, valid from): not in the future."""
    latest = _now().date() + DATE_SKEW
    if not EARLIEST_DATE <= v <= latest:
        raise _refuse("date_out_of_bounds", "a date of something done is not in the future",
                      v.isoformat(), f"{EARLIEST_DATE.isoformat()} … {latest.isoformat()}")
    return v


def check_validity(start: date, end: date, *, field: str = "due_date") -> None:
    """``end`` (a due date, the end of a validity) after ``start``, at most ten years on
    (called from a validator: it raises pydantic's error)."""
    if not start < end <= start + MAX_VALIDITY:
        raise _refuse("validity_out_of_bounds", f"{field} is after its start, at most ten "
                      "years on", end.isoformat(),
                      f"{(start + timedelta(days=1)).isoformat()} … "
                      f"{(start + MAX_VALIDITY).isoformat()}")


def upper_limit_paired(upper: Any, info: ValidationInfo) -> Any:
    """Validator of a model's ``upper_limit`` (declared after ``lower_limit``): see
    :func:`check_limits`; nothing to pair when the lower limit was refused already."""
    if "lower_limit" in info.data:
        check_limits(info.data["lower_limit"], upper)
    return upper


def check_limits(lower: Any, upper: Any) -> None:
    """A tolerance's two limits: both or neither, the upper at least the lower (called from
    a validator: it raises pydantic's error)."""
    if (lower is None) != (upper is None):
        raise PydanticCustomError("limits_paired", "both limits or neither "
                                  "(lower_limit={lower})", {"lower": str(lower)})
    if lower is not None and upper is not None and lower > upper:
        raise PydanticCustomError("limits_ordered", "upper_limit is at least lower_limit "
                                  "({lower})", {"lower": str(lower)})


COEFFICIENT_ALLOWED = (f"finite, at most {MAX_SIGNIFICANT_DIGITS} significant digits, "
                       f"|value| ≤ {MAX_MAGNITUDE:.0e}")


def bounded_coefficient(v: Decimal) -> Decimal:
    """A number of an uncertainty budget (estimate, u, sensitivity, contribution): as a
    value, but with no smallest magnitude (a fitted offset of 1e-18 is a small number, not
    a typing error)."""
    if not v.is_finite() or _significant_digits(v) > MAX_SIGNIFICANT_DIGITS \
            or abs(v) > MAX_MAGNITUDE:
        raise _refuse("coefficient_out_of_bounds", "the number is out of bounds", v,
                      COEFFICIENT_ALLOWED)
    return Decimal(0) if v == 0 else v


Value = Annotated[Decimal, AfterValidator(bounded_value)]
"""A measured / nominal / reference value or a limit (see :data:`VALUE_ALLOWED`)."""
Uncertainty = Annotated[Decimal, AfterValidator(bounded_uncertainty)]
"""An expanded uncertainty, > 0 (see :data:`U_ALLOWED`)."""
NonNegativeValue = Annotated[Decimal, PField(ge=0), AfterValidator(bounded_value)]
Coefficient = Annotated[Decimal, AfterValidator(bounded_coefficient)]
"""A number of an uncertainty budget (see :data:`COEFFICIENT_ALLOWED`)."""
NonNegativeCoefficient = Annotated[Decimal, PField(ge=0), AfterValidator(bounded_coefficient)]
Relative = Annotated[Decimal, AfterValidator(bounded_relative)]
NonNegativeRelative = Annotated[Decimal, PField(ge=0), AfterValidator(bounded_relative)]
PastTime = Annotated[datetime, AfterValidator(past_time)]
PastDate = Annotated[date, AfterValidator(past_date)]
Key = Annotated[str, StringConstraints(pattern=KEY_PATTERN)]
"""A key that appears in a URL (idempotency key, run id): see :data:`KEY_ALLOWED`."""
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT)]
"""One free-text statement or remark."""


def unit_symbol(symbol: str) -> str:
    """A unit from labctl's table (:mod:`labctl.units`): what a certificate and its DCC (D-SI)
    can state."""
    if symbol not in BY_SYMBOL:
        raise _refuse("unit_unknown", "a unit the certificate and the DCC can state", symbol,
                      "one of " + ", ".join(sorted(BY_SYMBOL)))
    return symbol


UnitSymbol = Annotated[str, AfterValidator(unit_symbol),
                      WithJsonSchema({"type": "string", "enum": sorted(BY_SYMBOL)})]
"""A unit from labctl's table, listed as such in the OpenAPI schema."""


def check_key(field: str, value: str) -> str:
    """``value`` as a key that appears in URLs (see :data:`KEY_ALLOWED`), for service calls
    that take one outside a pydantic model (a header)."""
    if re.fullmatch(KEY_PATTERN, value) is None:
        raise errors.ValidationError(field, value, KEY_ALLOWED)
    return value


@contextmanager
def refused_as(prefix: str) -> Iterator[None]:
    """Inside: a pydantic model refusing a value (a domain object built from data that did not
    come through an API model) becomes labctl's :class:`~labctl.errors.ValidationError`
    naming the field under ``prefix``, so it is answered 422 and never 500."""
    try:
        yield
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join([prefix, *(str(part) for part in first["loc"])])
        allowed = first.get("ctx", {}).get("allowed") or first["msg"]
        raise errors.ValidationError(field, first.get("input"), str(allowed)) from None


def request_digest(body: pydantic.BaseModel | dict[str, Any]) -> str:
    """SHA-256 of a request body as JSON with sorted keys: what an idempotency key is bound
    to (a retry with the same key and another body is refused)."""
    if isinstance(body, pydantic.BaseModel):
        body = body.model_dump(mode="json")
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
