"""Intermediate check of a multifunction calibrator's DC voltage against a check-standard DMM.

Between two calibrations a laboratory shows its calibrator is still fit (ISO/IEC 17025 6.4.10)
by measuring a few of its outputs, the same points every time, with a stable check standard,
here a DMM. At each point the calibrator sources the nominal voltage and the DMM reads it
``n`` times. The check value is the difference of the indication from the nominal,

    D = V_ind + δV_res + δV_stab − V_set

with V_ind the mean indication (Type A, s/√n, n − 1 degrees of freedom), δV_res the DMM's
resolution (rectangular, ± half a digit) and δV_stab the check standard's short-term stability
on its range (rectangular, ± ``dcv_stability_rel.<range>``·|V| from the check standard's
specification in the registry; absent: no term). Its uncertainty is only what moves from one
check to the next: the check standard's own (constant) error is part of D, and the control
chart of D over time, not D alone, shows whether the calibrator has moved.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from labctl import units
from labctl.drivers.roles import Calibrator, Dmm, EnvironmentSensor
from labctl.errors import PreconditionError, ValidationError
from labctl.procedures.base import (
    Procedure,
    ProcedureInfo,
    RoleSpec,
    RunContext,
    check_nplc,
)
from labctl.procedures.dmm_dc_voltage.procedure import (
    DCV_ROOM,
    DMM_RANGE_LABELS,
    calibrator_range,
)
from labctl.procedures.interfaces import RegisteredStandard
from labctl.procedures.results import PointResult
from labctl.procedures.statements import budget_lines, check_summary
from labctl.procedures.tables import check_unique, load_table
from labctl.quantities import ProcedureKind, Quantity, SpecKey, SpecName
from labctl.uncertainty import Constant, Normal, Rectangular, gum

TABLE = Path(__file__).with_name("points.csv")

#: The unit of each input of the model (the budget carries them to the check record).
INPUT_UNITS = {"V_ind": units.VOLT.symbol, "dV_res": units.VOLT.symbol,
               "dV_stab": units.VOLT.symbol, "V_set": units.VOLT.symbol}


@dataclass(frozen=True)
class CalibratorCheckPoint:
    """A row of the check-point table (see points.csv)."""

    key: str
    range: float  # V, the check-standard DMM's range
    nominal: float  # V, sourced by the calibrator under check
    readings: int  # indications averaged

    def __post_init__(self) -> None:
        if self.range not in DMM_RANGE_LABELS:
            raise ValidationError("range", self.range,
                                  "one of " + ", ".join(f"{r:g}" for r in DMM_RANGE_LABELS))
        if abs(self.nominal) > self.range * 1.2:
            raise ValidationError("nominal", self.nominal,
                                  f"within ±120 % of range {self.range:g} V")
        if not 2 <= self.readings <= 1000:
            raise ValidationError("readings", self.readings, "2 … 1000 (a Type A needs >= 2)")


@dataclass(frozen=True)
class CalibratorCheckParameters:
    """Run parameters: ``settle_time`` (s, 0 … 600) after applying a voltage, ``nplc`` the
    DMM's integration time, ``coverage`` probability of U, ``table`` a CSV path (default:
    the shipped points.csv)."""

    settle_time: float = 2.0
    nplc: float = 10.0
    coverage: float = 0.95
    table: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.settle_time <= 600:
            raise ValidationError("settle_time", self.settle_time, "0 … 600 s")
        if not 0 < self.coverage < 1:
            raise ValidationError("coverage", self.coverage, "between 0 and 1")
        check_nplc(self.nplc)


class DmmCalibratorCheck(Procedure):
    """Calibrator DC voltage, intermediate check with a DMM (see the module docstring)."""

    info = ProcedureInfo(
        id="dmm-calibrator-check",
        version="1.0",
        title="Multifunction calibrator, DC voltage, intermediate check with a DMM",
        quantity=Quantity.DC_VOLTAGE,
        device_type="multifunction calibrator",
        roles={
            "calibrator": RoleSpec("dut", Calibrator, "the calibrator under check"),
            "dmm": RoleSpec("standard", Dmm, "check-standard DMM"),
            "environment": RoleSpec("auxiliary", EnvironmentSensor, "room sensor"),
        },
        environment=DCV_ROOM,
        kind=ProcedureKind.CHECK,
    )
    Parameters = CalibratorCheckParameters
    FILE_PARAMETERS = ("table",)

    def __init__(self, parameters: CalibratorCheckParameters | None = None) -> None:
        super().__init__(parameters)
        rows = load_table(self.parameters.table or TABLE, CalibratorCheckPoint)
        check_unique(rows, "key", "point table")
        self._points: tuple[CalibratorCheckPoint, ...] = rows

    def test_points(self) -> Sequence[CalibratorCheckPoint]:
        return self._points

    # -- steps -------------------------------------------------------------------------------

    def setup(self, ctx: RunContext) -> None:
        ctx.instrument("calibrator", Calibrator).standby()
        dmm: Dmm = ctx.instrument("dmm", Dmm)
        if dmm.terminals != "FRON":
            raise PreconditionError(
                "dmm_terminals", "the DMM's front/rear switch is on REAR: set it to FRONT "
                "(the calibrator is wired to the front terminals)")

    def execute(self, ctx: RunContext) -> None:
        cal: Calibrator = ctx.instrument("calibrator", Calibrator)
        dmm: Dmm = ctx.instrument("dmm", Dmm)
        p: CalibratorCheckParameters = self.parameters
        configured: float | None = None
        for point in ctx.points(self._points):
            if configured != point.range:
                dmm.configure_dc_voltage(range=point.range, nplc=p.nplc)
                configured = point.range
            cal.source_dc_voltage(point.nominal)
            cal.operate()
            ctx.sleep(p.settle_time)
            readings = dmm.read_many(point.readings)
            resolution = dmm.resolution
            cal.standby()
            ctx.commit(self.evaluate(point, readings, resolution, ctx.standards["dmm"]))

    def make_safe(self, ctx: RunContext) -> None:
        ctx.instrument("calibrator", Calibrator).standby()

    # -- evaluation --------------------------------------------------------------------------

    def evaluate(self, point: CalibratorCheckPoint, readings: np.ndarray, resolution: float,
                 check_standard: RegisteredStandard) -> PointResult:
        """The check value of one point and its uncertainty (pure computation)."""
        p: CalibratorCheckParameters = self.parameters
        readings = np.asarray(readings, dtype=float)
        n = readings.size
        mean = float(readings.mean())
        # identical readings have no spread (std() of them can round to 1e-22, not 0)
        s = float(readings.std(ddof=1)) if n > 1 and np.ptp(readings) > 0 else 0.0
        dmm_range = DMM_RANGE_LABELS[point.range]
        stab_rel = float(SpecKey(SpecName.DCV_STABILITY_REL, dmm_range).lookup(
            check_standard.specification, 0.0))
        inputs: dict[str, Any] = {
            "V_ind": Normal(mean, s / math.sqrt(n), dof=n - 1) if s > 0 else Constant(mean),
            "dV_res": Rectangular(0.0, half_width=resolution / 2),
            "V_set": Constant(point.nominal),
        }
        if stab_rel > 0 and point.nominal != 0:
            inputs["dV_stab"] = Rectangular(0.0, half_width=stab_rel * abs(point.nominal))

        def difference(V_ind: Any, dV_res: Any, V_set: Any, dV_stab: Any = 0.0) -> Any:
            return V_ind + dV_res + dV_stab - V_set

        r = gum(difference, inputs, coverage=p.coverage)
        value = float(r.value)
        return PointResult(
            key=point.key, index=self._points.index(point), stage="check",
            quantity=Quantity.DC_VOLTAGE, unit=Quantity.DC_VOLTAGE.unit.symbol,
            range_label=str(calibrator_range(point.nominal)),
            nominal=point.nominal, reference_value=point.nominal, measured_value=mean,
            error=value, U=float(r.U), k=float(r.k), coverage_probability=p.coverage,
            dof=float(r.dof), budget=budget_lines(r, INPUT_UNITS),
            readings=tuple(readings.tolist()),
            extra={"u": float(r.u), "check_standard": check_standard.id,
                   "check_standard_range": str(dmm_range), "resolution": resolution,
                   "stability_rel": stab_rel, "s": s, "n": n},
        )

    def analyse(self, points: Sequence[PointResult], ctx: RunContext) -> dict[str, Any]:
        """What the platform files: a check (not a certificate), per point value, u, dof."""
        return check_summary(points, checked_role="calibrator", check_standard_role="dmm")

