"""Fluke 5522A multifunction calibrator (DC voltage and resistance functions).

Safe state: standby (``STBY``), the output disconnected from the terminals. The output value
is programmed with ``OUT <value> <unit>`` independently of operate/standby, so a new value
never switches the output on by itself.
"""

from __future__ import annotations

from typing import ClassVar

from labctl.drivers.scpi import (
    EXPECTED,
    InRange,
    ScpiInstrument,
    Setting,
    format_number,
    parse_bool,
)

#: DC voltage output limits in V (5522A specifications, 1020 V range).
DC_VOLTAGE = InRange(-1020.0, 1020.0, "V")
#: Resistance output limits in Ω (0 Ω … 1100 MΩ).
RESISTANCE = InRange(0.0, 1100e6, "Ω")


def _parse_output(text: str) -> tuple[float, str]:
    """``<value>,<unit>`` in base units (V or OHM)."""
    value, _, unit = text.strip().partition(",")
    unit = unit.strip().upper()
    if unit not in ("V", "OHM"):
        raise ValueError(f"unit {unit!r} is not V or OHM")
    return float(value), unit


EXPECTED[_parse_output] = "<value>,V or <value>,OHM"


class Fluke5522A(ScpiInstrument):
    """The calibrator as a :class:`~labctl.drivers.roles.Calibrator` (volts in V, ohms in Ω)."""

    vendor: ClassVar[str] = "FLUKE"
    model: ClassVar[str] = "5522A"
    error_query: ClassVar[str] = "ERR?"
    has_output: ClassVar[bool] = True
    #: Longest wait for the read-back of the operate state, s (the link's timeout if shorter).
    READBACK_TIMEOUT: ClassVar[float] = 1.0

    output_enabled = Setting[bool](
        "OPER?",
        lambda on: "OPER" if on else "STBY",
        parse=parse_bool,
        doc="Whether the output is connected to the terminals (operate) or not (standby).",
    )

    def source_dc_voltage(self, volts: float) -> None:
        """Program a DC voltage in V (−1020 … 1020); operate/standby is unchanged."""
        value = DC_VOLTAGE(f"{type(self).__name__}.dc_voltage", volts)
        self.write(f"OUT {format_number(value)} V")

    def source_resistance(self, ohms: float) -> None:
        """Program a resistance in Ω (0 … 1.1 GΩ); operate/standby is unchanged."""
        value = RESISTANCE(f"{type(self).__name__}.resistance", ohms)
        self.write(f"OUT {format_number(value)} OHM")

    def operate(self) -> None:
        """Connect the output to the terminals."""
        self.write("OPER")

    def standby(self) -> None:
        """Disconnect the output (the safe state)."""
        self.write("STBY")

    def output(self) -> tuple[float, str]:
        """The programmed output: (value in V or Ω, ``"V"`` or ``"OHM"``)."""
        return self.query("OUT?", _parse_output, what="output")

    def make_safe(self) -> None:
        """Standby. Sent even if the link had failed (the transport reconnects first)."""
        self.standby()

    def output_off(self) -> bool:
        """``OPER?`` once (no retry), bounded by ``READBACK_TIMEOUT``: whether in standby."""
        limit = min(self._transport.timeout, self.READBACK_TIMEOUT)
        return not self.query("OPER?", parse_bool, what="operate state", retry=False,
                              timeout=limit)

    def snapshot(self) -> dict[str, object]:
        value, unit = self.output()
        return {**super().snapshot(), "output_value": value, "output_unit": unit,
                "output_enabled": self.output_enabled}
