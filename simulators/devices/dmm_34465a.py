"""Keysight 34465A 6½-digit DMM (DC voltage, 4-wire resistance), as a device model.

Command set and reply formats: docs/simulated-bench.md, "Digital multimeter".

Physics of one reading at clock time t::

    reading = x·(1 + gain + tc_gain·ΔT) + offset + tc_offset·ΔT + noise,   ΔT = room(t) − 23 °C

quantised to the resolution of (range, NPLC). ``x`` is what the selected terminals see
(front: the calibrator's true output; rear: the PRT's true resistance). Noise is Gaussian
with σ = (ppm of range at NPLC 10)·√(10/NPLC); readings beyond 120 % of range (105 % on
1000 V) are the overload value ``+9.9E+37``. True errors are drawn inside the 1-year spec.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from simulators.clock import Clock
from simulators.faults import Faults
from simulators.physics import Stimulus, draw_within
from simulators.room import REFERENCE_TEMPERATURE
from simulators.scpi import ScpiError, ScpiModel, fmt_float, one_param, parse_bool, parse_number
from simulators.truth import RangeError, as_dict, merge

Function = Literal["VOLT", "FRES"]
Terminals = Literal["FRON", "REAR"]

#: Per range: (range, 1-year ppm of reading, 1-year ppm of range,
#:             tempco ppm of reading/°C, tempco ppm of range/°C, rms noise ppm of range @ NPLC 10).
VOLT_SPEC: tuple[tuple[float, float, float, float, float, float], ...] = (
    (0.1, 50.0, 35.0, 5.0, 5.0, 0.8),
    (1.0, 40.0, 7.0, 5.0, 1.0, 0.3),
    (10.0, 35.0, 5.0, 5.0, 1.0, 0.2),
    (100.0, 45.0, 6.0, 5.0, 1.0, 0.3),
    (1000.0, 45.0, 6.0, 5.0, 1.0, 0.3),
)
FRES_SPEC: tuple[tuple[float, float, float, float, float, float], ...] = (
    (100.0, 100.0, 40.0, 6.0, 5.0, 0.5),
    (1e3, 100.0, 10.0, 6.0, 1.0, 0.3),
    (1e4, 100.0, 10.0, 6.0, 1.0, 0.3),
    (1e5, 100.0, 10.0, 6.0, 1.0, 0.4),
    (1e6, 100.0, 10.0, 10.0, 1.0, 1.0),
    (1e7, 400.0, 10.0, 30.0, 4.0, 5.0),
    (1e8, 8000.0, 30.0, 1500.0, 20.0, 30.0),
)
SPECS = {"VOLT": VOLT_SPEC, "FRES": FRES_SPEC}
RANGES: dict[str, tuple[float, ...]] = {f: tuple(s[0] for s in SPECS[f]) for f in SPECS}
NOISE_PPM = {f: {s[0]: s[5] for s in SPECS[f]} for f in SPECS}

#: Integration time choices (power-line cycles) and the resolution each gives, ppm of range.
NPLC_RESOLUTION_PPM: dict[float, float] = {
    0.02: 3.0, 0.06: 1.5, 0.2: 0.7, 1.0: 0.3, 10.0: 0.1, 100.0: 0.03,
}
NPLC_CHOICES = tuple(sorted(NPLC_RESOLUTION_PPM))
DEFAULT_NPLC = 10.0
LINE_FREQUENCY = 50.0  # Hz: one PLC = 20 ms

OVERLOAD = 9.9e37
OVERLOAD_TEXT = "+9.9E+37"
MAX_COUNT = 1_000_000
MAX_READINGS = 1_000_000  # reading memory of the simulated instrument


@dataclass(frozen=True)
class DmmTruth:
    """True errors of one 34465A, per range (keyed by range in V or Ω).

    ``noise_scale`` multiplies the nominal noise (1 = datasheet-like, 0 = noiseless).
    """

    dcv: dict[float, RangeError] = field(default_factory=dict)
    fres: dict[float, RangeError] = field(default_factory=dict)
    noise_scale: float = 1.0

    @staticmethod
    def draw(rng: np.random.Generator) -> DmmTruth:
        """A healthy DMM: gain, offset and tempco per range inside the 1-year spec."""

        def errors(spec: tuple[tuple[float, float, float, float, float, float], ...]) -> dict[
            float, RangeError
        ]:
            return {
                r: RangeError(
                    gain=draw_within(rng, p_rdg * 1e-6),
                    offset=draw_within(rng, p_rng * 1e-6 * r),
                    tc_gain=draw_within(rng, tc_rdg * 1e-6),
                    tc_offset=draw_within(rng, tc_rng * 1e-6 * r),
                )
                for r, p_rdg, p_rng, tc_rdg, tc_rng, _ in spec
            }

        return DmmTruth(dcv=errors(VOLT_SPEC), fres=errors(FRES_SPEC))


@dataclass
class _FunctionSettings:
    range: float
    auto: bool = True
    nplc: float = DEFAULT_NPLC


def resolution(rng: float, nplc: float) -> float:
    """Reading resolution (V or Ω) on range ``rng`` at ``nplc`` power-line cycles."""
    return rng * NPLC_RESOLUTION_PPM[nplc] * 1e-6


def _overload_limit(fn: str, rng: float) -> float:
    # 20 % over-range on every range but 1000 V DC, which stops at 1050 V.
    return rng * (1.05 if fn == "VOLT" and rng >= 1000.0 else 1.2)


class Dmm34465A(ScpiModel):
    """Device model of the 34465A: configuration, trigger model, reading memory, physics."""

    def __init__(
        self,
        rng: np.random.Generator,
        clock: Clock,
        front: Callable[[float], Stimulus],
        rear: Callable[[float], Stimulus],
        room_temperature: Callable[[float], float],
        truth: DmmTruth | Mapping[str, Any] | None = None,
        lock: threading.RLock | None = None,
    ) -> None:
        super().__init__(lock)
        self.faults = Faults()
        self._rng = rng
        self._clock = clock
        self._front = front
        self._rear = rear
        self._room_temperature = room_temperature
        self.serial = f"MY{int(rng.integers(10_000_000, 99_999_999))}"
        self.idn = f"Keysight Technologies,34465A,{self.serial},A.03.01-03.15-03.01-00.52-03-02"
        self.true_errors: DmmTruth = merge(DmmTruth.draw(rng), truth, "dmm_truth")
        self.terminals: Terminals = "FRON"
        self.cal_secured = True
        self.cal_value = 0.0
        self.cal_count = 0
        self.reset()

        for name, fn in (("VOLTage[:DC]", "VOLT"), ("FRESistance", "FRES")):
            self._add_function_commands(name, fn)
        self.add("CONFigure", self.bare(self._conf_query), query=True)
        self.add("SAMPle:COUNt", functools.partial(self._set_count, "sample"))
        self.add("SAMPle:COUNt", self.bare(lambda: f"+{self.sample_count}"), query=True)
        self.add("TRIGger:COUNt", functools.partial(self._set_count, "trigger"))
        self.add("TRIGger:COUNt", self.bare(lambda: f"+{self.trigger_count}"), query=True)
        self.add("INITiate[:IMMediate]", self.bare(self._initiate))
        self.add("FETCh", self.bare(self._fetch), query=True)
        self.add("READ", self.bare(self._read), query=True)
        self.add("ROUTe:TERMinals", self.bare(lambda: self.terminals), query=True)
        self.add("SYSTem:ERRor[:NEXT]", self.bare(self._err), query=True)
        # Calibration adjustment, as the 34465A's service guide: unsecure with the security
        # code, state the reference value, CAL? adjusts the present function and range.
        self.add("CALibration:SECure:STATe", self._cal_secure)
        self.add("CALibration:SECure:STATe", self.bare(lambda: str(int(self.cal_secured))),
                 query=True)
        self.add("CALibration:VALue", self._cal_value)
        self.add("CALibration:VALue", self.bare(lambda: fmt_float(self.cal_value)), query=True)
        self.add("CALibration[:ALL]", self.bare(self._calibrate), query=True)
        self.add("CALibration:COUNt", self.bare(lambda: f"+{self.cal_count}"), query=True)

    def _add_function_commands(self, name: str, fn: str) -> None:
        """CONF/MEAS/RANG/RANG:AUTO/NPLC for one measuring function."""
        self.add(f"CONFigure:{name}", functools.partial(self._configure, fn))
        self.add(f"MEASure:{name}", functools.partial(self._measure, fn), query=True)
        self.add(f"[SENSe:]{name}:RANGe", functools.partial(self._set_range, fn))
        self.add(f"[SENSe:]{name}:RANGe", self.bare(lambda: fmt_float(self.settings[fn].range)),
                 query=True)
        self.add(f"[SENSe:]{name}:RANGe:AUTO", functools.partial(self._set_auto, fn))
        self.add(f"[SENSe:]{name}:RANGe:AUTO",
                 self.bare(lambda: str(int(self.settings[fn].auto))), query=True)
        self.add(f"[SENSe:]{name}:NPLCycles", functools.partial(self._set_nplc, fn))
        self.add(f"[SENSe:]{name}:NPLCycles", self.bare(lambda: fmt_float(self.settings[fn].nplc)),
                 query=True)

    # --- state --------------------------------------------------------------------------

    def reset(self) -> None:
        """``*RST``: DC volts, autorange (10 V shown), NPLC 10, 1 sample × 1 trigger."""
        self.function: Function = "VOLT"
        self.settings: dict[str, _FunctionSettings] = {
            "VOLT": _FunctionSettings(range=10.0),
            "FRES": _FunctionSettings(range=1e3),
        }
        self.sample_count = 1
        self.trigger_count = 1
        self.readings: list[float] | None = None

    def set_terminals(self, terminals: str) -> None:
        """Flip the front-panel FRONT/REAR switch (a person does this, not SCPI)."""
        if terminals not in ("FRON", "REAR"):
            raise ValueError(
                f"dmm terminals={terminals!r} is not allowed: expected 'FRON' or 'REAR'"
            )
        with self.lock:
            self.terminals = terminals  # type: ignore[assignment]

    # --- command handlers ---------------------------------------------------------------

    SECURITY_CODE = "AT34465"

    def _cal_secure(self, params: list[str]) -> None:
        if len(params) != 2:
            raise ScpiError(-109 if len(params) < 2 else -108)
        state = parse_bool(params[0])
        if params[1].strip().strip('"') != self.SECURITY_CODE:
            raise ScpiError(703, "Invalid secure code")
        self.cal_secured = state

    def _cal_value(self, params: list[str]) -> None:
        text = one_param(params)
        assert text is not None
        self.cal_value = parse_number(text)

    def _calibrate(self) -> str:
        """Adjust the present function's range so that the present input reads CAL:VAL.

        Near zero (|value| < 1 % of range) the offset is adjusted, otherwise the gain. The
        reference the user states is taken as true, so its own error is transferred into the
        meter, as in a real adjustment. "+0" on success, "+1" with an error queued otherwise.
        """
        if self.cal_secured:
            raise ScpiError(702, "Calibration secured", reply="+1")
        fn, s = self.function, self.settings[self.function]
        table = self.true_errors.dcv if fn == "VOLT" else self.true_errors.fres
        t = self._clock.now()
        x = self._ideal(fn, self._input(t))
        if not math.isfinite(x):
            raise ScpiError(705, "Calibration aborted: no signal", reply="+1")
        err = table[s.range]
        delta_t = self._room_temperature(t) - REFERENCE_TEMPERATURE
        v = self.cal_value
        if abs(v) < 0.01 * s.range:
            new = RangeError(err.gain, err.offset - (err.apply(x, delta_t) - v),
                             err.tc_gain, err.tc_offset)
        else:
            if abs(x) < 0.01 * s.range:
                raise ScpiError(706, "Calibration value out of range", reply="+1")
            offset = err.offset + err.tc_offset * delta_t
            new = RangeError((v - offset) / x - 1.0 - err.tc_gain * delta_t, err.offset,
                             err.tc_gain, err.tc_offset)
        table[s.range] = new
        self.cal_count += 1
        return "+0"

    def _err(self) -> str:
        code, message = self.pop_error()
        if code == 0:
            return '+0,"No error"'
        return f'{code:+d},"{message}"'

    def _parse_range(self, fn: str, text: str) -> tuple[float, bool]:
        """(range, autorange) from a range parameter: a number, AUTO, MIN, MAX or DEF."""
        word = text.upper()
        ranges = RANGES[fn]
        if word in {"AUTO", "DEF"}:
            return self.settings[fn].range, True
        if word == "MIN":
            return ranges[0], False
        if word == "MAX":
            return ranges[-1], False
        value = abs(parse_number(text))
        for r in ranges:
            if value <= r * (1 + 1e-9):
                return r, False
        raise ScpiError(-222)

    def _parse_nplc(self, text: str) -> float:
        word = text.upper()
        if word == "DEF":
            return DEFAULT_NPLC
        if word == "MIN":
            return NPLC_CHOICES[0]
        if word == "MAX":
            return NPLC_CHOICES[-1]
        value = parse_number(text)
        for choice in NPLC_CHOICES:
            if math.isclose(value, choice, rel_tol=1e-9):
                return choice
        raise ScpiError(-222)

    def _configure(self, fn: str, params: list[str]) -> None:
        if len(params) > 2:
            raise ScpiError(-108)
        rng, auto = self._parse_range(fn, params[0]) if params else (self.settings[fn].range, True)
        nplc = DEFAULT_NPLC
        if len(params) == 2:
            word = params[1].upper()
            if word == "DEF":
                nplc = DEFAULT_NPLC
            elif word == "MIN":  # finest resolution
                nplc = NPLC_CHOICES[-1]
            elif word == "MAX":  # coarsest resolution
                nplc = NPLC_CHOICES[0]
            else:
                wanted = parse_number(params[1])
                fits = [n for n in NPLC_CHOICES if resolution(rng, n) <= wanted * (1 + 1e-9)]
                if not fits:
                    raise ScpiError(-222)
                nplc = fits[0]
        # CONFigure also sets the trigger model back to one reading, as the 34465A does.
        self.function = fn  # type: ignore[assignment]
        self.settings[fn] = _FunctionSettings(range=rng, auto=auto, nplc=nplc)
        self.sample_count = 1
        self.trigger_count = 1
        self.readings = None

    def _measure(self, fn: str, params: list[str]) -> str:
        self._configure(fn, params)
        self._initiate()
        return self._fetch()

    def _conf_query(self) -> str:
        s = self.settings[self.function]
        return f'"{self.function} {s.range:+.6E},{resolution(s.range, s.nplc):+.6E}"'

    def _set_range(self, fn: str, params: list[str]) -> None:
        text = one_param(params)
        assert text is not None
        rng, auto = self._parse_range(fn, text)
        self.settings[fn].range = rng
        self.settings[fn].auto = auto and text.upper() == "AUTO"

    def _set_auto(self, fn: str, params: list[str]) -> None:
        text = one_param(params)
        assert text is not None
        if text.upper() == "ONCE":
            self.settings[fn].range = self._autorange(fn, self._input(self._clock.now()))
            self.settings[fn].auto = False
            return
        self.settings[fn].auto = parse_bool(text)

    def _set_nplc(self, fn: str, params: list[str]) -> None:
        text = one_param(params)
        assert text is not None
        self.settings[fn].nplc = self._parse_nplc(text)

    def _set_count(self, which: str, params: list[str]) -> None:
        text = one_param(params)
        assert text is not None
        word = text.upper()
        if word in {"MIN", "DEF"}:
            value = 1.0
        elif word == "MAX":
            value = float(MAX_COUNT)
        else:
            value = parse_number(text)
        if value != int(value) or not 1 <= value <= MAX_COUNT:
            raise ScpiError(-222)
        setattr(self, f"{which}_count", int(value))

    def _initiate(self) -> None:
        n = self.sample_count * self.trigger_count
        if n > MAX_READINGS:
            raise ScpiError(-221)
        self.readings = self.take_readings(n)

    def _read(self) -> str:
        self._initiate()
        return self._fetch()

    def _fetch(self) -> str:
        if self.readings is None:
            raise ScpiError(-230)
        return ",".join(OVERLOAD_TEXT if r >= OVERLOAD else fmt_float(r) for r in self.readings)

    # --- physics ------------------------------------------------------------------------

    def _input(self, t: float) -> Stimulus:
        return self._front(t) if self.terminals == "FRON" else self._rear(t)

    def _ideal(self, fn: str, stim: Stimulus) -> float:
        """What an ideal meter would read from ``stim`` with function ``fn`` (inf: overload)."""
        if fn == "VOLT":
            return stim.value if stim.kind == "V" else 0.0
        return stim.value if stim.kind == "OHM" else math.inf

    def _autorange(self, fn: str, stim: Stimulus) -> float:
        x = abs(self._ideal(fn, stim))
        for r in RANGES[fn]:
            if x <= r:
                return r
        return RANGES[fn][-1]

    def take_readings(self, n: int) -> list[float]:
        """``n`` readings, one aperture (NPLC/50 Hz) apart from the clock's now."""
        fn = self.function
        s = self.settings[fn]
        t0 = self._clock.now()
        aperture = s.nplc / LINE_FREQUENCY
        noise = self._rng.standard_normal(n)
        if s.auto:
            s.range = self._autorange(fn, self._input(t0))
        errors = self.true_errors.dcv if fn == "VOLT" else self.true_errors.fres
        err = errors[s.range]
        sigma = (
            NOISE_PPM[fn][s.range] * 1e-6 * s.range * math.sqrt(DEFAULT_NPLC / s.nplc)
            * self.true_errors.noise_scale
        )
        q = resolution(s.range, s.nplc)
        out: list[float] = []
        for i in range(n):
            t = t0 + i * aperture
            x = self._ideal(fn, self._input(t))
            if self.faults.out_of_range or not math.isfinite(x):
                out.append(OVERLOAD)
                continue
            delta_t = self._room_temperature(t) - REFERENCE_TEMPERATURE
            value = err.apply(x, delta_t) + sigma * noise[i]
            if abs(value) > _overload_limit(fn, s.range):
                out.append(OVERLOAD)
                continue
            out.append(round(value / q) * q)
        return out

    def true_error(
        self,
        value: float,
        function: str = "VOLT",
        rng: float | None = None,
        room_temperature: float = REFERENCE_TEMPERATURE,
    ) -> float:
        """Noise-free reading − true input for input ``value`` (V or Ω), in V or Ω.

        ``rng`` is the range (default: the one autorange would pick); ``room_temperature``
        in °C sets the temperature-coefficient term. This is what a calibration of this DMM
        should find at that point, give or take its uncertainty.
        """
        if function not in SPECS:
            raise ValueError(f"dmm true_error function={function!r} is not allowed: "
                             f"expected one of {sorted(SPECS)}")
        ranges = RANGES[function]
        if rng is None:
            rng = self._autorange(function, Stimulus("V" if function == "VOLT" else "OHM", value))
        if rng not in ranges:
            raise ValueError(f"dmm true_error rng={rng!r} is not allowed: expected one of {ranges}")
        errors = self.true_errors.dcv if function == "VOLT" else self.true_errors.fres
        return errors[rng].apply(value, room_temperature - REFERENCE_TEMPERATURE) - value

    def truth(self) -> dict[str, object]:
        """Serial, configuration, terminals and true errors per range (plain dicts)."""
        with self.lock:
            s = self.settings[self.function]
            return {
                "model": "34465A",
                "serial": self.serial,
                "function": self.function,
                "range": s.range,
                "nplc": s.nplc,
                "terminals": self.terminals,
                "errors": as_dict(self.true_errors),
            }
