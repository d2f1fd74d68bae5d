"""Fluke 5522A multifunction calibrator (DC voltage and resistance), as a device model.

Command set and reply formats: docs/simulated-bench.md, "Calibrator (Fluke 5522A style)".
The true output is ``setpoint·(1 + gain + drift(t)) + offset`` of the active range in operate,
and an open circuit in standby. True errors are drawn well inside the 1-year specification;
``drift`` (:class:`~simulators.drift.Drift`, relative, off by default) moves the gain of every
DC voltage range with the bench's clock, as an ageing reference would.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simulators.clock import Clock
from simulators.drift import Drift
from simulators.faults import Faults
from simulators.physics import Stimulus, draw_within
from simulators.scpi import ScpiError, ScpiModel, one_param
from simulators.truth import RangeError, as_dict, merge

#: DC voltage ranges: (upper limit V, 1-year spec ppm of output, 1-year floor V).
DCV_RANGES: tuple[tuple[float, float, float], ...] = (
    (0.33, 15.0, 1e-6),
    (3.3, 11.0, 2e-6),
    (33.0, 12.0, 20e-6),
    (330.0, 18.0, 150e-6),
    (1020.0, 18.0, 1500e-6),
)

#: Resistance ranges: (upper limit Ω, 1-year spec ppm of output, 1-year floor Ω).
OHM_RANGES: tuple[tuple[float, float, float], ...] = (
    (11.0, 40.0, 0.001),
    (33.0, 30.0, 0.0015),
    (110.0, 28.0, 0.0014),
    (330.0, 28.0, 0.002),
    (1.1e3, 28.0, 0.002),
    (3.3e3, 28.0, 0.02),
    (11e3, 28.0, 0.02),
    (33e3, 28.0, 0.2),
    (110e3, 28.0, 0.2),
    (330e3, 32.0, 2.0),
    (1.1e6, 32.0, 2.0),
    (3.3e6, 40.0, 30.0),
    (11e6, 110.0, 50.0),
    (33e6, 200.0, 2500.0),
    (110e6, 500.0, 3000.0),
    (330e6, 3000.0, 100e3),
    (1100e6, 15000.0, 500e3),
)

MAX_VOLTAGE = 1020.0
MAX_RESISTANCE = 1100e6

_UNITS: dict[str, tuple[str, float]] = {
    "V": ("V", 1.0),
    "MV": ("V", 1e-3),
    "OHM": ("OHM", 1.0),
    "KOHM": ("OHM", 1e3),
    "MOHM": ("OHM", 1e6),
}
_OUT = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([A-Za-z]*)$")


@dataclass(frozen=True)
class CalibratorTruth:
    """True errors of one 5522A: per range, keyed by the range's upper limit (V or Ω)."""

    dcv: dict[float, RangeError] = field(default_factory=dict)
    ohm: dict[float, RangeError] = field(default_factory=dict)

    @staticmethod
    def draw(rng: np.random.Generator) -> CalibratorTruth:
        """A healthy calibrator: gain and offset per range inside the 1-year spec."""
        return CalibratorTruth(
            dcv={r: RangeError(draw_within(rng, ppm * 1e-6), draw_within(rng, floor))
                 for r, ppm, floor in DCV_RANGES},
            ohm={r: RangeError(draw_within(rng, ppm * 1e-6), draw_within(rng, floor))
                 for r, ppm, floor in OHM_RANGES},
        )


def range_for(value: float, ranges: tuple[tuple[float, float, float], ...]) -> float:
    """Upper limit of the smallest range that holds ``|value|``."""
    for upper, _, _ in ranges:
        if abs(value) < upper:
            return upper
    return ranges[-1][0]


