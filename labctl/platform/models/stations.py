"""What a station posts: a completed run (``labctl run --post``) as a typed, bounded model.

:class:`RunResultIn` mirrors :meth:`labctl.procedures.results.RunResult.to_dict` field by
field, so a malformed run (no points, no times, NaN or negative U, a unit the certificate
cannot state, a standard without its registry id, values out of bounds) is refused with a 422
naming the field before anything is written; :meth:`RunResultIn.to_run_result` then gives the
frozen :class:`~labctl.procedures.results.RunResult` the platform turns into a certificate.
JSON has no infinity: infinite degrees of freedom are ``null``, as ``to_dict`` writes them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic import Field as PField
from pydantic_core import PydanticCustomError

from labctl.platform.models.base import (
    DecisionRule,
    Key,
    PastTime,
    Text,
    UnitSymbol,
    bounded_uncertainty,
    bounded_value,
    check_relative_u,
    upper_limit_paired,
)
from labctl.platform.models.org import CODE_PATTERN
from labctl.platform.models.registry import IDENT_PATTERN
from labctl.procedures.register import RegisterSnapshot
from labctl.procedures.results import RunResult
from labctl.uncertainty import exact_decimal


def _value(v: float) -> float:
    bounded_value(exact_decimal(v))
    return v


def _uncertainty(v: float) -> float:
    bounded_uncertainty(exact_decimal(v))
    return v


Finite = Annotated[float, PField(allow_inf_nan=False)]
FloatValue = Annotated[float, PField(allow_inf_nan=False), AfterValidator(_value)]
FloatU = Annotated[float, PField(allow_inf_nan=False), AfterValidator(_uncertainty)]
Dof = Annotated[float, PField(gt=0)] | None  # None (JSON null): infinite
Name = Annotated[str, PField(max_length=100)]
Unit = UnitSymbol
Extra = dict[Annotated[str, PField(max_length=100)], Any]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BudgetLineIn(_In):
    name: Name
    estimate: Finite
    u: Annotated[float, PField(ge=0, allow_inf_nan=False)]
    distribution: Annotated[str, PField(max_length=32)]
    sensitivity: Finite
    contribution: Annotated[float, PField(ge=0, allow_inf_nan=False)]
    share: Annotated[float, PField(ge=0, le=1, allow_inf_nan=False)]
    dof: Dof = None
    unit: Annotated[str, PField(max_length=16)] = ""


class ConditionStatsIn(_In):
    quantity: Annotated[str, PField(min_length=1, max_length=64)]
    unit: Unit
    minimum: FloatValue
    maximum: FloatValue
    mean: FloatValue
    samples: Annotated[int, PField(ge=0)]

    @field_validator("mean")
    @classmethod
    def _within(cls, mean: float, info: ValidationInfo) -> float:
        lo, hi = info.data.get("minimum"), info.data.get("maximum")
        if lo is not None and hi is not None and not lo <= mean <= hi:
            raise PydanticCustomError("mean_outside", "the mean lies between minimum {lo} and "
                                      "maximum {hi}", {"lo": lo, "hi": hi})
        return mean


class PointResultIn(_In):
    key: Annotated[str, PField(min_length=1, max_length=100)]
    index: Annotated[int, PField(ge=0, le=100_000)]
    stage: Annotated[str, PField(min_length=1, max_length=32)]
    quantity: Annotated[str, PField(min_length=1, max_length=100)]
    unit: Unit
    range_label: Name = ""
    nominal: FloatValue
    reference_value: FloatValue
    measured_value: FloatValue
    error: Finite  # not used: the platform takes measured − reference itself
    U: FloatU
    k: Annotated[float, PField(ge=1, le=10, allow_inf_nan=False)]
    coverage_probability: Annotated[float, PField(gt=0, lt=1, allow_inf_nan=False)]
    dof: Dof = None
    budget: list[BudgetLineIn] = PField(default_factory=list, max_length=100)
    readings: list[Finite] = PField(default_factory=list, max_length=100_000)
    reference_readings: list[Finite] = PField(default_factory=list, max_length=100_000)
    lower_limit: FloatValue | None = None
    upper_limit: FloatValue | None = PField(default=None, validate_default=True)
    conformity: Literal["pass", "conditional pass", "conditional fail", "fail"] | None = None
    decision_rule: Annotated[str, PField(max_length=32)] = ""
    tur: Annotated[float, PField(ge=0, allow_inf_nan=False)] | None = None
    started: PastTime = PField(description="When the point's measurement began (UTC)")
    finished: PastTime
    conditions: list[ConditionStatsIn] = PField(default_factory=list, max_length=20)
    extra: Extra = PField(default_factory=dict, max_length=50)

    @field_validator("U")
    @classmethod
    def _relative_u(cls, u: float, info: ValidationInfo) -> float:
        check_relative_u(exact_decimal(u), *(exact_decimal(info.data[k]) for k in
                                    ("nominal", "reference_value", "measured_value")
                                    if k in info.data))
        return u

    _limits = field_validator("upper_limit")(upper_limit_paired)

    @field_validator("finished")
    @classmethod
    def _ordered(cls, finished: Any, info: ValidationInfo) -> Any:
        started = info.data.get("started")
        if started is not None and finished < started:
            raise PydanticCustomError("finished_before_started", "finished is not before "
                                      "started ({started})", {"started": started.isoformat()})
        return finished


class RunEventIn(_In):
    kind: Annotated[str, PField(min_length=1, max_length=32)]
    time: PastTime
    message: Text = ""
    point_key: Annotated[str, PField(max_length=100)] | None = None
    data: Extra = PField(default_factory=dict, max_length=50)


class StandardUsedIn(BaseModel):
    """A registry record as the station saw it at run time: its ``id`` is the platform's
    identifier of the standard (the rest is kept as the station sent it)."""

    model_config = ConfigDict(extra="allow")
    id: str = PField(pattern=IDENT_PATTERN, description="The standard's registry identifier")


class Dut(_In):
    manufacturer: Annotated[str, PField(max_length=100)] = ""
    model: Annotated[str, PField(max_length=100)] = ""
    serial_number: Annotated[str, PField(max_length=100)] = ""
    identifier: Annotated[str, PField(max_length=100)] = ""


class RunResultIn(_In):
    """A completed run as :meth:`~labctl.procedures.results.RunResult.to_dict` writes it."""

    run_id: Key = PField(description="Also the idempotency key of the posting")
    procedure_id: Annotated[str, PField(min_length=1, max_length=100)]
    procedure_version: Annotated[str, PField(max_length=32)]
    status: Literal["completed"] = PField(description="Only a completed run is certified")
    dut: Dut
    operator: Annotated[str, PField(min_length=1, max_length=64)]
    checker: Annotated[str, PField(max_length=64)] = ""
    started: PastTime
    finished: PastTime | None = None
    points: list[PointResultIn] = PField(min_length=1, max_length=1000)
    conditions: list[ConditionStatsIn] = PField(default_factory=list, max_length=20)
    standards: list[StandardUsedIn] = PField(default_factory=list, max_length=50)
    instruments: dict[Annotated[str, PField(max_length=64)], Extra] = PField(
        default_factory=dict, max_length=20)
    events: list[RunEventIn] = PField(default_factory=list, max_length=10_000)
    analysis: Extra = PField(default_factory=dict, max_length=50)
    reason: Text = ""

    def to_run_result(self) -> RunResult:
        """The frozen run (the checks above passed: every field is there and in bounds)."""
        data = self.model_dump(mode="json")
        data["dut"] = self.dut.model_dump(exclude_unset=True)  # as the station sent it
        return RunResult.from_dict(data)


class StationRunIn(_In):
    result: RunResultIn = PField(description="The run as labctl's RunResult.to_dict()")
    customer_name: str = PField(min_length=1, max_length=200)
    customer_code: str | None = PField(default=None, pattern=CODE_PATTERN)
    item_description: str = PField(min_length=1, max_length=300)
    method: str = PField(min_length=1, max_length=300)
    location: str = PField(min_length=1, max_length=300)
    decision_rule: DecisionRule | None = PField(default=None, description=(
        "Accepted for compatibility: the certificate states the run's own decision rule "
        "(its points'); naming another is refused (422)"))



# -- the register snapshot a station downloads (``GET /api/v1/stations/register``) ----------


class SnapshotCorrection(BaseModel):
    """A certified error of a standard on one range (``parameter`` gain: relative, unit 1;
    offset: in ``unit``), with its standard uncertainty and degrees of freedom."""

    quantity: str
    range_label: str
    parameter: str
    value: float
    u: float
    unit: str
    dof: float | Literal["inf"] = PField(description='"inf": infinite (JSON has no infinity)')
    certificate_number: str = ""
    correlation: float = PField(0.0, ge=-1, le=1, description="correlation coefficient of "
                                "this parameter with the other one of its error line")


class SnapshotStandard(BaseModel):
    """A standard as the registry knows it when the snapshot was taken."""

    id: str
    description: str
    manufacturer: str
    model: str
    serial_number: str
    status: str = PField(description="in_service, quarantined, out_of_tolerance, retired")
    due_date: date | None
    certificate_number: str | None
    certificate_issuer: str = ""
    corrections: list[SnapshotCorrection] = PField(default_factory=list)
    specification: dict[str, Any] = PField(default_factory=dict)


class SnapshotAuthorisation(BaseModel):
    """``person`` may perform ``procedure_id`` from ``valid_from`` to ``valid_until``."""

    person: str
    procedure_id: str
    valid_from: date
    valid_until: date | None = None


class RegisterSnapshotPublic(BaseModel):
    """A laboratory's register as a station works from it offline
    (``RegisterSnapshot.to_dict()``; ``labctl run --register FILE`` loads it back)."""

    taken_at: datetime
    max_age_days: int = PField(description="A station refuses the snapshot when older")
    standards: list[SnapshotStandard]
    authorisations: list[SnapshotAuthorisation]

    @classmethod
    def of(cls, snapshot: RegisterSnapshot) -> RegisterSnapshotPublic:
        return cls.model_validate(snapshot.to_dict())
