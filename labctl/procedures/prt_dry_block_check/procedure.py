"""Intermediate check of a dry block's indicated temperature against the reference PRT.

The reference PRT, read by its readout (a registered standard with a certificate), sits in the
dry block's reference well. At each of one or two temperatures the block is set, the run waits
for stability (as the PRT comparison does) and the block's indication and the reference
temperature are read alternately. The check value is the block's indicated error,

    E = t_ind + δt_res − ((t_read − e_ref) / (1 + g_ref) + δt_well)

with t_ind the mean of the block's indications (Type A), δt_res its display resolution
(rectangular, ± half of ``display_resolution``), t_read the mean reference reading (Type A),
e_ref and g_ref the reference's certified offset and gain errors (g_ref = 0 when its
certificate states an offset only), δt_well the difference between the reference well and the
zone the block regulates (rectangular, half-width ``block_uniformity`` +
``block_uniformity_per_100k`` per 100 K above the room). Its control chart over time shows
whether the block (or, with the opposite sign, the reference) has moved.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from labctl import units
from labctl.drivers.roles import EnvironmentSensor, TemperatureSource, Thermometer
from labctl.errors import PreconditionError, ValidationError
from labctl.procedures.base import Procedure, ProcedureInfo, RoleSpec, RunContext
from labctl.procedures.interfaces import RegisteredStandard
from labctl.procedures.prt_comparison.procedure import (
    DRY_BLOCK_ROOM,
    check_dry_block_parameters,
    wait_stable,
)
from labctl.procedures.results import PointResult
from labctl.procedures.statements import budget_lines, check_summary
from labctl.procedures.tables import check_unique, load_table
from labctl.quantities import CorrectionParameter, ProcedureKind, Quantity, RangeLabel
from labctl.uncertainty import Constant, Normal, Rectangular, gum

TABLE = Path(__file__).with_name("points.csv")

#: The unit of each input of the model (the budget carries them to the check record).
INPUT_UNITS = {"t_ind": units.DEGREE_CELSIUS.symbol, "dt_res": units.DEGREE_CELSIUS.symbol,
               "t_read": units.DEGREE_CELSIUS.symbol, "e_ref": units.DEGREE_CELSIUS.symbol,
               "g_ref": units.ONE.symbol, "dt_well": units.DEGREE_CELSIUS.symbol}


@dataclass(frozen=True)
class DryBlockCheckPoint:
    """A row of the check-point table (see points.csv)."""

    key: str
    setpoint: float  # °C
    cycles: int  # block/reference reading pairs

    def __post_init__(self) -> None:
        if not -25.0 <= self.setpoint <= 450.0:
            raise ValidationError("setpoint", self.setpoint, "-25 … 450 °C (the dry block)")
        if not 2 <= self.cycles <= 200:
            raise ValidationError("cycles", self.cycles, "2 … 200")


@dataclass(frozen=True)
class DryBlockCheckParameters:
    """Run parameters (times in s, temperatures in °C).

    Stability as in the PRT comparison: ``stability_window`` s of reference readings every
    ``stability_interval`` s spreading by at most ``stability_limit``, with the block's own
    stable flag, within ``stability_timeout``. ``display_resolution``: the smallest step of
    the block's indication. Well uniformity as in the PRT comparison, from the block's
    characterisation."""

    stability_window: float = 120.0
    stability_interval: float = 10.0
    stability_limit: float = 0.01
    stability_timeout: float = 3 * 3600.0
    reading_interval: float = 2.0
    display_resolution: float = 0.001
    block_uniformity: float = 0.002
    block_uniformity_per_100k: float = 0.003
    coverage: float = 0.95
    reference_channel: int = 1
    table: str = ""

    def __post_init__(self) -> None:
        check_dry_block_parameters(self)
        if self.display_resolution < 0:
            raise ValidationError("display_resolution", self.display_resolution, ">= 0 °C")


class PrtDryBlockCheck(Procedure):
    """Dry block, intermediate check with the reference PRT (see the module docstring)."""

    info = ProcedureInfo(
        id="prt-dry-block-check",
        version="1.0",
        title="Dry-block calibrator, intermediate check with the reference thermometer",
        quantity=Quantity.TEMPERATURE,
        device_type="dry-block calibrator",
        roles={
            "temperature_source": RoleSpec("dut", TemperatureSource, "the dry block under check"),
            "thermometer": RoleSpec("standard", Thermometer,
                                    "reference thermometer readout with its PRT"),
            "environment": RoleSpec("auxiliary", EnvironmentSensor, "room sensor"),
        },
        environment=DRY_BLOCK_ROOM,
        kind=ProcedureKind.CHECK,
    )
    Parameters = DryBlockCheckParameters
    FILE_PARAMETERS = ("table",)

    def __init__(self, parameters: DryBlockCheckParameters | None = None) -> None:
        super().__init__(parameters)
        rows = load_table(self.parameters.table or TABLE, DryBlockCheckPoint)
        check_unique(rows, "key", "point table")
        self._points: tuple[DryBlockCheckPoint, ...] = rows

    def test_points(self) -> Sequence[DryBlockCheckPoint]:
        return self._points

    # -- steps -------------------------------------------------------------------------------

    def execute(self, ctx: RunContext) -> None:
        p: DryBlockCheckParameters = self.parameters
        block: TemperatureSource = ctx.instrument("temperature_source", TemperatureSource)
        ref: Thermometer = ctx.instrument("thermometer", Thermometer)
        for point in ctx.points(self._points):
            block.setpoint = point.setpoint
            block.enable()
            wait_stable(ctx, block, ref, key=point.key, setpoint=point.setpoint,
                        channel=p.reference_channel, window=p.stability_window,
                        interval=p.stability_interval, limit=p.stability_limit,
                        timeout=p.stability_timeout)
            t_ind: list[float] = []
            t_ref: list[float] = []
            for _ in range(point.cycles):
                t_ref.append(ref.measure(p.reference_channel))
                t_ind.append(block.process_value())
                ctx.sleep(p.reading_interval)
            room = ctx.room()
            ctx.commit(self.evaluate(point, np.array(t_ind), np.array(t_ref),
                                     ctx.standards["thermometer"],
                                     room.temperature if room else None))

    def make_safe(self, ctx: RunContext) -> None:
        ctx.instrument("temperature_source", TemperatureSource).disable()

    # -- evaluation --------------------------------------------------------------------------

    def evaluate(self, point: DryBlockCheckPoint, t_ind: np.ndarray, t_read: np.ndarray,
                 reference: RegisteredStandard,
                 room_temperature: float | None = None) -> PointResult:
        """The block's indicated error at one temperature, with its budget (pure)."""
        p: DryBlockCheckParameters = self.parameters
        e_ref = reference.correction(Quantity.TEMPERATURE, None, CorrectionParameter.OFFSET)
        g_ref = reference.correction(Quantity.TEMPERATURE, None, CorrectionParameter.GAIN)
        if e_ref is None:
            raise PreconditionError("correction_missing", f"reference thermometer "
                                    f"{reference.id} has no certified offset")
        t_ind = np.asarray(t_ind, dtype=float)
        t_read = np.asarray(t_read, dtype=float)
        n_i, n_r = t_ind.size, t_read.size
        # identical readings have no spread (std() of them can round to 1e-22, not 0)
        s_i = float(t_ind.std(ddof=1)) if np.ptp(t_ind) > 0 else 0.0
        s_r = float(t_read.std(ddof=1)) if np.ptp(t_read) > 0 else 0.0
        excess = max(0.0, float(t_read.mean()) - (room_temperature or 23.0))
        uniformity = p.block_uniformity + p.block_uniformity_per_100k * excess / 100.0
        inputs: dict[str, Any] = {
            "t_ind": (Normal(float(t_ind.mean()), s_i / math.sqrt(n_i), dof=n_i - 1)
                      if s_i > 0 else Constant(float(t_ind.mean()))),
            "dt_res": Rectangular(0.0, half_width=p.display_resolution / 2),
            "t_read": (Normal(float(t_read.mean()), s_r / math.sqrt(n_r), dof=n_r - 1)
                       if s_r > 0 else Constant(float(t_read.mean()))),
            "e_ref": Normal(e_ref.value, e_ref.u, dof=e_ref.dof),
            "g_ref": (Normal(g_ref.value, g_ref.u, dof=g_ref.dof) if g_ref and g_ref.u > 0
                      else Constant(g_ref.value if g_ref else 0.0)),
            "dt_well": Rectangular(0.0, half_width=uniformity),
        }

        def indicated_error(t_ind: Any, dt_res: Any, t_read: Any, e_ref: Any, g_ref: Any,
                            dt_well: Any) -> Any:
            return t_ind + dt_res - ((t_read - e_ref) / (1 + g_ref) + dt_well)

        # gain and offset fitted through one certificate are correlated (0 where stated apart)
        r_ref = e_ref.correlation_with(g_ref) if g_ref and g_ref.u > 0 else 0.0
        r = gum(indicated_error, inputs, {("e_ref", "g_ref"): r_ref} if r_ref else None,
                coverage=p.coverage)
        t_reference = (float(t_read.mean()) - e_ref.value) / (1 + (g_ref.value if g_ref
                                                                   else 0.0))
        return PointResult(
            key=point.key, index=self._points.index(point), stage="check",
            quantity=Quantity.TEMPERATURE, unit=Quantity.TEMPERATURE.unit.symbol,
            range_label=str(RangeLabel.of(point.setpoint, Quantity.TEMPERATURE.unit)),
            nominal=point.setpoint, reference_value=t_reference,
            measured_value=float(t_ind.mean()), error=float(r.value), U=float(r.U),
            k=float(r.k), coverage_probability=p.coverage, dof=float(r.dof),
            budget=budget_lines(r, INPUT_UNITS), readings=tuple(t_ind.tolist()),
            reference_readings=tuple(t_read.tolist()),
            extra={"u": float(r.u), "check_standard": reference.id,
                   "block_uniformity": uniformity, "s_indication": s_i, "s_reference": s_r},
        )

    def analyse(self, points: Sequence[PointResult], ctx: RunContext) -> dict[str, Any]:
        """What the platform files: a check (not a certificate), per point value, u, dof."""
        return check_summary(points, checked_role="temperature_source",
                             check_standard_role="thermometer")
