"""Platinum resistance thermometer, by comparison with a reference thermometer in a dry block.

At each temperature the block is set and the run waits for stability (the procedure's
criterion: the reference readings' spread over a window below a limit, and the controller's
own stable flag). Reference temperature and PRT resistance are then read alternately
(reference, PRT, reference, PRT, …) so that a slow drift of the block cancels in the means.

Per point the deviation of the PRT from the standard IEC 60751 curve is reported:

    Δt = t_IEC(R) − t_ref,   t_ref = (t_read − e_ref) / (1 + g_ref) + δt_block,
    R = (R_ind + δR_res − o_dmm) / (1 + g_dmm)

with t_read the mean reference reading (Type A), e_ref and g_ref the reference thermometer's
offset and gain errors from its certificate (g_ref = 0 when it states an offset only),
δt_block the block's radial non-uniformity between the wells (rectangular, growing with the
excess over room temperature), R_ind the mean DMM reading (Type A), g_dmm and o_dmm the DMM's
certified gain and offset errors on its range, δR_res the DMM's resolution.
Conformity is judged against an IEC 60751 tolerance class.

Over all points, Callendar–Van Dusen coefficients R0, A, B are fitted (R = R0·(1 + A·t + B·t²),
t >= 0 °C) by weighted least squares; their covariance combines the random part of the fit with
the systematic inputs shared by every point (reference error, DMM gain and offset), which a
fit alone would treat as independent. The uncertainty of a temperature computed from the
fitted curve is reported across the range.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import norm

from labctl import units
from labctl.drivers.roles import Dmm, EnvironmentSensor, TemperatureSource, Thermometer
from labctl.errors import PreconditionError, RunAbortedError, ValidationError
from labctl.procedures.base import (
    Procedure,
    ProcedureInfo,
    RoleSpec,
    RunContext,
    check_nplc,
)
from labctl.procedures.environment import EnvironmentLimits, QuantityLimit
from labctl.procedures.interfaces import RegisteredStandard
from labctl.procedures.results import PointResult
from labctl.procedures.statements import budget_lines, check_rule
from labctl.procedures.tables import check_unique, load_table
from labctl.quantities import CorrectionParameter, Quantity, RangeLabel
from labctl.uncertainty import (
    Constant,
    Normal,
    Rectangular,
    curve_fit,
    decide_reported,
    gum,
    stated_limit,
)

TABLE = Path(__file__).with_name("points.csv")

#: IEC 60751:2022 standard Pt100 curve.
IEC_R0 = 100.0
IEC_A = 3.9083e-3
IEC_B = -5.775e-7
IEC_C = -4.183e-12


def cvd_resistance(t: Any, R0: float = IEC_R0, A: float = IEC_A, B: float = IEC_B,
                   C: float = IEC_C) -> Any:
    """Callendar–Van Dusen resistance (Ω) at ``t`` (°C); the C term applies below 0 °C."""
    t = np.asarray(t, dtype=float)
    below = np.where(t < 0, C * (t - 100.0) * t**3, 0.0)
    return R0 * (1 + A * t + B * t**2 + below)


def cvd_temperature(R: Any, R0: float = IEC_R0, A: float = IEC_A, B: float = IEC_B,
                    C: float = IEC_C) -> Any:
    """Inverse of :func:`cvd_resistance`: temperature (°C) from resistance (Ω), vectorized.

    Closed form above 0 °C, refined by Newton steps below (where the C term enters).
    """
    R = np.asarray(R, dtype=float)
    ratio = R / R0
    t = (-A + np.sqrt(A * A - 4 * B * (1 - ratio))) / (2 * B)
    for _ in range(6):
        neg = t < 0
        if not np.any(neg):
            break
        f = cvd_resistance(t, R0, A, B, C) - R
        dfdt = R0 * (A + 2 * B * t + np.where(neg, C * (4 * t**3 - 300 * t**2), 0.0))
        t = np.where(neg, t - f / dfdt, t)
    return t


@dataclass(frozen=True)
class PrtPoint:
    """A row of the test-point table (see points.csv)."""

    key: str
    setpoint: float  # °C
    cycles: int  # reference/DUT reading pairs
    tol_fixed: float  # °C, tolerance class: ±(tol_fixed + tol_slope·|t|)
    tol_slope: float

    def __post_init__(self) -> None:
        if not -25.0 <= self.setpoint <= 450.0:
            raise ValidationError("setpoint", self.setpoint, "-25 … 450 °C (the dry block)")
        if not 2 <= self.cycles <= 200:
            raise ValidationError("cycles", self.cycles, "2 … 200")

    def tolerance(self, t: float) -> float:
        return self.tol_fixed + self.tol_slope * abs(t)


#: The room a comparison in the dry block (calibration or intermediate check) needs.
DRY_BLOCK_ROOM = EnvironmentLimits(
    limits=(
        QuantityLimit("temperature", 18.0, 28.0, max_rate=2.0),
        QuantityLimit("humidity", 15.0, 80.0),
    ),
    settle_time=300.0, rate_window=900.0, hold_timeout=2 * 3600.0,
)


def check_dry_block_parameters(p: Any) -> None:
    """The checks every dry-block procedure's parameters share (times, coverage, the
    reference channel, the stability criterion, the block's uniformity): ``ValidationError``
    naming the parameter."""
    for name in ("stability_timeout", "reading_interval"):
        if not getattr(p, name) > 0:
            raise ValidationError(name, getattr(p, name), "> 0 s")
    if not 0 < p.coverage < 1:
        raise ValidationError("coverage", p.coverage, "between 0 and 1")
    if not 1 <= p.reference_channel <= 4:
        raise ValidationError("reference_channel", p.reference_channel, "1 … 4")
    if p.stability_interval <= 0 or p.stability_window < 2 * p.stability_interval:
        raise ValidationError("stability_window", p.stability_window,
                              ">= 2 × stability_interval (and interval > 0)")
    if p.stability_limit <= 0:
        raise ValidationError("stability_limit", p.stability_limit, "> 0 °C")
    if p.block_uniformity < 0 or p.block_uniformity_per_100k < 0:
        raise ValidationError("block_uniformity", (p.block_uniformity,
                              p.block_uniformity_per_100k), ">= 0 °C")


@dataclass(frozen=True)
class PrtParameters:
    """Run parameters (times in s, temperatures in °C).

    Stability: ``stability_window`` s of reference readings every ``stability_interval`` s
    whose spread (max − min) is at most ``stability_limit``, with the block's own stable flag,
    within ``stability_timeout``. Block uniformity: half-width of the non-uniformity between
    the reference and test wells, ``block_uniformity`` + ``block_uniformity_per_100k`` per
    100 K above the room (from the block's characterisation)."""

    stability_window: float = 120.0
    stability_interval: float = 10.0
    stability_limit: float = 0.01
    stability_timeout: float = 3 * 3600.0
    reading_interval: float = 2.0
    block_uniformity: float = 0.002
    block_uniformity_per_100k: float = 0.003
    nplc: float = 10.0
    coverage: float = 0.95
    reference_channel: int = 1
    decision_rule: str = "simple"
    table: str = ""

    def __post_init__(self) -> None:
        check_nplc(self.nplc)
        check_dry_block_parameters(self)
        check_rule(self.decision_rule)


def wait_stable(ctx: RunContext, block: TemperatureSource, ref: Thermometer, *, key: str,
                setpoint: float, channel: int, window: float, interval: float, limit: float,
                timeout: float) -> None:
    """Wait until the reference readings over the last ``window`` s (one every ``interval``
    s) spread by at most ``limit`` °C and the block reports itself stable; abort the run
    (RunAbortedError) after ``timeout`` s. Logs how long it took."""
    need = int(window / interval) + 1
    readings: list[float] = []
    t0 = ctx.clock.now()
    while True:
        readings.append(ref.measure(channel))
        readings = readings[-need:]
        if (len(readings) == need and max(readings) - min(readings) <= limit
                and block.is_stable()):
            ctx.log(f"{key}: stable within {max(readings) - min(readings):.4f} °C "
                    f"after {ctx.clock.now() - t0:.0f} s")
            return
        if ctx.clock.now() - t0 > timeout:
            raise RunAbortedError(ctx.run_id, f"{key}: block not stable within "
                                  f"{timeout:g} s at {setpoint} °C")
        ctx.sleep(interval)


def dmm_range_for(ohms: float) -> float:
    """The DMM 4-wire range (Ω) for a resistance, keeping 20 % over-range headroom."""
    for rng in (100.0, 1_000.0, 10_000.0):
        if ohms <= rng * 1.1:
            return rng
    raise ValidationError("resistance", ohms, "<= 11 kΩ")


#: The DMM's 4-wire resistance ranges (Ω) and their labels.
DMM_RANGE_LABELS: dict[float, RangeLabel] = {
    upper: RangeLabel.parse(label) for upper, label in (
        (100.0, "100 Ω"), (1_000.0, "1 kΩ"), (10_000.0, "10 kΩ"))}


def _range_label(rng: float) -> RangeLabel:
    return DMM_RANGE_LABELS[rng]


#: The unit of each input of the model (the budget carries them to the certificate).
INPUT_UNITS = {"t_read": units.DEGREE_CELSIUS.symbol, "e_ref": units.DEGREE_CELSIUS.symbol,
               "g_ref": units.ONE.symbol, "dt_block": units.DEGREE_CELSIUS.symbol,
               "R_ind": units.OHM.symbol, "dR_res": units.OHM.symbol,
               "g_dmm": units.ONE.symbol, "o_dmm": units.OHM.symbol}


class PrtComparison(Procedure):
    """PRT calibration by comparison (see the module docstring)."""

    info = ProcedureInfo(
        id="prt-comparison",
        version="1.0",
        title="Platinum resistance thermometer, comparison in a dry block",
        quantity=Quantity.TEMPERATURE,
        device_type="platinum resistance thermometer",
        roles={
            "thermometer": RoleSpec("standard", Thermometer, "reference thermometer readout"),
            "dmm": RoleSpec("standard", Dmm, "DMM measuring the PRT 4-wire"),
            "temperature_source": RoleSpec("auxiliary", TemperatureSource, "dry block"),
            "environment": RoleSpec("auxiliary", EnvironmentSensor, "room sensor"),
        },
        environment=DRY_BLOCK_ROOM,
    )
    Parameters = PrtParameters
    FILE_PARAMETERS = ("table",)

    def __init__(self, parameters: PrtParameters | None = None) -> None:
        super().__init__(parameters)
        rows = load_table(self.parameters.table or TABLE, PrtPoint)
        check_unique(rows, "key", "point table")
        if len(rows) < 3:
            raise ValidationError("point table", len(rows), ">= 3 temperatures for a CVD fit")
        self._points: tuple[PrtPoint, ...] = rows

    def test_points(self) -> Sequence[PrtPoint]:
        return self._points

    # -- steps -------------------------------------------------------------------------------

    def setup(self, ctx: RunContext) -> None:
        dmm: Dmm = ctx.instrument("dmm", Dmm)
        if dmm.terminals != "REAR":
            raise PreconditionError(
                "dmm_terminals", "the DMM's front/rear switch is on FRONT: set it to REAR "
                "(the PRT is wired 4-wire to the rear terminals)")

    def execute(self, ctx: RunContext) -> None:
        p: PrtParameters = self.parameters
        block: TemperatureSource = ctx.instrument("temperature_source", TemperatureSource)
        ref: Thermometer = ctx.instrument("thermometer", Thermometer)
        dmm: Dmm = ctx.instrument("dmm", Dmm)
        for point in ctx.points(self._points):
            block.setpoint = point.setpoint
            block.enable()
            self._wait_stable(ctx, block, ref, point)
            rng = dmm_range_for(float(cvd_resistance(point.setpoint)))
            dmm.configure_resistance_4w(range=rng, nplc=p.nplc)
            t_reads: list[float] = []
            r_reads: list[float] = []
            for _ in range(point.cycles):
                t_reads.append(ref.measure(p.reference_channel))
                r_reads.append(dmm.read())
                ctx.sleep(p.reading_interval)
            room = ctx.room()
            ctx.commit(self.evaluate(point, np.array(t_reads), np.array(r_reads), rng,
                                     dmm.resolution, ctx.standards,
                                     room.temperature if room else None))

    def _wait_stable(self, ctx: RunContext, block: TemperatureSource, ref: Thermometer,
                     point: PrtPoint) -> None:
        p: PrtParameters = self.parameters
        wait_stable(ctx, block, ref, key=point.key, setpoint=point.setpoint,
                    channel=p.reference_channel, window=p.stability_window,
                    interval=p.stability_interval, limit=p.stability_limit,
                    timeout=p.stability_timeout)

    def make_safe(self, ctx: RunContext) -> None:
        ctx.instrument("temperature_source", TemperatureSource).disable()

    # -- evaluation --------------------------------------------------------------------------

    def evaluate(self, point: PrtPoint, t_reads: np.ndarray, r_reads: np.ndarray,
                 dmm_range: float, resolution: float,
                 standards: dict[str, RegisteredStandard] | Any,
                 room_temperature: float | None = None) -> PointResult:
        """Deviation from IEC 60751 at one temperature, with its budget (pure computation)."""
        p: PrtParameters = self.parameters
        ref_std: RegisteredStandard = standards["thermometer"]
        dmm_std: RegisteredStandard = standards["dmm"]
        e_ref = ref_std.correction(Quantity.TEMPERATURE, None, CorrectionParameter.OFFSET)
        g_ref = ref_std.correction(Quantity.TEMPERATURE, None, CorrectionParameter.GAIN)
        label = _range_label(dmm_range)
        g_dmm = dmm_std.correction(Quantity.RESISTANCE, label, CorrectionParameter.GAIN)
        o_dmm = dmm_std.correction(Quantity.RESISTANCE, label, CorrectionParameter.OFFSET)
        if e_ref is None:
            raise PreconditionError("correction_missing",
                                    f"reference thermometer {ref_std.id} has no certified offset")
        if g_dmm is None or o_dmm is None:
            raise PreconditionError("correction_missing", f"DMM {dmm_std.id} has no certified "
                                    f"gain and offset for its {label} range")
        n_t, n_r = t_reads.size, r_reads.size
        # identical readings have no spread (std() of them can round to 1e-22, not 0)
        s_t = float(t_reads.std(ddof=1)) if np.ptp(t_reads) > 0 else 0.0
        s_r = float(r_reads.std(ddof=1)) if np.ptp(r_reads) > 0 else 0.0
        excess = max(0.0, float(t_reads.mean()) - (room_temperature or 23.0))
        uniformity = p.block_uniformity + p.block_uniformity_per_100k * excess / 100.0
        inputs: dict[str, Any] = {
            "t_read": (Normal(float(t_reads.mean()), s_t / math.sqrt(n_t), dof=n_t - 1)
                       if s_t > 0 else Constant(float(t_reads.mean()))),
            "e_ref": Normal(e_ref.value, e_ref.u, dof=e_ref.dof),
            "g_ref": (Normal(g_ref.value, g_ref.u, dof=g_ref.dof) if g_ref and g_ref.u > 0
                      else Constant(g_ref.value if g_ref else 0.0)),
            "dt_block": Rectangular(0.0, half_width=uniformity),
            "R_ind": (Normal(float(r_reads.mean()), s_r / math.sqrt(n_r), dof=n_r - 1)
                      if s_r > 0 else Constant(float(r_reads.mean()))),
            "dR_res": Rectangular(0.0, half_width=resolution / 2),
            "g_dmm": Normal(g_dmm.value, g_dmm.u, dof=g_dmm.dof),
            "o_dmm": Normal(o_dmm.value, o_dmm.u, dof=o_dmm.dof),
        }

        def deviation(t_read: Any, e_ref: Any, g_ref: Any, dt_block: Any, R_ind: Any,
                      dR_res: Any, g_dmm: Any, o_dmm: Any) -> Any:
            R = (R_ind + dR_res - o_dmm) / (1 + g_dmm)
            return cvd_temperature(R) - ((t_read - e_ref) / (1 + g_ref) + dt_block)

        # gain and offset fitted through one certificate are correlated (0 where stated apart)
        r_ref = e_ref.correlation_with(g_ref) if g_ref and g_ref.u > 0 else 0.0
        r_dmm = g_dmm.correlation_with(o_dmm)
        correlation = {pair: r for pair, r in ((("e_ref", "g_ref"), r_ref),
                                               (("g_dmm", "o_dmm"), r_dmm)) if r}
        r = gum(deviation, inputs, correlation or None, coverage=p.coverage)
        gain_ref = g_ref.value if g_ref else 0.0
        t_ref = (float(t_reads.mean()) - e_ref.value) / (1 + gain_ref)
        R = (float(r_reads.mean()) - o_dmm.value) / (1 + g_dmm.value)
        error = float(r.value)
        U = float(r.U)
        # the class tolerance at the nominal temperature, as the class states it
        tol = float(stated_limit(point.tolerance(point.setpoint)))
        measured = float(cvd_temperature(R))
        # the statement the certificate will make: on the reported (rounded) error and U
        decision = decide_reported(measured, U, -tol, tol, p.decision_rule, reference=t_ref,
                                   k=float(r.k)).decision
        # The random parts of u(R) and u(t_ref), which weight the curve fit.
        u_R = math.hypot(s_r / math.sqrt(n_r), resolution / 2 / math.sqrt(3))
        u_t = math.hypot(s_t / math.sqrt(n_t), uniformity / math.sqrt(3))
        return PointResult(
            key=point.key, index=self._points.index(point), stage="as-found",
            quantity=Quantity.TEMPERATURE, unit=Quantity.TEMPERATURE.unit.symbol,
            range_label=str(RangeLabel.of(point.setpoint, Quantity.TEMPERATURE.unit)),
            nominal=point.setpoint, reference_value=t_ref,
            measured_value=measured, error=error, U=U, k=float(r.k),
            coverage_probability=p.coverage, dof=float(r.dof), budget=budget_lines(r, INPUT_UNITS),
            readings=tuple(r_reads.tolist()), reference_readings=tuple(t_reads.tolist()),
            lower_limit=-tol, upper_limit=tol, conformity=str(decision.outcome),
            decision_rule=p.decision_rule, tur=float(decision.tur) if U > 0 else None,
            extra={"resistance": R, "u_resistance_random": u_R, "u_t_ref_random": u_t,
                   "dmm_range": dmm_range, "e_ref": e_ref.value, "u_e_ref": e_ref.u,
                   "u_g_ref": g_ref.u if g_ref else 0.0,
                   "g_dmm": g_dmm.value, "u_g_dmm": g_dmm.u, "o_dmm": o_dmm.value,
                   "u_o_dmm": o_dmm.u, "r_ref": r_ref, "r_dmm": r_dmm,
                   "block_uniformity": uniformity},
        )

    def analyse(self, points: Sequence[PointResult], ctx: RunContext) -> dict[str, Any]:
        """Callendar–Van Dusen fit over every point, see :func:`fit_cvd`."""
        return fit_cvd(points, coverage=self.parameters.coverage)


def fit_cvd(points: Sequence[PointResult], coverage: float = 0.95) -> dict[str, Any]:
    """Fit R = R0·(1 + A·t + B·t²) to the points' (t_ref, R) by weighted least squares.

    The random parts (Type A, resolution, block) weight the fit; the systematic parts shared
    by every point — the reference correction c_ref (shifts every t_ref alike) and each DMM
    range's gain (scales every R on that range alike) — are propagated through the fit's
    linear map, so the coefficients' covariance is honest about them.
    """
    pts = sorted(points, key=lambda q: q.reference_value)
    t = np.array([q.reference_value for q in pts])
    R = np.array([q.extra["resistance"] for q in pts])
    u_R = np.array([q.extra["u_resistance_random"] for q in pts])
    u_t = np.array([q.extra["u_t_ref_random"] for q in pts])
    fit = curve_fit(t, R, degree=2, u_y=u_R, u_x=u_t)
    a = np.asarray(fit.params, dtype=float)
    cov = np.asarray(fit.cov, dtype=float)

    # Systematic inputs: Δa = L·Δy with L the fit's linear map (weights as in the fit).
    slope = a[1] + 2 * a[2] * t
    w = 1.0 / (u_R**2 + (slope * u_t) ** 2)
    X = np.vander(t, 3, increasing=True)
    L = np.linalg.solve(X.T @ (w[:, None] * X), X.T * w)
    # A shift δ of every t_ref moves each R by −slope·δ relative to the curve. Each pair is
    # a gain and an offset with their correlation r (points journaled before r was kept: 0).
    pairs = [(-slope * pts[0].extra["u_e_ref"], -slope * t * pts[0].extra["u_g_ref"],
              float(pts[0].extra.get("r_ref", 0.0)))]
    for rng in sorted({q.extra["dmm_range"] for q in pts}):
        on = np.array([q.extra["dmm_range"] == rng for q in pts])
        first = next(q for q in pts if q.extra["dmm_range"] == rng)
        pairs.append((np.where(on, R * first.extra["u_g_dmm"], 0.0),  # gain scales R
                      np.where(on, first.extra["u_o_dmm"], 0.0),  # offset shifts R
                      float(first.extra.get("r_dmm", 0.0))))
    for dy_a, dy_b, r in pairs:
        la, lb = L @ dy_a, L @ dy_b
        cov = cov + np.outer(la, la) + np.outer(lb, lb) + r * (np.outer(la, lb)
                                                               + np.outer(lb, la))

    # (a0, a1, a2) -> (R0, A, B)
    R0, A, B = a[0], a[1] / a[0], a[2] / a[0]
    J = np.array([[1, 0, 0], [-a[1] / a[0] ** 2, 1 / a[0], 0], [-a[2] / a[0] ** 2, 0, 1 / a[0]]])
    cov_c = J @ cov @ J.T
    u_c = np.sqrt(np.diag(cov_c))
    k = 2.0 if abs(coverage - 0.9545) < 1e-3 else float(_normal_k(coverage))

    # Uncertainty of a temperature computed from the curve: ∂t/∂a_i = −t^i / (∂R/∂t).
    grid = np.linspace(float(t.min()), float(t.max()), 9)
    g = -np.vander(grid, 3, increasing=True) / (a[1] + 2 * a[2] * grid)[:, None]
    u_grid = np.sqrt(np.einsum("ni,ij,nj->n", g, cov, g))
    residuals_t = (R - np.polyval(a[::-1], t)) / slope
    corr = cov_c / np.outer(u_c, u_c)
    return {
        "model": "R = R0·(1 + A·t + B·t²), t in °C",
        "coefficients": {"R0": R0, "A": A, "B": B},
        "standard_uncertainties": {"R0": u_c[0], "A": u_c[1], "B": u_c[2]},
        "covariance": cov_c.tolist(),
        "correlation": corr.tolist(),
        "coverage_factor": k,
        "residuals_ohm": (R - np.polyval(a[::-1], t)).tolist(),
        "residuals_temperature": residuals_t.tolist(),
        "curve_uncertainty": [
            {"t": float(tt), "u": float(uu), "U": float(k * uu)} for tt, uu in zip(
                grid, u_grid, strict=True)
        ],
        "points": [{"t": float(tt), "R": float(rr)} for tt, rr in zip(t, R, strict=True)],
    }


def _normal_k(coverage: float) -> float:
    return float(norm.ppf(0.5 + coverage / 2))
