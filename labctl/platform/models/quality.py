"""Intermediate checks of standards and the quality events they open (ISO/IEC 17025 6.4.10,
6.4.9): tables and their API schemas.

A :class:`CheckResult` is one check of a standard at one point (the value the check found,
its standard uncertainty, when, by which run); a :class:`QualityEvent` is what a signal on
the standard's control chart opened (a run rule, a failed En test, a check beyond the
standard's tolerance), the status it put the standard in, the certificates the reverse
impact report found, and how it was closed (the verification that returned the standard to
service).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from pydantic import Field as PField
from sqlmodel import Field, SQLModel

from labctl.platform.models.base import StandardStatus, decimal_field, str_field, utc_field


class QualityEventKind(StrEnum):
    """Why an event was opened."""

    CHART_RULE = "chart_rule"  # a run rule of the control chart fired
    EN_FAILED = "en_failed"  # |En| > 1 against the certified value
    BEYOND_TOLERANCE = "beyond_tolerance"  # a check outside the standard's tolerance
    COMPARISON_EN_FAILED = "comparison_en_failed"  # a comparison's |En| > 1 (comparisons)


class QualityEventStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class CheckResult(SQLModel, table=True):
    """One intermediate check of a standard at one point.

    ``value`` is what the check found for the standard at ``nominal`` (the check procedure's
    check value, e.g. the calibrator's output minus its nominal as the check-standard DMM
    reads it), ``u`` its standard uncertainty, both in ``unit``; ``run_id`` the run that made
    it (a run files each of its points once: a retry answers the stored check).
    """

    __tablename__ = "check_result"
    __table_args__ = (sa.UniqueConstraint("standard_id", "point_key", "run_id",
                                          name="uq_check_result_run"),
                      sa.Index("ix_check_result_series", "standard_id", "point_key",
                               "measured_at"))
    id: int | None = Field(default=None, primary_key=True)
    standard_id: int = Field(foreign_key="standard.id", index=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    point_key: str = str_field(64)
    nominal: Decimal = decimal_field()
    unit: str = str_field(16)
    value: Decimal = decimal_field()
    u: Decimal = decimal_field()
    dof: float | None = None
    measured_at: datetime = utc_field()
    run_id: str = str_field(200)
    procedure: str = str_field(64)
    station_id: int | None = Field(default=None, foreign_key="station.id")
    recorded_by: str = str_field(200)  # the actor that filed it (a person or a station)
    operator: str = str_field(100, default="")  # the person who made the check
    environment: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    created_at: datetime = utc_field(default_now=True)


class QualityEvent(SQLModel, table=True):
    """A signal on a standard's checks: what fired, the status it led to, the reverse impact
    report (certificates since the last good check), and its closing."""

    __tablename__ = "quality_event"
    id: int | None = Field(default=None, primary_key=True)
    standard_id: int = Field(foreign_key="standard.id", index=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    kind: str = str_field(32)  # QualityEventKind
    point_key: str = str_field(64, default="")
    rules: list[str] = Field(default_factory=list, sa_type=sa.JSON)  # codes that fired
    check_ids: list[int] = Field(default_factory=list, sa_type=sa.JSON)
    opened_at: datetime = utc_field(default_now=True)
    opened_by: str = str_field(200)  # actor
    #: the person responsible for the check that opened it (the run's operator, or the
    #: person who filed it): never the one who returns the standard to service
    opened_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    status: str = str_field(16, default=QualityEventStatus.OPEN)
    standard_status: str = str_field(24)  # StandardStatus it put the standard in
    status_change_id: int | None = Field(default=None,
                                         foreign_key="standard_status_change.id")
    impact: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    closed_at: datetime | None = utc_field(nullable=True, default=None)
    closed_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    verification: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


# --- API schemas ---------------------------------------------------------------------------


class CheckPublic(BaseModel):
    id: int
    standard: str
    point_key: str
    nominal: str
    unit: str
    value: str
    u: str
    dof: float | None
    measured_at: datetime
    run_id: str
    procedure: str
    recorded_by: str
    operator: str


class QualityEventPublic(BaseModel):
    id: int
    standard: str
    kind: QualityEventKind
    point_key: str
    rules: list[str]
    check_ids: list[int]
    opened_at: datetime
    opened_by: str
    status: QualityEventStatus
    standard_status: StandardStatus
    impact: dict[str, Any]
    closed_at: datetime | None
    verification: dict[str, Any]


class ChartPoint(BaseModel):
    """One check on its chart: the flags of the run rules that fired there, its En, whether
    it is beyond tolerance and whether it belongs to the baseline."""

    check_id: int
    measured_at: datetime
    value: float
    u: float
    moving_range: float | None
    baseline: bool
    rules: list[str]
    en: float
    en_ok: bool
    beyond_tolerance: bool


class ChartLimits(BaseModel):
    centre: float
    sigma: float
    ucl: float
    lcl: float
    upper_2: float
    lower_2: float
    mr_ucl: float
    n_baseline: int


class DriftPublic(BaseModel):
    """The weighted line through the checks since the calibration (value per day), the
    drift it gives now, and the budget term chosen (fit or stated allowance)."""

    slope_per_day: float
    u_slope_per_day: float
    drift_now: float
    u_drift_now: float
    n: int
    birge: float
    source: str
    reason: str


class PointSeries(BaseModel):
    point_key: str
    nominal: str
    unit: str
    certified_value: float  # c: the certified deviation at the point
    certified_expanded: float  # its expanded uncertainty
    centre: float  # m: what the check finds with the standard as certified (baseline mean)
    tolerance: float
    limits: ChartLimits | None
    outcome: str
    last_good_check_id: int | None
    points: list[ChartPoint]
    drift: DriftPublic | None


class StandardChecks(BaseModel):
    standard: str
    status: StandardStatus
    calibrated_on: str | None
    series: list[PointSeries]
    events: list[QualityEventPublic]


class FiledChecks(BaseModel):
    """What filing a check run did: the checks stored, the events opened, the status now."""

    standard: str
    status: StandardStatus
    checks: list[CheckPublic]
    events: list[QualityEventPublic]


class ReturnToServiceIn(BaseModel):
    """The verification that shows the standard is fit again: a check filed after the event
    opened and inside limits, or a calibration published after it (exactly one)."""

    model_config = ConfigDict(extra="forbid")
    reason: str = PField(min_length=1, max_length=1000)
    verification_check_id: int | None = PField(default=None, ge=1, le=2**31 - 1)
    calibration_id: int | None = PField(default=None, ge=1, le=2**31 - 1)
