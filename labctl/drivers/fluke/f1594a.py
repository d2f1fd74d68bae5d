"""Fluke 1594A Super-Thermometer readout (reference thermometer).

Reads the temperature of a channel's probe in °C. An unconnected channel replies the
overload marker ``+9.9E+37`` and queues -222: the driver raises that as
``InstrumentError`` rather than handing a meaningless number to a procedure.
"""

from __future__ import annotations

from typing import ClassVar

from labctl.drivers.scpi import IntRange, ScpiInstrument, is_overload, parse_float
from labctl.errors import OverloadError, ResponseError

#: The readout's input channels.
CHANNEL = IntRange(1, 4)
#: Plausible readings in °C: nothing is colder than absolute zero; 1594A probes stop at 962 °C
#: (SPRT) and the widest thermocouple tables at 2000 °C.
ABSOLUTE_ZERO, MAXIMUM = -273.15, 2000.0


class Fluke1594A(ScpiInstrument):
    """The readout as a :class:`~labctl.drivers.roles.Thermometer` (°C)."""

    vendor: ClassVar[str] = "FLUKE"
    model: ClassVar[str] = "1594A"

    def measure(self, channel: int = 1) -> float:
        """The temperature of ``channel``'s probe (1 … 4) in °C.

        A measurement changes no setting, so it is retried after link faults. An overload
        (nothing connected) raises the queued ``InstrumentError`` (-222), or
        ``OverloadError`` if the readout queued none.
        """
        ch = CHANNEL(f"{type(self).__name__}.channel", channel)
        command = f"MEAS? {ch}"
        value = self.query(command, parse_float, what=f"temperature of channel {ch}")
        if is_overload(value):
            self.check_errors(command)  # the instrument's own reason (-222), if it queued one
            raise OverloadError(self.resource, command, value,
                                f"a temperature (channel {ch} has no valid reading)")
        if not ABSOLUTE_ZERO <= value <= MAXIMUM:
            raise ResponseError(self.resource, command, value,
                                f"a temperature within {ABSOLUTE_ZERO} … {MAXIMUM:g} °C "
                                "(a broken probe or readout)")
        return value
