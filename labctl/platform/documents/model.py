"""What a calibration certificate says, as plain frozen data (ISO/IEC 17025:2017 7.8).

Numbers that are printed are ``decimal.Decimal`` already rounded by the caller per EA-4/02 /
ILAC-P14 (value to the decimal place of U, U to at most two significant digits), so rendering
never shows binary-float artefacts and the PDF and the DCC state the same digits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal


@dataclass(frozen=True)
class Party:
    """A laboratory or a customer."""

    name: str
    address: str = ""  # multi-line postal address
    country_code: str = ""  # ISO 3166-1 alpha-2, e.g. "DE"
    identifier: str = ""  # accreditation number (laboratory) or customer number
    email: str = ""


@dataclass(frozen=True)
class Item:
    """The item calibrated (ISO/IEC 17025 7.8.2.1 e)."""

    description: str  # e.g. "Digital multimeter"
    manufacturer: str
    model: str
    serial_number: str
    identifier: str = ""  # the customer's asset number
    condition_on_receipt: str = ""


@dataclass(frozen=True)
class StandardUsed:
    """A measurement standard used, with the certificate valid for it at the time of use."""

    identifier: str  # the registry id
    description: str
    manufacturer: str
    model: str
    serial_number: str
    certificate_number: str
    certificate_issuer: str  # the laboratory that calibrated it
    calibration_date: date | None = None
    due_date: date | None = None


@dataclass(frozen=True)
class Condition:
    """An environmental (influence) condition over the calibration."""

    quantity: str  # "temperature", "relative humidity", "pressure"
    unit: str  # symbol as in labctl.units: "°C", "%", "Pa"
    mean: Decimal
    minimum: Decimal
    maximum: Decimal
    uncertainty: Decimal | None = None  # expanded, k = 2, of the monitoring sensor


@dataclass(frozen=True)
class BudgetLine:
    """One line of a point's uncertainty budget (GUM 8, EA-4/02 M:2022 clause 7), with the
    digits it was posted with: an input quantity's estimate and standard uncertainty (in
    ``unit``, when known), the distribution assumed, the sensitivity coefficient and the
    contribution |c·u| in the unit of the result; ``dof`` ``None``: infinite."""

    name: str
    estimate: Decimal
    standard_uncertainty: Decimal
    distribution: str
    sensitivity: Decimal
    contribution: Decimal
    unit: str | None = None
    dof: Decimal | None = None


@dataclass(frozen=True)
class ResultPoint:
    """One calibration point (a row of a results table)."""

    quantity: str  # e.g. "DC voltage"
    unit: str  # symbol, e.g. "V"
    nominal: Decimal  # the applied / set value as named on the certificate
    reference_value: Decimal  # the conventional true value from the standard
    measured_value: Decimal  # the indication of the item
    error: Decimal  # measured - reference
    expanded_uncertainty: Decimal  # U, same unit, same decimal place as error
    coverage_factor: Decimal  # k
    coverage_probability: Decimal  # e.g. Decimal("0.95")
    range_label: str = ""  # e.g. "10 V range"
    lower_limit: Decimal | None = None  # tolerance on the error, if a statement of conformity
    upper_limit: Decimal | None = None
    conformity: str | None = None  # "pass", "conditional pass", "conditional fail", "fail"
    #: effective degrees of freedom of U (Welch–Satterthwaite); ``None``: infinite or not
    #: stated (stated as infinite when the point has a budget)
    dof: Decimal | None = None
    budget: tuple[BudgetLine, ...] = ()


@dataclass(frozen=True)
class ResultTable:
    """A titled group of points (e.g. "DC voltage, as found")."""

    title: str
    points: tuple[ResultPoint, ...]
    note: str = ""


@dataclass(frozen=True)
class Signatory:
    """A person who performed, checked or approved (authorised signatory) the calibration."""

    name: str
    role: str  # "performed by", "checked by", "approved by"
    signed_at: datetime | None = None


@dataclass(frozen=True)
class CertificateDocument:
    """Everything printed on one revision of a calibration certificate."""

    number: str  # unique per laboratory, e.g. "LAB1-2026-000123"
    revision: int  # 0 for the first issue; amendments count up (ISO/IEC 17025 7.8.8)
    laboratory: Party
    customer: Party
    item: Item
    method: str  # procedure id, version and a one-line description
    calibration_begin: datetime
    calibration_end: datetime
    issue_date: date
    location: str  # where the calibration was performed
    results: tuple[ResultTable, ...]
    conditions: tuple[Condition, ...]
    standards: tuple[StandardUsed, ...]
    signatories: tuple[Signatory, ...]
    verification_url: str  # opened by the QR code
    traceability_statement: str
    decision_rule: str = ""  # stated when a statement of conformity is made (ILAC-G8)
    statements: tuple[str, ...] = ()  # remarks, opinions, conformity summary
    title: str = "Calibration Certificate"
    receipt_date: date | None = None
    replaces: str | None = None  # "<number> rev <n>" of the revision this one replaces
    amendment_reason: str = ""
    language: str = "en"
    extra: dict[str, str] = field(default_factory=dict)  # free administrative key/values
    # Added for the DCC (coreData/performanceLocation): laboratory, customer,
    # laboratoryBranch, customerBranch or other; ``location`` keeps the free-text place.
    performance_location: str = "laboratory"
