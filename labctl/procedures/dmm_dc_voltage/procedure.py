"""Digital multimeter, DC voltage, by direct comparison with a multifunction calibrator.

The calibrator applies each nominal voltage; the DMM (the device under calibration) reads it
``n`` times. The error of indication is

    E = V_ind + δV_res − (V_set · (1 + g_cal + δg_stab) + o_cal + δV_temp)

with V_ind the mean indication (Type A, s/√n, n − 1 degrees of freedom), δV_res the DMM's
resolution (rectangular, ± half a digit), g_cal and o_cal the calibrator's gain and offset
corrections for its range from its current certificate in the registry (normal, the
certificate's standard uncertainty), δg_stab the calibrator's drift since that certificate
(rectangular: its specified stability when the registry states one; otherwise its specified
accuracy ±(a_rel·|V| + a_abs) scaled by the elapsed fraction of its calibration interval, a
linear drift allowance; or, when better supported, normal: the drift its intermediate checks
show on the same range, a weighted line through them carried by the register as
:class:`~labctl.procedures.interfaces.CheckedDrift` and chosen by
:func:`~labctl.uncertainty.choose_drift`, which then replaces the whole allowance), δV_temp
the calibrator's temperature effect outside its specified band (rectangular). Every point
gets a budget, U with k from the Welch–Satterthwaite degrees of freedom, a statement of
conformity against the DMM's specification and the TUR.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from labctl import units
from labctl.drivers.roles import AdjustableDmm, Calibrator, Dmm, EnvironmentSensor
from labctl.errors import PreconditionError, ValidationError
from labctl.procedures.base import (
    Procedure,
    ProcedureInfo,
    RoleSpec,
    RunContext,
    check_nplc,
)
from labctl.procedures.environment import EnvironmentLimits, QuantityLimit
from labctl.procedures.interfaces import CheckedDrift, RegisteredStandard
from labctl.procedures.results import PointResult
from labctl.procedures.statements import budget_lines, check_rule
from labctl.procedures.tables import check_unique, load_table
from labctl.quantities import (
    CorrectionParameter,
    Quantity,
    RangeLabel,
    SpecKey,
    SpecName,
    same_range,
)
from labctl.uncertainty import (
    Constant,
    Normal,
    Rectangular,
    choose_drift,
    decide_reported,
    gum,
    stated_limit,
)

TABLE = Path(__file__).with_name("points.csv")
AS_LEFT = "as-left/"

#: The calibrator's DC voltage ranges (upper limit in V → range label in its certificate).
CALIBRATOR_RANGES: tuple[tuple[float, RangeLabel], ...] = tuple(
    (upper, RangeLabel.parse(label)) for upper, label in (
        (0.33, "330 mV"), (3.3, "3.3 V"), (33.0, "33 V"), (330.0, "330 V"), (1020.0, "1020 V")))
#: The DMM's DC voltage ranges (V) and their labels.
DMM_RANGE_LABELS: dict[float, RangeLabel] = {
    upper: RangeLabel.parse(label) for upper, label in (
        (0.1, "100 mV"), (1.0, "1 V"), (10.0, "10 V"), (100.0, "100 V"), (1000.0, "1000 V"))}
REFERENCE_TEMPERATURE = 23.0  # °C, the calibrator's specification centre


@dataclass(frozen=True)
class DcvPoint:
    """A row of the test-point table (see points.csv)."""

    key: str
    range: float  # V, the DMM range
    nominal: float  # V, applied by the calibrator
    readings: int  # indications averaged
    tol_pct_reading: float  # DMM specification, % of reading
    tol_pct_range: float  # DMM specification, % of range

    def __post_init__(self) -> None:
        if self.range not in DMM_RANGE_LABELS:
            raise ValidationError("range", self.range,
                                  "one of " + ", ".join(f"{r:g}" for r in DMM_RANGE_LABELS))
        if abs(self.nominal) > self.range * 1.2:
            raise ValidationError("nominal", self.nominal,
                                  f"within ±120 % of range {self.range:g} V")
        if not 2 <= self.readings <= 1000:
            raise ValidationError("readings", self.readings, "2 … 1000 (a Type A needs >= 2)")
        if self.tol_pct_reading < 0 or self.tol_pct_range < 0:
            raise ValidationError("tolerance", (self.tol_pct_reading, self.tol_pct_range), ">= 0")

    @property
    def tolerance(self) -> float:
        """Half-width of the DMM's specification at this point, in V."""
        return (self.tol_pct_reading * abs(self.nominal) + self.tol_pct_range * self.range) / 100


