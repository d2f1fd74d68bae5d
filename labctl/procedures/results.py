"""Frozen results of a calibration run: no ORM objects, no HTTP, just data.

A :class:`PointResult` is what the journal commits after each point; a :class:`RunResult` is
the whole run for the platform to turn into a certificate. Both convert to and from plain
JSON dicts (``to_dict`` / ``from_dict``) so a journal can store them exactly: floats are kept
as Python floats (repr round-trips exactly), rounding for print happens in the platform. JSON
has no infinity: infinite degrees of freedom are written as null and read back as inf.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np


@dataclass(frozen=True)
class BudgetLine:
    """One row of an uncertainty budget (GUM 8): an input quantity and its contribution."""

    name: str
    estimate: float
    u: float
    distribution: str
    sensitivity: float
    contribution: float  # |c·u| in the unit of the result
    share: float  # fraction of the combined variance, 0 … 1
    dof: float  # inf for Type B with no stated reliability
    unit: str = ""  # of estimate and u ("1": dimensionless; "": not stated)


@dataclass(frozen=True)
class ConditionStats:
    """Min / max / mean of one environmental quantity over a span."""

    quantity: str
    unit: str
    minimum: float
    maximum: float
    mean: float
    samples: int


@dataclass(frozen=True)
class PointResult:
    """One calibration point: what was applied, read, found, and how sure we are of it."""

    key: str  # stable identity of the point within the procedure (used for resume)
    index: int  # order in the test-point table
    stage: str  # "as-found" or "as-left"
    quantity: str  # "DC voltage", "temperature", …
    unit: str
    range_label: str
    nominal: float
    reference_value: float  # the conventional true value (standard, corrected)
    measured_value: float  # the DUT's indication (mean)
    error: float  # measured - reference
    U: float  # expanded uncertainty of the error
    k: float
    coverage_probability: float
    dof: float
    budget: tuple[BudgetLine, ...]
    readings: tuple[float, ...]  # the DUT's raw readings
    reference_readings: tuple[float, ...] = ()
    lower_limit: float | None = None  # tolerance on the error
    upper_limit: float | None = None
    conformity: str | None = None  # "pass", "conditional pass", "conditional fail", "fail"
    decision_rule: str = ""
    tur: float | None = None
    started: datetime | None = None
    finished: datetime | None = None
    conditions: tuple[ConditionStats, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def readings_array(self) -> np.ndarray:
        return np.asarray(self.readings, dtype=float)

    def to_dict(self) -> dict[str, Any]:
        return dict(_to_jsonable(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PointResult:
        data = dict(data)
        data["budget"] = tuple(BudgetLine(**(b | {"dof": _inf(b.get("dof"))}))
                               for b in data.get("budget", ()))
        data["dof"] = _inf(data.get("dof"))
        data["conditions"] = tuple(ConditionStats(**c) for c in data.get("conditions", ()))
        data["readings"] = tuple(data.get("readings", ()))
        data["reference_readings"] = tuple(data.get("reference_readings", ()))
        for name in ("started", "finished"):
            if data.get(name):
                data[name] = datetime.fromisoformat(data[name])
        return cls(**data)


@dataclass(frozen=True)
class RunEvent:
    """Something that happened to a run: started, point_started, point_done,
    point_invalidated, hold, resume, paused, aborted, completed."""

    kind: str
    time: datetime
    message: str = ""
    point_key: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(_to_jsonable(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunEvent:
        data = dict(data)
        data["time"] = datetime.fromisoformat(data["time"])
        return cls(**data)


@dataclass(frozen=True)
class RunResult:
    """A finished (or paused) run as the platform receives it."""

    run_id: str
    procedure_id: str
    procedure_version: str
    status: str  # "completed", "paused", "aborted"
    dut: dict[str, str]  # manufacturer, model, serial_number, identifier
    operator: str
    checker: str
    started: datetime
    finished: datetime | None
    points: tuple[PointResult, ...]
    conditions: tuple[ConditionStats, ...]
    standards: tuple[dict[str, Any], ...]  # registry records used, as seen at run time
    instruments: dict[str, dict[str, Any]]  # role -> identity + snapshot
    events: tuple[RunEvent, ...]
    analysis: dict[str, Any] = field(default_factory=dict)  # e.g. a fitted curve
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(_to_jsonable(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        """The inverse of :meth:`to_dict` (a run posted by a remote station)."""
        d = dict(data)
        d["points"] = tuple(PointResult.from_dict(p) for p in d.get("points", ()))
        d["events"] = tuple(RunEvent.from_dict(e) for e in d.get("events", ()))
        d["conditions"] = tuple(ConditionStats(**c) for c in d.get("conditions", ()))
        d["standards"] = tuple(d.get("standards", ()))
        d["started"] = datetime.fromisoformat(d["started"])
        d["finished"] = datetime.fromisoformat(d["finished"]) if d.get("finished") else None
        return cls(**d)


def _inf(value: Any) -> float:
    return math.inf if value is None else float(value)


def jsonable(obj: Any) -> Any:
    """``obj`` as JSON keeps it: dataclasses as dicts, times as ISO text, arrays as lists,
    infinities as null (see the module docstring)."""
    return _to_jsonable(obj)


def _to_jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, date):  # datetime too
        return obj.isoformat()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None  # infinite dof (JSON has no inf); NaN never reaches a result
    if isinstance(obj, (list, tuple)):
        return [_to_jsonable(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): _to_jsonable(v) for k, v in obj.items()}
    return obj
