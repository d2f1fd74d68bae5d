"""Values that cross labctl's layers as types, not as strings that must happen to match.

Procedures, the runner, the journal, the platform and the command line all speak of the same
few things: the quantity measured (:class:`Quantity`), the range a value was measured on
(:class:`RangeLabel`), the parameter of a certified error (:class:`CorrectionParameter`), the
state of a run (:class:`RunStatus`) and an entry of a standard's specification
(:class:`SpecKey`). Each is defined once here, below every layer that uses it.

The enumerations are :class:`~enum.StrEnum`: a member *is* its value ("DC voltage",
"completed", "gain"), so journals, JSON wire formats and database rows written before these
types existed read unchanged, and what is written now is the same text.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from labctl import units
from labctl.errors import ValidationError
from labctl.units import Unit


class Quantity(StrEnum):
    """A quantity labctl's procedures calibrate or monitor, with its SI unit (:attr:`unit`).

    The value is the name a certificate, an authorisation and the registry use for it.
    """

    DC_VOLTAGE = "DC voltage"
    DC_CURRENT = "DC current"
    RESISTANCE = "resistance"
    TEMPERATURE = "temperature"
    RELATIVE_HUMIDITY = "relative humidity"
    PRESSURE = "pressure"

    @property
    def unit(self) -> Unit:
        """The unit labctl states this quantity in (coherent SI, the degree Celsius, %)."""
        return _QUANTITY_UNITS[self]

    @classmethod
    def parse(cls, text: str, field: str = "quantity") -> Quantity:
        """The quantity named ``text`` (exactly its value); a ValidationError otherwise."""
        try:
            return cls(text)
        except ValueError:
            raise ValidationError(field, text, "one of " + ", ".join(q.value for q in cls)
                                  ) from None


_QUANTITY_UNITS: dict[Quantity, Unit] = {
    Quantity.DC_VOLTAGE: units.VOLT,
    Quantity.DC_CURRENT: units.AMPERE,
    Quantity.RESISTANCE: units.OHM,
    Quantity.TEMPERATURE: units.DEGREE_CELSIUS,
    Quantity.RELATIVE_HUMIDITY: units.PERCENT,
    Quantity.PRESSURE: units.PASCAL,
}


class CorrectionParameter(StrEnum):
    """A parameter of a standard's certified error on one range.

    ``GAIN`` is a relative error (unit 1), ``OFFSET`` an error at zero (in the quantity's unit):
    a source's actual output is ``setting·(1 + gain) + offset``, a meter reads
    ``true·(1 + gain) + offset``.
    """

    GAIN = "gain"
    OFFSET = "offset"


class ProcedureKind(StrEnum):
    """What a procedure's results are for: the platform files them differently.

    ``CALIBRATION``: a device's errors with their uncertainty, for a certificate.
    ``CHECK``: an intermediate check of a standard against a check standard (ISO/IEC 17025
    6.4.10), one value with its uncertainty per point, for the standard's control chart.
    """

    CALIBRATION = "calibration"
    CHECK = "check"


class RunStatus(StrEnum):
    """The state of a calibration run, as the journal records it and the API reports it."""

    CREATED = "created"  # on record, not started (an API journals a run before its thread)
    RUNNING = "running"
    HELD = "held"  # waiting for the room's conditions, outputs safe
    STOPPING = "stopping"  # asked to stop (the API's answer; the journal then says paused)
    COMPLETED = "completed"  # every point measured
    PAUSED = "paused"  # stopped on request, by an instrument fault or an unsafe bench
    ABORTED = "aborted"  # the procedure gave up (e.g. conditions did not recover)
    REFUSED = "refused"  # a precondition failed: nothing was measured
    FAILED = "failed"  # a defect: on record, bench made safe

    @property
    def terminal(self) -> bool:
        """Whether a run in this state has ended (nothing is carrying it out any more).

        A paused, aborted, refused or failed run may still be resumed: ended is not final.
        """
        return self in TERMINAL_RUN_STATUSES


#: The states in which a run has ended (see :attr:`RunStatus.terminal`).
TERMINAL_RUN_STATUSES: frozenset[RunStatus] = frozenset({
    RunStatus.COMPLETED, RunStatus.PAUSED, RunStatus.ABORTED, RunStatus.REFUSED,
    RunStatus.FAILED,
})


# -- range labels ------------------------------------------------------------------------------

#: Prefixes a range label may carry; ``u``, ``μ`` (Greek mu) and ``µ`` (micro sign) are one.
_PREFIXES: dict[str, str] = {"p": "p", "n": "n", "u": "µ", "μ": "µ", "µ": "µ", "m": "m",
                             "k": "k", "M": "M", "G": "G"}
#: ASCII spellings of the symbols for keys and identifiers (``3.3V``, ``1kohm``).
_ASCII: dict[str, str] = {"Ω": "ohm", "°C": "degC", "µ": "u"}
#: A label's number is written out (no exponent: "1e3 V" names no range a maker prints).
_NUMBER = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(.*?)\s*$")
_LABEL_HELP = "a number and a unit, e.g. 330 mV, 3.3 V, 100 Ω, 1 kΩ, 0 °C"


def _unit_of(text: str) -> tuple[str, Unit] | None:
    """(prefix, unit) of a unit as written ("mV", "kohm", "°C"); None when it is none."""
    if text in units.BY_SYMBOL:
        return "", units.BY_SYMBOL[text]
    if len(text) > 1 and text[0] in _PREFIXES and text[1:] in units.BY_SYMBOL:
        return _PREFIXES[text[0]], units.BY_SYMBOL[text[1:]]
    return None


def _plain(number: Decimal) -> str:
    """``number`` in plain positional notation without trailing zeros (``3.3``, ``1000``)."""
    if number == 0:
        return "0"  # also for -0
    return f"{number.normalize():f}"


@dataclass(frozen=True)
class RangeLabel:
    """The name of a range (an instrument's range, a point's nominal value) as written on a
    certificate: a magnitude, an SI prefix and a unit, e.g. 330 mV, 3.3 V, 100 Ω, 1 kΩ, 0 °C.

    One spelling for people, ``str(label)``: the magnitude, a space, the prefixed symbol (the
    SI Brochure's rule). One spelling for keys and identifiers, :attr:`token`: no space and
    ASCII only (``330mV``, ``1kohm``, ``0degC``). :meth:`parse` reads both and every other
    spelling in use ("100 mV", "330mV", "100ohm", "1kohm", "1 kΩ", "10 µV", "10uV", "0 degC"),
    so labels written by older versions read as the same range. The prefix is part of the
    name as the instrument's maker states it ("1000 V" is not "1 kV").
    """

    magnitude: Decimal
    unit: Unit
    prefix: str = ""

    def __post_init__(self) -> None:
        if (not isinstance(self.magnitude, Decimal) or not self.magnitude.is_finite()
                or not math.isfinite(float(self.magnitude))):
            raise ValidationError("range_label", str(self.magnitude), "a finite number")
        if self.prefix and self.prefix not in _PREFIXES.values():
            raise ValidationError("range_label prefix", self.prefix,
                                  "one of " + ", ".join(sorted(set(_PREFIXES.values()))))
        object.__setattr__(self, "magnitude", Decimal(_plain(self.magnitude)))

    @classmethod
    def of(cls, value: float | int | str | Decimal, unit: Unit | str, prefix: str = ""
           ) -> RangeLabel:
        """The label of ``value`` ``prefix````unit``: ``of(330, "V", "m")`` is 330 mV."""
        if isinstance(value, float):
            value = repr(value)  # the shortest decimal that is this float: 3.3, not 3.29999…
        try:
            magnitude = Decimal(value)
        except InvalidOperation:
            raise ValidationError("range_label", str(value), "a finite number") from None
        return cls(magnitude, units.unit(unit) if isinstance(unit, str) else unit,
                   _PREFIXES.get(prefix, prefix))

    @classmethod
    def parse(cls, text: str, field: str = "range_label") -> RangeLabel:
        """The range ``text`` names, in any spelling in use; a ValidationError naming
        ``field`` when it names none."""
        label = cls.read(text)
        if label is None:
            raise ValidationError(field, text, _LABEL_HELP)
        return label

    @classmethod
    def read(cls, text: str) -> RangeLabel | None:
        """Like :meth:`parse`, but ``None`` for text that names no range ("all", "")."""
        if not isinstance(text, str):
            return None
        return _read_label(text)

    @classmethod
    def _read(cls, text: str) -> RangeLabel | None:
        match = _NUMBER.match(text)
        if match is None:
            return None
        found = _unit_of(match.group(2))
        if found is None:
            return None
        try:
            return cls(Decimal(match.group(1)), found[1], found[0])
        except (InvalidOperation, ValidationError):
            return None

    @property
    def symbol(self) -> str:
        """The prefixed unit symbol, e.g. ``mV``, ``kΩ``."""
        return self.prefix + self.unit.symbol

    @property
    def value(self) -> float:
        """The range in the unit without prefix (330 mV → 0.33, in V)."""
        return float(self.magnitude * Decimal(repr(units.PREFIXES[self.prefix])))

    @property
    def token(self) -> str:
        """The spelling for keys and identifiers: no space, ASCII (``3.3V``, ``1kohm``)."""
        prefix = _ASCII.get(self.prefix, self.prefix)
        return f"{_plain(self.magnitude)}{prefix}{_ASCII.get(self.unit.symbol, self.unit.symbol)}"

    def __str__(self) -> str:
        return f"{_plain(self.magnitude)} {self.symbol}"

    def matches(self, text: str) -> bool:
        """Whether ``text`` names this range (in any spelling :meth:`parse` reads)."""
        return RangeLabel.read(text) == self


@functools.lru_cache(maxsize=1024)
def _read_label(text: str) -> RangeLabel | None:
    """:meth:`RangeLabel.read`, remembered: a run looks up the same few labels per point."""
    return RangeLabel._read(text)


def same_range(a: str | RangeLabel, b: str | RangeLabel) -> bool:
    """Whether two range labels name the same range. Labels that name no range ("all", "")
    are the same only when written the same."""
    la = a if isinstance(a, RangeLabel) else RangeLabel.read(a)
    lb = b if isinstance(b, RangeLabel) else RangeLabel.read(b)
    if la is None or lb is None:
        return la is None and lb is None and str(a).strip() == str(b).strip()
    return la == lb


# -- specification keys ------------------------------------------------------------------------


class SpecName(StrEnum):
    """The entries of a standard's specification a procedure reads (see :class:`SpecKey`)."""

    ACCURACY_RELATIVE = "accuracy_relative"  # 1, relative half-width of the stated accuracy
    ACCURACY_ABSOLUTE = "accuracy_absolute"  # in the standard's unit
    INTERVAL_DAYS = "interval_days"  # the calibration interval, days
    CALIBRATED_ON = "calibrated_on"  # ISO date of the current calibration
    DCV_STABILITY_REL = "dcv_stability_rel"  # 1, DC voltage stability on a range (per range)
    DCV_TEMPCO_REL_PER_K = "dcv_tempco_rel_per_K"  # 1/K, outside the temperature band
    TEMPERATURE_BAND_K = "temperature_band_K"  # K, half-width of the specified band


@dataclass(frozen=True)
class SpecKey:
    """A key of a standard's specification: an entry, on one range or on all.

    Written ``name`` or ``name.<range token>``: ``dcv_stability_rel.3.3V`` is the DC voltage
    stability on the 3.3 V range. :meth:`parse` reads any spelling of the range
    (``dcv_stability_rel.3.3 V`` too); ``str()`` writes the token form.
    """

    name: SpecName
    range: RangeLabel | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, SpecName):
            object.__setattr__(self, "name", SpecKey.parse(str(self.name)).name)

    @classmethod
    def parse(cls, text: str) -> SpecKey:
        """The key ``text`` names; a ValidationError naming what is wrong otherwise."""
        name, dot, rest = str(text).partition(".")
        try:
            spec = SpecName(name)
        except ValueError:
            raise ValidationError("specification key", text, "one of " + ", ".join(
                n.value for n in SpecName) + ", optionally followed by .<range>") from None
        return cls(spec, RangeLabel.parse(rest, "specification key range") if dot else None)

    def __str__(self) -> str:
        return self.name.value + (f".{self.range.token}" if self.range is not None else "")

    def lookup(self, specification: dict[str, Any], default: Any = None) -> Any:
        """The value of this entry in ``specification``, whatever spelling of the range its
        key was written with; ``default`` when it has none."""
        exact = str(self)
        if exact in specification:
            return specification[exact]
        for key, value in specification.items():
            if not str(key).startswith(self.name.value):
                continue
            try:
                if SpecKey.parse(key) == self:
                    return value
            except ValidationError:
                continue  # another entry's key, not this one
        return default
