"""DB-450 dry-block calibrator with the PRT under calibration in its well, as device models.

Thermal model (evaluated lazily at the clock's time, integrated in steps of ≤ 2 s):

- the controller's sensor zone follows a first-order lag toward its target, time constant
  ``time_constant`` (a few minutes) in control, ``standby_time_constant`` in standby;
- in control the target is ``setpoint − sensor_error`` (the controller makes its own, biased,
  sensor read the setpoint); in standby the target is the room temperature;
- the test zone (where the PRT and the reference probe sit) loses a fraction
  ``loss_coefficient`` of its excess over the room, plus a small control ripple;
- the PRT's well differs from the reference well by ``well_difference`` per 100 °C above room
  (radial non-uniformity, a term of every dry-block comparison budget);
- PV = control-zone temperature + ``sensor_error`` + read noise;
- ``drift`` (:class:`~simulators.drift.Drift`, °C, off by default) adds to ``sensor_error``
  with the clock's time, as an ageing control sensor does: the block then both controls to
  and displays a temperature that moves away from the truth.

Register map: docs/simulated-bench.md, "Dry block DB-450".
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulators.clock import Clock
from simulators.drift import Drift
from simulators.faults import Faults
from simulators.physics import IEC_60751, callendar_van_dusen, draw_within
from simulators.registers import (
    ILLEGAL_VALUE,
    ModbusDeviceError,
    Register,
    RegisterTable,
)
from simulators.truth import as_dict, merge

SETPOINT_MIN = -25.0
SETPOINT_MAX = 450.0
STABLE_BAND = 0.02  # °C
STABLE_TIME = 60.0  # s
MAX_STEP = 2.0  # s: integration step; the lag is minutes, so this is far below it


@dataclass(frozen=True)
class DryBlockTruth:
    """True properties of one DB-450 (all temperatures in °C, times in s)."""

    sensor_error: float = 0.0
    """Controller sensor error: PV = true control-zone temperature + sensor_error."""
    time_constant: float = 180.0
    """First-order time constant in control, s."""
    standby_time_constant: float = 900.0
    """Time constant of the relaxation to room temperature in standby, s."""
    loss_coefficient: float = 2e-4
    """Fraction of (block − room) lost between the control zone and the test zone."""
    stability: float = 0.002
    """Amplitude of the control ripple of the test zone, °C."""
    pv_noise: float = 0.003
    """Read noise of the process value, °C rms."""
    well_difference: float = 0.0
    """Radial non-uniformity: the test well (the PRT's) minus the reference well, °C per
    100 °C of block temperature above the room."""

    @staticmethod
    def draw(rng: np.random.Generator) -> DryBlockTruth:
        """A healthy block: controller sensor within ±0.15 °C, wells within ±3 mK/100 °C."""
        return DryBlockTruth(sensor_error=draw_within(rng, 0.15),
                             well_difference=draw_within(rng, 0.003))


@dataclass(frozen=True)
class PrtTruth:
    """Callendar–Van Dusen coefficients of the PRT under calibration (near IEC 60751)."""

    r0: float = IEC_60751["r0"]
    a: float = IEC_60751["a"]
    b: float = IEC_60751["b"]
    c: float = IEC_60751["c"]

    @staticmethod
    def draw(rng: np.random.Generator) -> PrtTruth:
        """An industrial Pt100, roughly class A: R0 within ±0.06 Ω, A, B, C near nominal."""
        return PrtTruth(
            r0=IEC_60751["r0"] + draw_within(rng, 0.06),
            a=IEC_60751["a"] * (1.0 + draw_within(rng, 1.5e-3)),
            b=IEC_60751["b"] * (1.0 + draw_within(rng, 1e-2)),
            c=IEC_60751["c"] * (1.0 + draw_within(rng, 5e-2)),
        )

    def resistance(self, t: float) -> float:
        """True resistance (Ω) at temperature ``t`` °C."""
        return callendar_van_dusen(t, self.r0, self.a, self.b, self.c)


class DryBlockDB450:
    """Device model of the DB-450: setpoint, control mode, thermal state, register maps."""

    model_name = "DB-450"
    vendor = "Simulated Thermal"
    firmware = (2, 3)

    def __init__(
        self,
        rng: np.random.Generator,
        clock: Clock,
        room_temperature: Callable[[float], float],
        truth: DryBlockTruth | Mapping[str, Any] | None = None,
        lock: threading.RLock | None = None,
    ) -> None:
        self.lock = lock or threading.RLock()
        self.faults = Faults()
        self.drift = Drift(unit="°C")
        """Drift of the controller sensor's error, °C (rate in °C per s)."""
        self._rng = rng
        self._clock = clock
        self._room = room_temperature
        self.serial = int(rng.integers(4_500_000, 4_599_999))
        self.true_errors: DryBlockTruth = merge(DryBlockTruth.draw(rng), truth, "dry_block_truth")
        self._phases = rng.uniform(0.0, 2.0 * math.pi, size=2)
        t0 = clock.now()
        self.setpoint = 25.0
        self.control = 0
        self._t = t0
        self._tc = room_temperature(t0)  # control-zone temperature, °C
        self._in_band_since: float | None = None
        self.holding = RegisterTable([
            Register(0, "float32", "setpoint", lambda: self.setpoint,
                     write=self._write_setpoint, validate=self._check_setpoint),
            Register(2, "uint16", "control", lambda: self.control,
                     write=self._write_control, validate=self._check_control),
            Register(100, "uint32", "serial number", lambda: self.serial),
            Register(102, "uint16", "firmware", lambda: self.firmware[0] * 256 + self.firmware[1]),
        ])
        self.input = RegisterTable([
            Register(0, "float32", "process value", self.process_value),
            Register(2, "uint16", "stable", lambda: int(self.stable())),
            Register(3, "float32", "heater output", self.heater_output),
        ])

    # --- register writes ----------------------------------------------------------------

    @staticmethod
    def _check_setpoint(value: float | int) -> None:
        if not (math.isfinite(value) and SETPOINT_MIN <= value <= SETPOINT_MAX):
            raise ModbusDeviceError(
                ILLEGAL_VALUE, f"setpoint {value} °C outside {SETPOINT_MIN} … {SETPOINT_MAX} °C"
            )

    @staticmethod
    def _check_control(value: float | int) -> None:
        if value not in (0, 1):
            raise ModbusDeviceError(ILLEGAL_VALUE, f"control {value} not 0 (standby) or 1")

    def _write_setpoint(self, value: float | int) -> None:
        with self.lock:
            self._advance()
            if float(value) != self.setpoint:  # re-sending the same setpoint changes nothing
                self.setpoint = float(value)
                self._in_band_since = None

    def _write_control(self, value: float | int) -> None:
        with self.lock:
            self._advance()
            if int(value) == 0 and self.faults.stuck_output:
                return  # the controller ignores standby: the heater stays on
            if int(value) != self.control:
                self.control = int(value)
                self._in_band_since = None

    # --- thermal model ------------------------------------------------------------------

    def sensor_error(self, t: float | None = None) -> float:
        """The controller sensor's error at time ``t`` (s, default now), drift included, °C."""
        return self.true_errors.sensor_error + self.drift.value(
            self._clock.now() if t is None else t)

    def _target(self, t: float) -> tuple[float, float]:
        """(target temperature, time constant) of the control zone at time ``t``."""
        if self.control:
            return self.setpoint - self.sensor_error(t), self.true_errors.time_constant
        return self._room(t), self.true_errors.standby_time_constant

    def _advance(self) -> None:
        """Integrate the thermal state up to the clock's now (exact per step, ≤ 2 s steps)."""
        now = self._clock.now()
        while self._t < now:
            dt = min(MAX_STEP, now - self._t)
            target, tau = self._target(self._t + dt / 2)
            self._tc = target + (self._tc - target) * math.exp(-dt / tau)
            self._t += dt
            pv = self._tc + self.sensor_error(self._t)
            if self.control and abs(pv - self.setpoint) <= STABLE_BAND:
                if self._in_band_since is None:
                    self._in_band_since = self._t
            else:
                self._in_band_since = None

    def _ripple(self, t: float) -> float:
        if not self.control:
            return 0.0
        a = self.true_errors.stability
        return a * (0.6 * math.sin(2 * math.pi * t / 37.0 + self._phases[0])
                    + 0.4 * math.sin(2 * math.pi * t / 113.0 + self._phases[1]))

    def control_zone_temperature(self, t: float | None = None) -> float:
        """True temperature of the controller's sensor zone, °C (at ``t`` ≥ now, else now)."""
        with self.lock:
            self._advance()
            if t is None or t <= self._t:
                return self._tc
            target, tau = self._target(t)
            return target + (self._tc - target) * math.exp(-(t - self._t) / tau)

    def true_temperature(self, t: float | None = None) -> float:
        """True temperature of the test zone (where the PRT and the reference sit), °C."""
        with self.lock:
            when = self._clock.now() if t is None else t
            tc = self.control_zone_temperature(when)
            room = self._room(when)
            return tc - self.true_errors.loss_coefficient * (tc - room) + self._ripple(when)

    def test_well_temperature(self, t: float | None = None) -> float:
        """True temperature of the well holding the PRT under calibration, °C.

        The reference probe reads :meth:`true_temperature`; the PRT's well differs from it by
        the block's radial non-uniformity, which grows with the excess over the room.
        """
        with self.lock:
            when = self._clock.now() if t is None else t
            t_ref = self.true_temperature(when)
            excess = t_ref - self._room(when)
            return t_ref + self.true_errors.well_difference * excess / 100.0

    def process_value(self) -> float:
        """What the controller displays and reports (input registers 0–1), °C."""
        with self.lock:
            if self.faults.out_of_range:
                return 999.9
            return (self.control_zone_temperature() + self.sensor_error()
                    + self.true_errors.pv_noise * float(self._rng.standard_normal()))

    def stable(self) -> bool:
        """True when |PV − SP| ≤ 0.02 °C has held for the last 60 s (in control)."""
        with self.lock:
            self._advance()
            return (self._in_band_since is not None
                    and self._t - self._in_band_since >= STABLE_TIME)

    def heater_output(self) -> float:
        """Heater drive, % (−100 … 100; negative = Peltier cooling below room), 0 in standby."""
        with self.lock:
            if not self.control:
                return 0.0
            tc = self.control_zone_temperature()
            target, _ = self._target(self._clock.now())
            room = self._room(self._clock.now())
            hold = 0.2 * (tc - room)  # % per °C above room to make up for the losses
            return float(np.clip(hold + 5.0 * (target - tc), -100.0, 100.0))

    def truth(self) -> dict[str, object]:
        """True test-zone and control-zone temperatures, state and errors (plain dicts).

        ``sensor_error_now`` is the controller sensor's error with its drift at the clock's
        now, so the block's indicated error (noise-free PV − test zone) is
        ``control_zone_temperature + sensor_error_now − true_temperature``."""
        with self.lock:
            now = self._clock.now()
            return {
                "model": self.model_name,
                "serial": self.serial,
                "setpoint": self.setpoint,
                "control": self.control,
                "true_temperature": self.true_temperature(),
                "test_well_temperature": self.test_well_temperature(),
                "control_zone_temperature": self.control_zone_temperature(),
                "stable": self.stable(),
                "errors": as_dict(self.true_errors),
                "drift": self.drift.as_dict(now),
                "sensor_error_now": self.sensor_error(now),
            }