@dataclass(frozen=True)
class DcvParameters:
    """Run parameters. ``ranges`` selects DMM ranges (V) from the table (all when empty);
    ``settle_time`` (s) after applying a voltage; ``nplc`` integration time; ``decision_rule``
    an ILAC-G8 rule of :class:`~labctl.uncertainty.DecisionRule`; ``table`` a CSV path
    (default: shipped)."""

    ranges: tuple[float, ...] = ()
    settle_time: float = 2.0
    nplc: float = 10.0
    coverage: float = 0.95
    decision_rule: str = "simple"
    table: str = ""
    adjust: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "ranges", tuple(float(r) for r in self.ranges))
        if not isinstance(self.adjust, bool):
            raise ValidationError("adjust", self.adjust, "true or false")
        check_rule(self.decision_rule)
        if not 0 <= self.settle_time <= 600:
            raise ValidationError("settle_time", self.settle_time, "0 … 600 s")
        if not 0 < self.coverage < 1:
            raise ValidationError("coverage", self.coverage, "between 0 and 1")
        check_nplc(self.nplc)
        for r in self.ranges:
            if r not in DMM_RANGE_LABELS:
                raise ValidationError("ranges", r, "DMM ranges " + ", ".join(
                    f"{x:g}" for x in DMM_RANGE_LABELS))


def calibrator_range(volts: float) -> RangeLabel:
    """The calibrator range label that sources ``volts``."""
    for limit, label in CALIBRATOR_RANGES:
        if abs(volts) < limit:  # as the 5522A: 0.33 V is on the 3.3 V range
            return label
    raise ValidationError("nominal", volts, "|V| <= 1020 V (the calibrator's output)")


def checked_drift(std: RegisteredStandard, setting: float) -> CheckedDrift | None:
    """The drift the calibrator's checks show that applies at ``setting``: a checked point on
    the same calibrator range (the drift is taken as relative to the output there), the
    nearest in magnitude; ``None`` at 0 V or when no check is on that range."""
    if setting == 0:
        return None
    rng = calibrator_range(setting)
    same = [d for d in std.drifts if d.quantity == Quantity.DC_VOLTAGE and d.nominal != 0
            and abs(d.nominal) < CALIBRATOR_RANGES[-1][0]
            and same_range(calibrator_range(d.nominal), rng)]
    return min(same, key=lambda d: abs(abs(d.nominal) - abs(setting)), default=None)


def _spec(std: RegisteredStandard, key: SpecKey | SpecName, default: float) -> float:
    if isinstance(key, SpecName):
        key = SpecKey(key)
    return float(key.lookup(std.specification, default))


#: The unit of each input of the model (the budget carries them to the certificate).
INPUT_UNITS = {"V_ind": units.VOLT.symbol, "dV_res": units.VOLT.symbol,
               "V_set": units.VOLT.symbol, "g_cal": units.ONE.symbol,
               "o_cal": units.VOLT.symbol, "dg_stab": units.ONE.symbol,
               "dV_drift": units.VOLT.symbol, "dV_temp": units.VOLT.symbol}


