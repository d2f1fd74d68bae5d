"""How registry values read on the public pages: ranges, uncertainties, statuses, levels.

Decimals are shown as stored (never through a binary float); the words are English messages
marked for the catalogue and translated in the templates.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from labctl.platform.models.base import OrgLevel, StandardKind, StandardStatus
from labctl.platform.pages.render import N_
from labctl.quantities import Quantity


def count(total: int, lower_bound: bool = False) -> str:
    """A search's number of matches as shown: "10000+" when it stopped counting at its cap
    (``Page.total_is_lower_bound``)."""
    return f"{total}+" if lower_bound else str(total)


#: A standard's status: words and the badge class (the word carries the meaning, not colour).
STATUS: dict[str, tuple[str, str]] = {
    StandardStatus.IN_SERVICE.value: (N_("In service"), "ok"),
    StandardStatus.QUARANTINED.value: (N_("Quarantined"), "warn"),
    StandardStatus.UNDER_INVESTIGATION.value: (N_("Under investigation"), "warn"),
    StandardStatus.OUT_OF_TOLERANCE.value: (N_("Out of tolerance"), "bad"),
    StandardStatus.RETIRED.value: (N_("Retired"), "bad"),
}

KIND: dict[str, str] = {
    StandardKind.NATIONAL_PRIMARY.value: N_("National primary standard"),
    StandardKind.REFERENCE.value: N_("Reference standard"),
    StandardKind.WORKING.value: N_("Working standard"),
    StandardKind.CHECK.value: N_("Check standard"),
    StandardKind.DEVICE_UNDER_CALIBRATION.value: N_("Device under calibration"),
}

#: Quantity names as shown (the registry stores the English name, :class:`Quantity`).
QUANTITY: dict[str, str] = {
    Quantity.DC_VOLTAGE.value: N_("DC voltage"),
    Quantity.DC_CURRENT.value: N_("DC current"),
    Quantity.RESISTANCE.value: N_("resistance"),
    Quantity.TEMPERATURE.value: N_("temperature"),
    Quantity.RELATIVE_HUMIDITY.value: N_("relative humidity"),
    Quantity.PRESSURE.value: N_("pressure"),
}

LEVEL: dict[str, str] = {
    OrgLevel.NATIONAL.value: N_("National metrology institute"),
    OrgLevel.PROVINCIAL.value: N_("Provincial institute of metrology"),
    OrgLevel.LOCAL.value: N_("Calibration laboratory"),
    OrgLevel.INDUSTRY.value: N_("Industrial laboratory"),
}


def number(text: str | Decimal) -> str:
    """A stored decimal as plain digits (no exponent), trailing zeros dropped."""
    try:
        d = Decimal(text)
    except InvalidOperation:
        return str(text)
    if d == 0:
        return "0"
    out = format(d.normalize(), "f")
    return out


#: Units shown with an SI prefix (µV rather than 0.000002 V); others (°C, %) stay plain.
PREFIXED = frozenset({"V", "A", "Ω", "W", "Hz", "S", "F", "H", "Pa", "g", "m", "s"})
PREFIXES = {-12: "p", -9: "n", -6: "µ", -3: "m", 0: "", 3: "k", 6: "M", 9: "G"}


def quantity_value(d: Decimal, unit: str) -> str:
    """``d`` ``unit`` with the SI prefix that leaves 1 … 999 before the point (exact:
    the decimal is only shifted), e.g. 0.0000002 V → "200 nV"."""
    if d == 0 or unit not in PREFIXED:
        return f"{number(d)} {unit}"
    k = max(-12, min(9, (d.adjusted() // 3) * 3))
    return f"{number(d.scaleb(-k))} {PREFIXES[k]}{unit}"


def span(lo: str, hi: str, unit: str) -> str:
    return f"{number(lo)} … {number(hi)} {unit}"


def uncertainty(relative: str, absolute: str, unit: str, at: Decimal | None = None) -> str:
    """The expanded uncertainty (k = 2) as the registry states it: a relative part in µunit
    per unit plus an absolute part; at ``at`` (a value searched for) the figure there."""
    rel, ab = Decimal(relative), Decimal(absolute)
    if at is not None:
        return quantity_value(rel * abs(at) + ab, unit)
    parts = []
    if rel and unit in PREFIXED:  # 5 µV/V, 10 nV/V: as metrologists write it
        scale, prefix = (6, "µ") if rel * Decimal(10) ** 6 >= 1 else (9, "n")
        parts.append(f"{number(rel.scaleb(scale))} {prefix}{unit}/{unit}")
    elif rel:
        parts.append(f"{number(rel.scaleb(6))} × 10⁻⁶ · |x|")
    if ab or not parts:
        parts.append(quantity_value(ab, unit))
    return " + ".join(parts)


def validity(due: date | None, today: date) -> tuple[str, str]:
    """A calibration's validity today: words and badge class."""
    if due is None:
        return N_("Not calibrated"), "bad"
    if due < today:
        return N_("Calibration expired"), "bad"
    return N_("Calibration valid"), "ok"
