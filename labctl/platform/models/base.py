"""Column helpers and enumerations shared by the platform tables."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from labctl.platform.db import DecimalText, UTCDateTime, utcnow
from labctl.uncertainty import DecisionRule as _DecisionRule


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

DECISION_RULE_TEXT = {
    _DecisionRule.SIMPLE: (
        "Simple acceptance (ILAC-G8:09/2019 4.2.1, guard band w = 0): the item conforms when "
        "the measured error lies within the tolerance limits."
    ),
    _DecisionRule.GUARDED_ACCEPTANCE: (
        "Guarded acceptance (ILAC-G8:09/2019 4.2.2, guard band w = U): the item conforms when "
        "the error lies within the tolerance limits reduced by U."
    ),
    _DecisionRule.GUARDED_REJECTION: (
        "Guarded rejection (ILAC-G8:09/2019 4.2.3, guard band w = U): the item is rejected only "
        "when the error lies beyond the tolerance limits by more than U."
    ),
    _DecisionRule.NON_BINARY: (
        "Non-binary statement (ILAC-G8:09/2019 4.2.3, guard band w = U): pass, conditional "
        "pass, conditional fail or fail according to the error and U relative to the limits."
    ),
}