class Calibrator5522A(ScpiModel):
    """Device model of the 5522A: setpoint, operate/standby, error queue, true output."""

    def __init__(
        self,
        rng: np.random.Generator,
        truth: CalibratorTruth | Mapping[str, Any] | None = None,
        lock: threading.RLock | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(lock)
        self.faults = Faults()
        self._clock = clock
        self.drift = Drift(unit="1")
        """Relative drift of the DC voltage gain (all ranges), per s of the clock's time."""
        self.serial = f"{int(rng.integers(1_000_000, 9_999_999))}"
        self.idn = f"FLUKE,5522A,{self.serial},1.4+1.3+2.0+*"
        self.true_errors: CalibratorTruth = merge(
            CalibratorTruth.draw(rng), truth, "calibrator_truth"
        )
        self.operate = False
        self.value = 0.0
        self.unit = "V"
        self.add("OUTput", self._out)
        self.add("OUTput", self.bare(lambda: f"{self.value:.6E},{self.unit}"), query=True)
        self.add("OPERate", self.bare(lambda: self._set_operate(True)))
        self.add("STBY", self.bare(lambda: self._set_operate(False)))
        self.add("OPERate", self.bare(lambda: str(int(self.operate))), query=True)
        self.add("ERRor", self.bare(self._err), query=True)

    # --- commands -----------------------------------------------------------------------

    def reset(self) -> None:
        """``*RST``: standby, 0 V DC."""
        self.operate = False
        self.value = 0.0
        self.unit = "V"

    def _set_operate(self, on: bool) -> None:
        if not on and self.faults.stuck_output:
            return  # the output relay is stuck closed: standby accepted, output still live
        self.operate = on

    def _err(self) -> str:
        code, message = self.pop_error()
        if code == 0:
            return '0,"No Error"'
        return f'{code},"{message}"'

    def _out(self, params: list[str]) -> None:
        # "OUT 1.5 V" arrives as one parameter "1.5 V"; "OUT 1.5,V" is not 5522A syntax.
        text = one_param(params)
        assert text is not None
        m = _OUT.match(text.strip())
        if m is None:
            raise ScpiError(-104)
        number, unit_word = m.group(1), m.group(2).upper()
        if not unit_word:
            raise ScpiError(-109)
        if unit_word not in _UNITS:
            raise ScpiError(-222)
        unit, scale = _UNITS[unit_word]
        value = float(number) * scale
        if unit == "V" and not -MAX_VOLTAGE <= value <= MAX_VOLTAGE:
            raise ScpiError(-222)
        if unit == "OHM" and not 0.0 <= value <= MAX_RESISTANCE:
            raise ScpiError(-222)
        self.value, self.unit = value, unit

    # --- physics ------------------------------------------------------------------------

    def active_range(self) -> tuple[float, RangeError]:
        """The range in use for the present setpoint and its true error."""
        if self.unit == "V":
            r = range_for(self.value, DCV_RANGES)
            return r, self.true_errors.dcv[r]
        r = range_for(self.value, OHM_RANGES)
        return r, self.true_errors.ohm[r]

    def now(self) -> float:
        """The bench clock's time, s (0 without a clock)."""
        return self._clock.now() if self._clock is not None else 0.0

    def true_value(self, value: float, unit: str = "V", t: float | None = None) -> float:
        """What the terminals would really give in operate for setpoint ``value`` (V or OHM).

        For checks over many points without sending each one: the same arithmetic as the
        live output, drift included at time ``t`` (s; default the clock's now). ``unit`` is
        ``"V"`` or ``"OHM"``; ``value`` within the output limits.
        """
        if unit == "V" and -MAX_VOLTAGE <= value <= MAX_VOLTAGE:
            when = self.now() if t is None else t
            return self.true_errors.dcv[range_for(value, DCV_RANGES)].apply(value) + (
                value * self.drift.value(when))
        if unit == "OHM" and 0.0 <= value <= MAX_RESISTANCE:
            return self.true_errors.ohm[range_for(value, OHM_RANGES)].apply(value)
        raise ValueError(
            f"calibrator true_value value={value!r} unit={unit!r} is not allowed: expected "
            f"V within ±{MAX_VOLTAGE} or OHM within 0 … {MAX_RESISTANCE:g}"
        )

    def output(self, t: float | None = None) -> Stimulus:
        """What the terminals really present at time ``t`` (s, default the clock's now): the
        DMM's front input."""
        with self.lock:
            if not self.operate:
                return Stimulus.open()
            _, err = self.active_range()
            if self.unit != "V":
                return Stimulus("OHM", err.apply(self.value))
            drift = self.drift.value(self.now() if t is None else t)
            return Stimulus("V", err.apply(self.value) + self.value * drift)

    def truth(self) -> dict[str, object]:
        """Serial, state, true output and true errors per range (plain dicts), at the clock's
        now. ``errors`` are the errors as drawn (what a calibration at time 0 finds);
        ``drift`` the settings and present ``value`` of the gain drift, which adds to every
        DC voltage range's gain (``dcv_gain_now``: range → gain including the drift)."""
        with self.lock:
            now = self.now()
            out = self.output(now)
            drift = self.drift.value(now)
            rng, _ = self.active_range()
            return {
                "model": "5522A",
                "serial": self.serial,
                "operate": self.operate,
                "setpoint": self.value,
                "unit": self.unit,
                "range": rng,
                "true_output": {"kind": out.kind, "value": out.value},
                "errors": as_dict(self.true_errors),
                "drift": self.drift.as_dict(now),
                "dcv_gain_now": {r: e.gain + drift for r, e in self.true_errors.dcv.items()},
            }
