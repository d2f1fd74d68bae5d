"""Text forms shared by the PDF and the DCC, so both state exactly the same digits.

Values arrive as ``Decimal`` already rounded by the workflow (ILAC-P14 / EA-4/02); nothing
here rounds again. The helpers only turn them into text and refuse what cannot be written.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from labctl import units
from labctl.errors import ValidationError

#: D-SI prefix words for the SI prefixes labctl shows (labctl.units.PREFIXES).
DSI_PREFIXES: dict[str, str] = {
    "p": r"\pico",
    "n": r"\nano",
    "µ": r"\micro",  # MICRO SIGN U+00B5, as typed on most keyboards
    "μ": r"\micro",  # GREEK SMALL LETTER MU U+03BC, what NFKC normalisation produces
    "u": r"\micro",  # ASCII fallback used by instruments
    "m": r"\milli",
    "k": r"\kilo",
    "M": r"\mega",
    "G": r"\giga",
}

#: Conformity verdicts accepted in the model, mapped to the DCC enumeration.
CONFORMITY_TO_DCC: dict[str, str] = {
    "pass": "pass",
    "fail": "fail",
    "conditional pass": "conditionalPass",
    "conditional fail": "conditionalFail",
    "conditionalPass": "conditionalPass",
    "conditionalFail": "conditionalFail",
}

#: How a verdict is printed on the PDF.
CONFORMITY_TEXT: dict[str, str] = {
    "pass": "Pass",
    "fail": "Fail",
    "conditionalPass": "Conditional pass",
    "conditionalFail": "Conditional fail",
}

#: Worst first: the certificate-level verdict is the worst point verdict.
_SEVERITY = ("fail", "conditionalFail", "conditionalPass", "pass")


def plain(value: Decimal, *, field: str) -> str:
    """``value`` in plain decimal notation with the digits it carries (no exponent, no float).

    Negative zero is written as zero; NaN and infinities are refused because neither a
    certificate nor ``si:decimalType`` can state them.
    """
    if not isinstance(value, Decimal):
        raise ValidationError(field, value, "a decimal.Decimal (rounded per ILAC-P14)")
    if not value.is_finite():
        raise ValidationError(field, value, "a finite decimal number")
    if value.is_zero():
        value = value.copy_abs()
    return format(value, "f")


def stated_dof(dof: Decimal) -> Decimal:
    """Degrees of freedom as a certificate states them: truncated to the next lower integer
    (GUM G.6.4, as ν_eff is when a t-factor is looked up); below 1, to two decimals down."""
    if dof >= 1:
        return dof.to_integral_value(rounding=ROUND_FLOOR)
    return dof.quantize(Decimal("0.01"), rounding=ROUND_FLOOR)


def dsi_unit(symbol: str, *, field: str = "unit") -> str:
    """The D-SI unit for a printed symbol: ``"V"`` → ``\\volt``, ``"mV"`` → ``\\milli\\volt``.

    Accepts the symbols of :data:`labctl.units.BY_SYMBOL`, optionally behind one SI prefix.
    """
    known = units.BY_SYMBOL.get(symbol)
    if known is not None:
        return known.dsi
    if len(symbol) > 1 and symbol[0] in DSI_PREFIXES:
        base = units.BY_SYMBOL.get(symbol[1:])
        # A prefixed degree Celsius or percent is not a unit anyone writes on a certificate.
        if base is not None and base not in (units.DEGREE_CELSIUS, units.PERCENT, units.ONE,
                                             units.KILOGRAM, units.HECTOPASCAL):
            return DSI_PREFIXES[symbol[0]] + base.dsi
    prefixes = " ".join(sorted(set(DSI_PREFIXES) - {"μ"}))
    symbols = ", ".join(sorted(units.BY_SYMBOL))
    allowed = f"one of {symbols} (optionally with one prefix of {prefixes})"
    raise ValidationError(field, symbol, allowed)


def print_unit(symbol: str) -> str:
    """The unit as printed: the canonical symbol (``"ohm"`` → ``"Ω"``), prefix kept."""
    known = units.BY_SYMBOL.get(symbol)
    if known is not None:
        return known.symbol
    if len(symbol) > 1 and symbol[0] in DSI_PREFIXES and symbol[1:] in units.BY_SYMBOL:
        prefix = "µ" if symbol[0] in "uμ" else symbol[0]
        return prefix + units.BY_SYMBOL[symbol[1:]].symbol
    return symbol


def dcc_conformity(verdict: str, *, field: str) -> str:
    """The DCC ``conformity`` value for a model verdict such as ``"conditional pass"``."""
    try:
        return CONFORMITY_TO_DCC[verdict.strip()]
    except KeyError:
        raise ValidationError(field, verdict, "one of " + ", ".join(
            repr(v) for v in ("pass", "conditional pass", "conditional fail", "fail"))) from None


def worst_verdict(verdicts: list[str]) -> str | None:
    """The certificate-level verdict (DCC spelling) from per-point verdicts, worst wins."""
    present = set(verdicts)
    for verdict in _SEVERITY:
        if verdict in present:
            return verdict
    return None
