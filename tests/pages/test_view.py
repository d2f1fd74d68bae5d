"""How registry values read on the public pages: exact decimals, SI prefixes only where the
unit takes them, the uncertainty at a searched value."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from labctl.platform.pages.public import view


def test_values_keep_their_digits_and_take_a_prefix_where_the_unit_does() -> None:
    assert view.quantity_value(Decimal("0.0000002"), "V") == "200 nV"
    assert view.quantity_value(Decimal("0.000002"), "V") == "2 µV"
    assert view.quantity_value(Decimal("1020"), "V") == "1.02 kV"
    assert view.quantity_value(Decimal("0.0005"), "°C") == "0.0005 °C"
    assert view.quantity_value(Decimal("0"), "Ω") == "0 Ω"
    assert view.span("-1020.000", "1020", "V") == "-1020 … 1020 V"


def test_uncertainty_relative_plus_absolute_and_at_a_value() -> None:
    assert view.uncertainty("0.000012", "0.000002", "V") == "12 µV/V + 2 µV"
    assert view.uncertainty("0", "0.003", "°C") == "0.003 °C"
    assert view.uncertainty("0.00000001", "0", "V") == "10 nV/V"
    assert view.uncertainty("0.00002", "0.1", "°C") == "20 × 10⁻⁶ · |x| + 0.1 °C"
    assert view.uncertainty("0.000001", "0.0000002", "V", Decimal("-10")) == "10.2 µV"


def test_calibration_validity_today() -> None:
    today = date(2026, 12, 5)
    assert view.validity(None, today)[1] == "bad"
    assert view.validity(date(2026, 12, 4), today) == ("Calibration expired", "bad")
    assert view.validity(date(2026, 12, 5), today) == ("Calibration valid", "ok")
