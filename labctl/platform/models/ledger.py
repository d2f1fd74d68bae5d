"""The primary-standards ledger: per national primary standard its ledger record (metrology
area, ledger status, self-reliance class, risks and actions under way) and its core
components (origin, supplier, whether a domestic alternative exists); tables and API schemas.

This is the seed of the national institute's self-reliance report: how many of its primary
standards are fully, partly or not self-reliant, or suspended, per metrology area. The history
of each record is the audit trail (:func:`labctl.platform.audit.record`): every create and
update carries the fields it changed with their old and new values.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PField
from sqlmodel import Field, SQLModel

from labctl.platform.models.base import MAX_TEXT, str_field, utc_field


class MetrologyArea(StrEnum):
    """The metrology areas of the BIPM key comparison database (KCDB), one per standard:
    AUV, EM, L, M, PR, QM, RI, T, TF."""

    ACOUSTICS = "acoustics"  # acoustics, ultrasound, vibration (AUV)
    ELECTRICITY_MAGNETISM = "electricity-magnetism"  # EM
    LENGTH = "length"  # L
    MASS = "mass"  # M: mass and related quantities (force, pressure, flow, ...)
    PHOTOMETRY_RADIOMETRY = "photometry-radiometry"  # PR
    CHEMISTRY = "chemistry"  # QM: amount of substance, chemistry and biology
    IONISING_RADIATION = "ionising-radiation"  # RI
    THERMOMETRY = "thermometry"  # T
    TIME_FREQUENCY = "time-frequency"  # TF


AREAS: tuple[MetrologyArea, ...] = tuple(MetrologyArea)


class LedgerStatus(StrEnum):
    """Where a primary standard stands in the ledger (not the registry's calibration status):
    in service, suspended (no longer realises the unit; the report counts it apart), or under
    renovation (being rebuilt, still counted in its self-reliance class)."""

    IN_SERVICE = "in_service"
    SUSPENDED = "suspended"
    UNDER_RENOVATION = "under_renovation"


class SelfReliance(StrEnum):
    """How far the standard can be built, maintained and repaired from domestic sources."""

    FULLY = "fully"
    PARTLY = "partly"
    NOT = "not"


class Origin(StrEnum):
    DOMESTIC = "domestic"
    IMPORTED = "imported"


class Alternative(StrEnum):
    """Whether a domestic alternative to a component exists."""

    YES = "yes"
    NO = "no"
    IN_DEVELOPMENT = "in_development"


Note = Annotated[str, PField(default="", max_length=MAX_TEXT)]
Name = Annotated[str, PField(min_length=1, max_length=200, pattern=r"\S")]
Line = Annotated[str, PField(default="", max_length=200)]
#: ISO 3166-1 alpha-2 code of the supplier's country, or empty when unknown
Country = Annotated[str, PField(default="", pattern=r"^([A-Z]{2})?$")]


# --- tables -----------------------------------------------------------------------------


class PrimaryStandardProfile(SQLModel, table=True):
    """The ledger record of one national primary standard (at most one per standard)."""

    __tablename__ = "primary_standard_profile"
    id: int | None = Field(default=None, primary_key=True)
    standard_id: int = Field(foreign_key="standard.id", unique=True)
    domain: str = str_field(32, index=True)  # MetrologyArea
    status: str = str_field(24, default=LedgerStatus.IN_SERVICE)  # LedgerStatus
    self_reliance: str = str_field(16)  # SelfReliance
    risk_notes: str = str_field(MAX_TEXT, default="")
    actions: str = str_field(MAX_TEXT, default="")  # actions under way
    created_by_id: int = Field(foreign_key="user_account.id")
    updated_by_id: int = Field(foreign_key="user_account.id")
    created_at: datetime = utc_field(default_now=True)
    updated_at: datetime = utc_field(default_now=True)


class PrimaryStandardComponent(SQLModel, table=True):
    """A core component of a primary standard (a laser, a Josephson array, a cryostat, ...)
    with where it comes from."""

    __tablename__ = "primary_standard_component"
    id: int | None = Field(default=None, primary_key=True)
    profile_id: int = Field(foreign_key="primary_standard_profile.id", index=True)
    name: str = str_field(200)
    role: str = str_field(200, default="")  # its function in the standard
    origin: str = str_field(16)  # Origin
    supplier: str = str_field(200, default="")
    supplier_country: str = str_field(2, default="")
    domestic_alternative: str = str_field(16)  # Alternative
    notes: str = str_field(MAX_TEXT, default="")
    created_at: datetime = utc_field(default_now=True)
    updated_at: datetime = utc_field(default_now=True)


#: the columns a profile / component update may change (and its history lists)
PROFILE_FIELDS = ("domain", "status", "self_reliance", "risk_notes", "actions")
COMPONENT_FIELDS = ("name", "role", "origin", "supplier", "supplier_country",
                    "domestic_alternative", "notes")


# --- API schemas ------------------------------------------------------------------------


class ProfileIn(BaseModel):
    """A primary standard's ledger record, as created or replaced (PUT)."""

    model_config = ConfigDict(extra="forbid")
    domain: MetrologyArea
    status: LedgerStatus = LedgerStatus.IN_SERVICE
    self_reliance: SelfReliance
    risk_notes: Note = ""
    actions: Note = ""


class ComponentIn(BaseModel):
    """A core component, as added or replaced (PUT)."""

    model_config = ConfigDict(extra="forbid")
    name: Name
    role: Line = ""
    origin: Origin
    supplier: Line = ""
    supplier_country: Country = ""
    domestic_alternative: Alternative
    notes: Note = ""


class ComponentPublic(BaseModel):
    id: int
    name: str
    role: str
    origin: Origin
    supplier: str
    supplier_country: str
    domestic_alternative: Alternative
    notes: str


class LedgerEntry(BaseModel):
    """One national primary standard in the ledger: the registry's facts (quantity, range,
    CMC-level uncertainty, holder) and its ledger record (``profile``: None until one is
    entered) with its components."""

    identifier: str
    description: str
    organisation_code: str
    organisation_name: str
    quantity: str
    unit: str
    range_min: str
    range_max: str
    uncertainty_relative: str
    uncertainty_absolute: str
    domain: MetrologyArea | None = None
    status: LedgerStatus | None = None
    self_reliance: SelfReliance | None = None
    risk_notes: str = ""
    actions: str = ""
    updated_at: datetime | None = None
    components: list[ComponentPublic] = []


class Change(BaseModel):
    field: str
    old: str | None
    new: str | None


class HistoryEntry(BaseModel):
    """One audited change of a ledger record: who, when, what (the event's action, the
    component if it was one) and each field changed with its old and new values."""

    event_id: int
    at: datetime
    actor: str
    action: str
    component_id: int | None = None
    changes: list[Change]


class Cell(BaseModel):
    """A count and its percentage (of the row's total; text, one decimal, half up)."""

    count: int
    percent: str


class AreaRow(BaseModel):
    """One row of the report: a metrology area (or ``total``), its standards by column (the
    four columns are exclusive and add up to ``total``), and the row's share of all."""

    domain: str
    fully: Cell
    partly: Cell
    not_: Cell = PField(serialization_alias="not")
    suspended: Cell
    total: int
    percent_of_all: str

    model_config = ConfigDict(populate_by_name=True)


class ImportedComponents(BaseModel):
    """Core components: how many, how many imported (and their share of all), and of the
    imported ones how many have a domestic alternative, one in development, or none (each
    with its share of the imported)."""

    components: int
    imported: Cell
    with_alternative: Cell
    alternative_in_development: Cell
    without_alternative: Cell


class LedgerAggregates(BaseModel):
    """The report's table: rows by metrology area (every area, empty ones with zeros) and a
    total row; ``unprofiled`` counts the published national primary standards with no ledger
    record yet (in no row)."""

    rows: list[AreaRow]
    total: AreaRow
    unprofiled: int
    components: ImportedComponents

