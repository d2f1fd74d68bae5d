"""THP-1 room sensor (air temperature, relative humidity, barometric pressure), as a device model.

Each reading is the room's true value at the clock's time plus the sensor's own (seeded)
error and a little read noise. Register map: docs/simulated-bench.md, "Environment sensor".
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulators.clock import Clock
from simulators.faults import Faults
from simulators.physics import draw_within
from simulators.registers import Register, RegisterTable
from simulators.room import RoomProfile
from simulators.truth import as_dict, merge


@dataclass(frozen=True)
class ThpTruth:
    """True errors of one THP-1: reading = room + offset + noise."""

    temperature_offset: float = 0.0
    """°C (drawn within ±0.2 °C)."""
    humidity_offset: float = 0.0
    """%RH (drawn within ±1.5 %RH)."""
    pressure_offset: float = 0.0
    """hPa (drawn within ±0.5 hPa)."""
    temperature_noise: float = 0.01
    """°C rms."""
    humidity_noise: float = 0.05
    """%RH rms."""
    pressure_noise: float = 0.02
    """hPa rms."""

    @staticmethod
    def draw(rng: np.random.Generator) -> ThpTruth:
        """A healthy sensor inside its specification."""
        return ThpTruth(
            temperature_offset=draw_within(rng, 0.2),
            humidity_offset=draw_within(rng, 1.5),
            pressure_offset=draw_within(rng, 0.5),
        )


class ThpSensor:
    """Device model of the THP-1: live readings from the room, status, register maps."""

    model_name = "THP-1"
    vendor = "Simulated Environment"
    firmware = (1, 7)

    def __init__(
        self,
        rng: np.random.Generator,
        clock: Clock,
        room: RoomProfile,
        truth: ThpTruth | Mapping[str, Any] | None = None,
        lock: threading.RLock | None = None,
    ) -> None:
        self.lock = lock or threading.RLock()
        self.faults = Faults()
        self.sensor_fault = False
        """Set to raise status bit 0 (sensor fault), as the device's self-test would."""
        self._rng = rng
        self._clock = clock
        self._room = room
        self.serial = int(rng.integers(1_000_000, 1_999_999))
        self.true_errors: ThpTruth = merge(ThpTruth.draw(rng), truth, "environment_truth")
        regs = [
            Register(0, "float32", "air temperature", self.temperature),
            Register(2, "float32", "relative humidity", self.humidity),
            Register(4, "float32", "barometric pressure", self.pressure),
            Register(6, "uint16", "status", lambda: int(self.sensor_fault)),
        ]
        self.input = RegisterTable(regs)
        self.holding = RegisterTable([
            *regs,
            Register(100, "uint32", "serial number", lambda: self.serial),
            Register(102, "uint16", "firmware", lambda: self.firmware[0] * 256 + self.firmware[1]),
        ])

    def _noise(self, sigma: float) -> float:
        return sigma * float(self._rng.standard_normal())

    def temperature(self) -> float:
        """Air temperature reading, °C (−999.9 under the out-of-range fault)."""
        with self.lock:
            if self.faults.out_of_range:
                return -999.9
            e = self.true_errors
            return self._room.now().temperature + e.temperature_offset + self._noise(
                e.temperature_noise)

    def humidity(self) -> float:
        """Relative humidity reading, % (−99.9 under the out-of-range fault)."""
        with self.lock:
            if self.faults.out_of_range:
                return -99.9
            e = self.true_errors
            return self._room.now().humidity + e.humidity_offset + self._noise(e.humidity_noise)

    def pressure(self) -> float:
        """Barometric pressure reading, hPa (0 under the out-of-range fault)."""
        with self.lock:
            if self.faults.out_of_range:
                return 0.0
            e = self.true_errors
            return self._room.now().pressure / 100.0 + e.pressure_offset + self._noise(
                e.pressure_noise)

    def truth(self) -> dict[str, object]:
        """True room conditions (hPa for pressure) and the sensor's errors."""
        with self.lock:
            c = self._room.now()
            return {
                "model": self.model_name,
                "serial": self.serial,
                "room": {"temperature": c.temperature, "humidity": c.humidity,
                         "pressure_hpa": c.pressure / 100.0},
                "errors": as_dict(self.true_errors),
            }
