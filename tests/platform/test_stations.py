"""How a station reads a standard's errors from the points of its certificate."""

from __future__ import annotations

from decimal import Decimal

import pytest

from labctl.platform.models.certificates import ResultPoint
from labctl.platform.results.corrections import fit_errors


def _p(label: str, nominal: str, reference: str, measured: str, U: str,
       quantity: str = "DC voltage", unit: str = "V") -> ResultPoint:
    return ResultPoint(certificate_id=1, posting_id=1, seq=0, table_title="t", quantity=quantity,
                       unit=unit, range_label=label, nominal=Decimal(nominal),
                       reference_value=Decimal(reference), measured_value=Decimal(measured),
                       expanded_uncertainty=Decimal(U), coverage_factor=Decimal(2),
                       coverage_probability=Decimal("0.95"))


def test_source_errors_are_actual_minus_setting_per_range():
    # A calibrator: indication = setting; actual output = 10·(1 + 5e-6) + 2e-6 at 10 V.
    pts = [_p("33V", "0", "0.000002", "0", "0.000002"),
           _p("33V", "10", "10.000052", "10", "0.00002"),
           _p("33V", "-10", "-10.000048", "-10", "0.00002"),
           _p("3.3V", "1", "0.999999", "1", "0.000002")]
    errs = {(c.range_label, c.parameter): c for c in fit_errors(pts, "C-1")}
    assert errs[("33V", "gain")].value == pytest.approx(5e-6, rel=1e-9)
    assert errs[("33V", "offset")].value == pytest.approx(2e-6, abs=1e-12)
    assert errs[("33V", "offset")].u == pytest.approx(0.8e-6, rel=0.3)  # ≈ u at zero, k = 2
    # one point on a range: an offset only, gain exactly 0 with no uncertainty claimed
    assert errs[("3.3V", "offset")].value == pytest.approx(-1e-6, abs=1e-12)
    assert errs[("3.3V", "gain")].value == 0 and errs[("3.3V", "gain")].u == 0
    assert all(c.certificate_number == "C-1" for c in errs.values())


def test_meter_errors_are_reading_minus_reference():
    pts = [_p("100ohm", "0", "0", "0.0002", "0.0008", "resistance", "Ω"),
           _p("100ohm", "100", "100", "100.0042", "0.0011", "resistance", "Ω")]
    errs = {c.parameter: c for c in fit_errors(pts, "C-2")}
    assert errs["offset"].value == pytest.approx(0.0002, abs=1e-12)
    assert errs["gain"].value == pytest.approx(0.00004, rel=1e-9)
