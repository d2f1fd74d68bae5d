"""Units labctl speaks: SI symbols for people and D-SI strings for the DCC.

Everything inside labctl is in coherent SI units (volt, ohm, second, pascal) plus the
degree Celsius and percent relative humidity that laboratories state conditions in. Library
or instrument units (hPa, mV, ...) are converted only at the edges.
"""

from __future__ import annotations

from dataclasses import dataclass

from labctl.errors import ValidationError


@dataclass(frozen=True)
class Unit:
    """A unit as printed on a certificate (``symbol``) and as written in D-SI (``dsi``)."""

    symbol: str
    dsi: str


VOLT = Unit("V", r"\volt")
OHM = Unit("Ω", r"\ohm")
AMPERE = Unit("A", r"\ampere")
SECOND = Unit("s", r"\second")
PASCAL = Unit("Pa", r"\pascal")
HECTOPASCAL = Unit("hPa", r"\hecto\pascal")
KELVIN = Unit("K", r"\kelvin")
DEGREE_CELSIUS = Unit("°C", r"\degreecelsius")
PERCENT = Unit("%", r"\percent")
ONE = Unit("1", r"\one")
METRE = Unit("m", r"\metre")
KILOGRAM = Unit("kg", r"\kilogram")

#: Units by their plain symbol, for parsing configuration and API input.
BY_SYMBOL: dict[str, Unit] = {
    u.symbol: u
    for u in (VOLT, OHM, AMPERE, SECOND, PASCAL, HECTOPASCAL, KELVIN, DEGREE_CELSIUS, PERCENT, ONE,
              METRE, KILOGRAM)
}
BY_SYMBOL.update({"ohm": OHM, "Ohm": OHM, "degC": DEGREE_CELSIUS, "%RH": PERCENT})

#: SI prefixes used when a value is shown scaled (µV, mΩ, kV...).
PREFIXES: dict[str, float] = {
    "p": 1e-12, "n": 1e-9, "µ": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3, "M": 1e6, "G": 1e9,
}

HPA_PER_PA = 0.01


def unit(symbol: str) -> Unit:
    """The :class:`Unit` for a plain symbol such as ``"V"``, ``"ohm"`` or ``"degC"``."""
    try:
        return BY_SYMBOL[symbol]
    except KeyError:
        raise ValidationError("unit", symbol, "one of " + ", ".join(sorted(BY_SYMBOL))) from None