#: The room a DC-voltage comparison (calibration or intermediate check) needs.
DCV_ROOM = EnvironmentLimits(
    limits=(
        QuantityLimit("temperature", 18.0, 28.0, max_rate=1.0),
        QuantityLimit("humidity", 20.0, 70.0),
        QuantityLimit("pressure", 80_000.0, 106_000.0),
    ),
    settle_time=300.0, rate_window=900.0, hold_timeout=2 * 3600.0,
)


class DmmDcVoltage(Procedure):
    """DMM DC voltage calibration by direct comparison (see the module docstring)."""

    info = ProcedureInfo(
        id="dmm-dcv-direct",
        version="1.0",
        title="Digital multimeter, DC voltage, direct comparison with a calibrator",
        quantity=Quantity.DC_VOLTAGE,
        device_type="digital multimeter",
        roles={
            "calibrator": RoleSpec("standard", Calibrator, "multifunction calibrator (DC V)"),
            "dmm": RoleSpec("dut", Dmm, "the digital multimeter under calibration"),
            "environment": RoleSpec("auxiliary", EnvironmentSensor, "room sensor"),
        },
        environment=DCV_ROOM,
    )
    Parameters = DcvParameters
    FILE_PARAMETERS = ("table",)

    def __init__(self, parameters: DcvParameters | None = None) -> None:
        super().__init__(parameters)
        p: DcvParameters = self.parameters
        rows = load_table(p.table or TABLE, DcvPoint)
        if p.ranges:
            rows = tuple(r for r in rows if r.range in p.ranges)
            if not rows:
                raise ValidationError("ranges", p.ranges, "ranges present in the point table")
        check_unique(rows, "key", "point table")
        self._found: tuple[DcvPoint, ...] = rows
        self._left: tuple[DcvPoint, ...] = tuple(
            dataclasses.replace(r, key=AS_LEFT + r.key) for r in rows) if p.adjust else ()
        self._points: tuple[DcvPoint, ...] = self._found + self._left

    def test_points(self) -> Sequence[DcvPoint]:
        return self._points

    # -- steps -------------------------------------------------------------------------------

    def setup(self, ctx: RunContext) -> None:
        cal: Calibrator = ctx.instrument("calibrator", Calibrator)
        dmm: Dmm = ctx.instrument("dmm", Dmm)
        cal.standby()
        if self.parameters.adjust and not isinstance(dmm, AdjustableDmm):
            raise PreconditionError("dmm_not_adjustable", f"{type(dmm).__name__} cannot be "
                                    "adjusted remotely: run without adjust")
        if dmm.terminals != "FRON":
            raise PreconditionError(
                "dmm_terminals", "the DMM's front/rear switch is on REAR: set it to FRONT "
                "(the calibrator is wired to the front terminals)")

    def execute(self, ctx: RunContext) -> None:
        self._measure(ctx, self._found)
        if self._left:
            if not any(ctx.is_done(r.key) for r in self._left):
                self._adjust(ctx)  # again after a resume mid-adjustment: it is idempotent
            self._measure(ctx, self._left)

    def _measure(self, ctx: RunContext, rows: Sequence[DcvPoint]) -> None:
        cal: Calibrator = ctx.instrument("calibrator", Calibrator)
        dmm: Dmm = ctx.instrument("dmm", Dmm)
        p: DcvParameters = self.parameters
        configured: float | None = None
        for point in ctx.points(rows):
            if configured != point.range:
                dmm.configure_dc_voltage(range=point.range, nplc=p.nplc)
                configured = point.range
            cal.source_dc_voltage(point.nominal)
            cal.operate()
            ctx.sleep(p.settle_time)
            readings = dmm.read_many(point.readings)
            resolution = dmm.resolution
            cal.standby()
            room = ctx.room()
            ctx.commit(self.evaluate(point, readings, resolution, ctx.standards["calibrator"],
                                     room.temperature if room else None, ctx.now()))

    def _adjust(self, ctx: RunContext) -> None:
        """Zero and gain of every range measured, against the calibrator's actual output
        (its setting corrected by its certified errors)."""
        cal: Calibrator = ctx.instrument("calibrator", Calibrator)
        dmm: AdjustableDmm = ctx.instrument("dmm", AdjustableDmm)
        p: DcvParameters = self.parameters
        std = ctx.standards["calibrator"]
        for rng in sorted({r.range for r in self._found}):
            top = max((r.nominal for r in self._found if r.range == rng), default=0.0)
            dmm.configure_dc_voltage(range=rng, nplc=p.nplc)
            for nominal in (0.0, top) if top > 0 else (0.0,):
                cal_range = calibrator_range(nominal)
                gain = std.correction(Quantity.DC_VOLTAGE, cal_range, CorrectionParameter.GAIN)
                offset = std.correction(Quantity.DC_VOLTAGE, cal_range,
                                        CorrectionParameter.OFFSET)
                if gain is None or offset is None:
                    raise PreconditionError("correction_missing", f"calibrator {std.id}: no "
                                            f"certified errors for its {cal_range} range")
                cal.source_dc_voltage(nominal)
                cal.operate()
                ctx.sleep(p.settle_time)
                dmm.adjust(nominal * (1 + gain.value) + offset.value)
                cal.standby()
            ctx.log(f"adjusted the {DMM_RANGE_LABELS[rng]} range: zero and gain at "
                    f"{top:g} V")

    def make_safe(self, ctx: RunContext) -> None:
        ctx.instrument("calibrator", Calibrator).standby()

    # -- evaluation --------------------------------------------------------------------------

    def evaluate(self, point: DcvPoint, readings: np.ndarray, resolution: float,
                 std: RegisteredStandard, room_temperature: float | None = None,
                 at: date | datetime | None = None) -> PointResult:
        """Result and budget of one point from its raw readings (pure computation).

        ``at`` is the time of use (a date is enough for the drift allowance; the drift the
        calibrator's intermediate checks show needs the time)."""
        p: DcvParameters = self.parameters
        readings = np.asarray(readings, dtype=float)
        n = readings.size
        mean = float(readings.mean())
        # identical readings have no spread (std() of them can round to 1e-22, not 0)
        s = float(readings.std(ddof=1)) if n > 1 and np.ptp(readings) > 0 else 0.0
        cal_range = calibrator_range(point.nominal)
        gain = std.correction(Quantity.DC_VOLTAGE, cal_range, CorrectionParameter.GAIN)
        offset = std.correction(Quantity.DC_VOLTAGE, cal_range, CorrectionParameter.OFFSET)
        if gain is None or offset is None:
            raise PreconditionError(
                "correction_missing", f"calibrator {std.id} has no certified gain/offset "
                f"correction for its {cal_range} range", standard=std.id, range=str(cal_range))
        day = at.date() if isinstance(at, datetime) else at
        # relative half-width
        stab_rel = _spec(std, SpecKey(SpecName.DCV_STABILITY_REL, cal_range), 0.0)
        drift_abs = 0.0
        calibrated_on = SpecKey(SpecName.CALIBRATED_ON).lookup(std.specification)
        if stab_rel == 0.0 and day is not None and calibrated_on:
            # No stated stability: a linear drift allowance from the stated accuracy over
            # the elapsed part of the calibration interval.
            since = date.fromisoformat(str(calibrated_on))
            interval = _spec(std, SpecName.INTERVAL_DAYS, 365)
            fraction = min(max((day - since).days / interval, 0.0), 1.0)
            stab_rel = _spec(std, SpecName.ACCURACY_RELATIVE, 0.0) * fraction
            drift_abs = _spec(std, SpecName.ACCURACY_ABSOLUTE, 0.0) * fraction
        drift_term: Normal | None = None
        drift_note: dict[str, Any] = {}
        checked = checked_drift(std, point.nominal) if isinstance(at, datetime) else None
        if checked is not None and isinstance(at, datetime):
            # The checks' drift, relative at the checked point, against the allowance at this
            # point (its relative and absolute parts together, relative to the setting).
            d, ud = checked.drift_at(at)
            fitted = Normal(d / checked.nominal, ud / abs(checked.nominal), dof=checked.dof)
            allowance = stab_rel + drift_abs / abs(point.nominal)
            choice = choose_drift(fitted, allowance=allowance, n=checked.n,
                                  chi2_p=checked.chi2_p)
            drift_note = {"drift_source": str(choice.source), "drift_reason": choice.reason,
                          "drift_checked_at": checked.nominal}
            if choice.source == "fit":
                drift_term, stab_rel, drift_abs = fitted, 0.0, 0.0
        # relative per K outside band
        tempco_rel = _spec(std, SpecName.DCV_TEMPCO_REL_PER_K, 0.0)
        band = _spec(std, SpecName.TEMPERATURE_BAND_K, 5.0)
        t_room = room_temperature if room_temperature is not None else REFERENCE_TEMPERATURE
        excess = max(0.0, abs(t_room - REFERENCE_TEMPERATURE) - band)

        inputs: dict[str, Any] = {
            "V_ind": Normal(mean, s / math.sqrt(n), dof=n - 1) if s > 0 else Constant(mean),
            "dV_res": Rectangular(0.0, half_width=resolution / 2),
            "V_set": Constant(point.nominal),
            "g_cal": Normal(gain.value, gain.u, dof=gain.dof),
            "o_cal": Normal(offset.value, offset.u, dof=offset.dof),
        }
        if drift_term is not None:
            inputs["dg_stab"] = drift_term  # the checks' drift: a correction with its u
        elif stab_rel > 0:
            inputs["dg_stab"] = Rectangular(0.0, half_width=stab_rel)
        if drift_abs > 0:
            inputs["dV_drift"] = Rectangular(0.0, half_width=drift_abs)
        if excess > 0 and tempco_rel > 0:
            inputs["dV_temp"] = Rectangular(0.0, half_width=tempco_rel * excess
                                            * abs(point.nominal))

        def model(V_ind: Any, dV_res: Any, V_set: Any, g_cal: Any, o_cal: Any,
                  dg_stab: Any = 0.0, dV_drift: Any = 0.0, dV_temp: Any = 0.0) -> Any:
            return V_ind + dV_res - (V_set * (1 + g_cal + dg_stab) + o_cal + dV_drift
                                     + dV_temp)

        # the calibrator's gain and offset come from one fit through its certificate's points:
        # their correlation belongs in the budget (0 where they were stated independently)
        r_cal = gain.correlation_with(offset)
        correlation = {("g_cal", "o_cal"): r_cal} if r_cal else None
        r = gum(model, inputs, correlation, coverage=p.coverage)
        error = float(r.value)
        U = float(r.U)
        reference = mean - error
        tol = float(stated_limit(point.tolerance))  # as the specification states it
        # the statement the certificate will make: on the reported (rounded) error and U
        decision = decide_reported(mean, U, -tol, tol, p.decision_rule, reference=reference,
                                   k=float(r.k)).decision
        return PointResult(
            key=point.key, index=self._points.index(point),
            stage="as-left" if point.key.startswith(AS_LEFT) else "as-found",
            quantity=Quantity.DC_VOLTAGE, unit=Quantity.DC_VOLTAGE.unit.symbol,
            range_label=str(DMM_RANGE_LABELS[point.range]),
            nominal=point.nominal, reference_value=reference, measured_value=mean,
            error=error, U=U, k=float(r.k), coverage_probability=p.coverage,
            dof=float(r.dof), budget=budget_lines(r, INPUT_UNITS),
            readings=tuple(readings.tolist()),
            lower_limit=-tol, upper_limit=tol, conformity=str(decision.outcome),
            decision_rule=p.decision_rule, tur=float(decision.tur) if U > 0 else None,
            extra={"calibrator_range": str(cal_range), "resolution": resolution, "s": s,
                   "n": n, **drift_note},
        )
