"""Keysight 34465A 6½-digit multimeter: DC voltage and 4-wire resistance.

Ranges are chosen explicitly from the instrument's list (or autorange); a value that is not
one of them is refused rather than rounded to the next range, so a procedure always records
the range it asked for. Bulk readings (``SAMP:COUN n`` + ``READ?``) are parsed straight from
the reply bytes into a float64 array.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from labctl.drivers.retry import RetryPolicy
from labctl.drivers.scpi import (
    EXPECTED,
    IntRange,
    Measurement,
    OneOf,
    ScpiInstrument,
    Setting,
    format_number,
    is_overload,
    parse_float,
    parse_float_array,
    parse_int,
    parse_word,
)
from labctl.drivers.transports.base import MessageTransport
from labctl.errors import InstrumentError, OverloadError, ResponseError, ValidationError

#: DC voltage ranges in V.
VOLTAGE_RANGES = OneOf(0.1, 1.0, 10.0, 100.0, 1000.0, unit="V")
#: 4-wire resistance ranges in Ω (100 Ω … 100 MΩ in decades).
RESISTANCE_RANGES = OneOf(1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, unit="Ω")
#: Integration times in power-line cycles.
NPLC = OneOf(0.02, 0.06, 0.2, 1.0, 10.0, 100.0, unit="PLC")
#: Readings per trigger and triggers per INIT.
COUNT = IntRange(1, 1_000_000)
#: Power-line frequency assumed when estimating how long a burst takes (the slower one).
LINE_FREQUENCY = 50.0

_FUNCTIONS = {"VOLT": "V", "VOLT:DC": "V", "FRES": "OHM"}


@dataclass(frozen=True)
class Configuration:
    """The DMM's present measurement (``CONF?``): function, range and resolution.

    ``function`` is ``"VOLT"`` (DC volts) or ``"FRES"`` (4-wire Ω); ``range`` and
    ``resolution`` are in that function's unit (``unit``: ``"V"`` or ``"OHM"``).
    """

    function: str
    range: float
    resolution: float

    @property
    def unit(self) -> str:
        return _FUNCTIONS[self.function]


def _single_reading(text: str) -> float:
    """One reading; several (SAMP:COUN or TRIG:COUN > 1) are refused, not truncated."""
    if "," in text:
        raise ValueError("several readings: sample/trigger count > 1 (use read_many)")
    return parse_float(text)


def parse_configuration(text: str) -> Configuration:
    """``"VOLT +1.000000E+01,+1.000000E-06"`` → Configuration("VOLT", 10.0, 1e-06)."""
    body = text.strip().strip('"').strip()
    function, _, numbers = body.partition(" ")
    function = function.upper()
    if function not in _FUNCTIONS:
        raise ValueError(f"function {function!r} is not one of {sorted(_FUNCTIONS)}")
    range_text, _, resolution_text = numbers.partition(",")
    return Configuration("FRES" if function == "FRES" else "VOLT",
                         parse_float(range_text), parse_float(resolution_text))


EXPECTED[parse_configuration] = '"<function> <range>,<resolution>"'
EXPECTED[_single_reading] = "one reading (is SAMP:COUN or TRIG:COUN above 1?)"


class Keysight34465A(ScpiInstrument):
    """The DMM as a :class:`~labctl.drivers.roles.Dmm` (readings in V or Ω)."""

    vendor: ClassVar[str] = "Keysight Technologies"
    model: ClassVar[str] = "34465A"

    voltage_range = Setting[float](
        "VOLT:DC:RANG?", "VOLT:DC:RANG {}", parse=parse_float, validator=VOLTAGE_RANGES,
        unit="V", doc="DC voltage range (the largest reading before overload, about 120 %).")
    voltage_nplc = Setting[float](
        "VOLT:DC:NPLC?", "VOLT:DC:NPLC {}", parse=parse_float, validator=NPLC, unit="PLC",
        doc="DC voltage integration time; noise falls as 1/√NPLC.")
    resistance_nplc = Setting[float](
        "FRES:NPLC?", "FRES:NPLC {}", parse=parse_float, validator=NPLC, unit="PLC",
        doc="4-wire resistance integration time.")
    sample_count = Setting[int](
        "SAMP:COUN?", "SAMP:COUN {}", parse=parse_int, validator=COUNT,
        doc="Readings taken per trigger.")
    trigger_count = Setting[int](
        "TRIG:COUN?", "TRIG:COUN {}", parse=parse_int, validator=COUNT,
        doc="Triggers accepted per INIT/READ?.")
    terminals = Measurement(
        "ROUT:TERM?", parse=parse_word,
        doc="Input terminals in use, FRON or REAR (a manual switch: read-only).")

    def __init__(self, transport: MessageTransport, *, retry: RetryPolicy | None = None) -> None:
        super().__init__(transport, retry=retry)
        self._nplc: float | None = None  # of the last configure_*(), to size READ? timeouts

    # --- configuration --------------------------------------------------------------------

    def configure_dc_voltage(self, range: float | None = None, nplc: float = 10) -> None:
        """DC volts on ``range`` V (0.1, 1, 10, 100, 1000; None = autorange), ``nplc``
        power-line cycles (0.02, 0.06, 0.2, 1, 10, 100). ``CONF`` also resets the sample
        and trigger counts to 1 (and NPLC to 10, hence NPLC is sent after it)."""
        name = type(self).__name__
        rng = None if range is None else VOLTAGE_RANGES(f"{name}.range", range)
        cycles = NPLC(f"{name}.nplc", nplc)
        with self._lock:  # one configuration, not interleaved with another thread's commands
            self.write(f"CONF:VOLT:DC {'AUTO' if rng is None else _num(rng)}")
            self.write(f"VOLT:DC:NPLC {_num(cycles)}")
            self._nplc = float(cycles)

    def configure_resistance_4w(self, range: float | None = None, nplc: float = 10) -> None:
        """4-wire Ω on ``range`` Ω (100 Ω … 100 MΩ, decades; None = autorange), ``nplc``
        power-line cycles; sample and trigger counts reset to 1 by ``CONF``."""
        name = type(self).__name__
        rng = None if range is None else RESISTANCE_RANGES(f"{name}.range", range)
        cycles = NPLC(f"{name}.nplc", nplc)
        with self._lock:
            self.write(f"CONF:FRES {'AUTO' if rng is None else _num(rng)}")
            self.write(f"FRES:NPLC {_num(cycles)}")
            self._nplc = float(cycles)

    def _after_set(self, name: str, value: object) -> None:
        # An NPLC set directly may belong to the function not in use: keep the longer one,
        # so a burst's timeout is never too short.
        if name in ("voltage_nplc", "resistance_nplc") and isinstance(value, int | float):
            self._nplc = max(self._nplc or 0.0, float(value))

    def configuration(self) -> Configuration:
        """Function, range and resolution now in use (``CONF?``)."""
        return self.query("CONF?", parse_configuration, what="configuration")

    @property
    def resolution(self) -> float:
        """Resolution of the present configuration, in its unit (V or Ω)."""
        return self.configuration().resolution

    # --- readings -------------------------------------------------------------------------

    def read(self) -> float:
        """Trigger and return one reading (V or Ω). Overload → ``OverloadError``.

        ``READ?`` takes a fresh reading and changes no setting, so it is retried after a
        link fault like any other query.
        """
        value = self.query("READ?", _single_reading, what="reading",
                           timeout=self._burst_timeout(1))
        if is_overload(value):
            raise OverloadError(self.resource, "READ?", value, "a reading within the range")
        return value

    #: The 34465A's factory calibration security code (a laboratory changes it).
    SECURITY_CODE: ClassVar[str] = "AT34465"

    def adjust(self, reference: float, *, security_code: str | None = None) -> None:
        """Adjust the present function and range so that the present input reads
        ``reference`` (V or Ω): the offset when ``|reference|`` is below 1 % of the range,
        else the gain. The meter is unsecured with ``security_code`` for the adjustment and
        secured again afterwards, also when it fails. ``CAL?`` changes the instrument, so it
        is never retried."""
        if not isinstance(reference, int | float) or isinstance(reference, bool) or not (
                np.isfinite(reference)):
            raise ValidationError("reference", reference, "a finite number (V or Ω)")
        code = security_code or self.SECURITY_CODE
        self.write(f"CAL:SEC:STAT OFF,{code}")
        try:
            self.write(f"CAL:VAL {float(reference)!r}")
            answer = self.query("CAL?", str, retry=False, timeout=max(self._transport.timeout,
                                                                      30.0))
            if answer.strip() != "+0":
                self.check_errors("CAL?")
                raise InstrumentError(self.resource, 1, f"adjustment failed ({answer!r})",
                                      "CAL?")
        finally:
            self.write(f"CAL:SEC:STAT ON,{code}")

    def read_many(self, count: int) -> npt.NDArray[np.float64]:
        """Take ``count`` readings (1 … 1 000 000) with one trigger; float64 array (V or Ω).

        Sets ``SAMP:COUN`` (checked), sends ``READ?``, then sets ``SAMP:COUN 1`` again so
        :meth:`read` keeps working; refuses a reply of the wrong length or with overloads.
        """
        n = COUNT(f"{type(self).__name__}.count", count)
        with self._lock:  # nobody else's read() may run while SAMP:COUN is n
            self.write(f"SAMP:COUN {n}")
            data = self.query_bytes("READ?", parse_float_array, what=f"{n} readings",
                                    timeout=self._burst_timeout(n))
            if n != 1:
                self.write("SAMP:COUN 1")  # so read() gets one reading again
        if data.shape != (n,):
            raise ResponseError(self.resource, "READ?", f"{data.size} readings",
                                f"{n} readings (is TRIG:COUN 1?)")
        overloads = int(np.count_nonzero(np.abs(data) >= 9.9e37 * 0.999))
        if overloads:
            raise OverloadError(self.resource, "READ?", f"{overloads} overloads in {n}",
                                "readings within the range")
        return data

    def _burst_timeout(self, count: int) -> float | None:
        """Seconds to allow for ``count`` readings: the link timeout plus the integration
        time (None = the link timeout, when NPLC is not known)."""
        if self._nplc is None:
            return None
        return self._transport.timeout + 1.2 * count * self._nplc / LINE_FREQUENCY

    def snapshot(self) -> dict[str, object]:
        conf = self.configuration()
        nplc = self.voltage_nplc if conf.function == "VOLT" else self.resistance_nplc
        return {**super().snapshot(), "function": conf.function, "range": conf.range,
                "resolution": conf.resolution, "unit": conf.unit, "nplc": nplc,
                "sample_count": self.sample_count, "trigger_count": self.trigger_count,
                "terminals": self.terminals}


def _num(value: float) -> str:
    return format_number(value)
