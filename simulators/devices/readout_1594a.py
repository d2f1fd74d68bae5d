"""Fluke 1594A reference thermometer readout with one reference probe, as a device model.

``MEAS? 1`` answers the dry block's true test-zone temperature + the probe's error + noise.
Channels 2 … 4 exist but nothing is connected to them. ``drift``
(:class:`~simulators.drift.Drift`, °C, off by default) adds to the probe's error with the
clock's time, as an SPRT that oxidises or was knocked. Command set:
docs/simulated-bench.md, "Reference thermometer readout".
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulators.clock import Clock
from simulators.drift import Drift
from simulators.faults import Faults
from simulators.physics import draw_within
from simulators.scpi import ScpiError, ScpiModel, one_param, parse_number
from simulators.truth import as_dict, merge

CHANNELS = (1, 2, 3, 4)
CONNECTED = 1
OVERLOAD_TEXT = "+9.9E+37"


@dataclass(frozen=True)
class ReadoutTruth:
    """True error of the reference chain (readout + calibrated SPRT), °C."""

    probe_error: float = 0.0
    """Reading − true temperature (drawn within ±5 mK)."""
    noise: float = 0.0003
    """°C rms per reading."""

    @staticmethod
    def draw(rng: np.random.Generator) -> ReadoutTruth:
        """A reference probe a few mK off, as its calibration certificate allows."""
        return ReadoutTruth(probe_error=draw_within(rng, 0.005))


class Readout1594A(ScpiModel):
    """Device model of the 1594A: four channels, channel 1 in the dry block."""

    def __init__(
        self,
        rng: np.random.Generator,
        clock: Clock,
        block_temperature: Callable[[float], float],
        truth: ReadoutTruth | Mapping[str, Any] | None = None,
        lock: threading.RLock | None = None,
    ) -> None:
        super().__init__(lock)
        self.faults = Faults()
        self.drift = Drift(unit="°C")
        """Drift of the reference probe's error, °C (rate in °C per s)."""
        self._rng = rng
        self._clock = clock
        self._block = block_temperature
        self.serial = f"B{int(rng.integers(10_000, 99_999))}"
        self.idn = f"FLUKE,1594A,{self.serial},1.40"
        self.true_errors: ReadoutTruth = merge(ReadoutTruth.draw(rng), truth, "readout_truth")
        self.add("MEASure[:TEMPerature]", self._measure, query=True)
        self.add("SYSTem:ERRor[:NEXT]", self.bare(self._err), query=True)

    def _err(self) -> str:
        code, message = self.pop_error()
        if code == 0:
            return '+0,"No error"'
        return f'{code:+d},"{message}"'

    def _measure(self, params: list[str]) -> str:
        text = one_param(params)
        assert text is not None
        value = parse_number(text)
        if value not in CHANNELS:
            raise ScpiError(-222, reply=OVERLOAD_TEXT)
        if value != CONNECTED:
            raise ScpiError(-222, reply=OVERLOAD_TEXT)
        if self.faults.out_of_range:
            return f"{-300.0:+.6E}"
        e = self.true_errors
        now = self._clock.now()
        reading = (self._block(now) + e.probe_error + self.drift.value(now)
                   + e.noise * float(self._rng.standard_normal()))
        return f"{reading:+.6E}"

    def truth(self) -> dict[str, object]:
        """The block temperature the probe sits in and the chain's error (``probe_error_now``:
        with its drift at the clock's now)."""
        with self.lock:
            now = self._clock.now()
            return {
                "model": "1594A",
                "serial": self.serial,
                "block_temperature": self._block(self._clock.now()),
                "errors": as_dict(self.true_errors),
                "drift": self.drift.as_dict(now),
                "probe_error_now": self.true_errors.probe_error + self.drift.value(now),
            }
