"""Remote adjustment of the 34465A against the simulator: what is sent, what changes."""

from __future__ import annotations

import math

import pytest

from labctl.errors import InstrumentError, ValidationError
from tests.drivers.conftest import commands


def test_gain_adjustment_makes_the_range_read_the_reference(bench, connect):
    cal, dmm = connect("calibrator"), connect("dmm")
    cal.source_dc_voltage(10.0)
    cal.operate()
    dmm.configure_dc_voltage(range=10.0, nplc=10)
    true_input = bench.instruments["calibrator"].model.true_value(10.0, "V") \
        if hasattr(bench.instruments["calibrator"].model, "true_value") else 10.0
    before = bench.truth()["dmm"]["errors"]["dcv"][10.0]["gain"]
    sent = len(commands(bench, "dmm"))
    dmm.adjust(true_input)
    assert commands(bench, "dmm")[sent:] == [
        "CAL:SEC:STAT OFF,AT34465", "SYST:ERR?", f"CAL:VAL {true_input!r}", "SYST:ERR?",
        "CAL?", "CAL:SEC:STAT ON,AT34465", "SYST:ERR?"]
    after = bench.truth()["dmm"]["errors"]["dcv"][10.0]
    assert after["gain"] != before
    assert abs(bench.instruments["dmm"].model.true_error(true_input, rng=10.0)) < 1e-7
    assert bench.instruments["dmm"].model.cal_secured is True
    assert bench.instruments["dmm"].model.cal_count == 1


def test_zero_adjustment_removes_the_offset(bench, connect):
    cal, dmm = connect("calibrator"), connect("dmm")
    cal.source_dc_voltage(0.0)
    cal.operate()
    dmm.configure_dc_voltage(range=1.0, nplc=10)
    offset = bench.truth()["calibrator"]["errors"]["dcv"][0.33]["offset"]
    dmm.adjust(offset)  # the calibrator's actual output at its 0 V setting
    assert abs(bench.instruments["dmm"].model.true_error(offset, rng=1.0)) < 1e-9


def test_a_wrong_security_code_fails_and_leaves_the_meter_secured(bench, connect):
    dmm = connect("dmm")
    with pytest.raises(InstrumentError) as err:
        dmm.adjust(1.0, security_code="WRONG")
    assert err.value.code == 703
    assert bench.instruments["dmm"].model.cal_secured is True
    assert bench.instruments["dmm"].model.cal_count == 0


@pytest.mark.parametrize("bad", [math.nan, math.inf, "10", True])
def test_bad_reference_is_refused_before_anything_is_sent(bench, connect, bad):
    dmm = connect("dmm")
    sent = len(commands(bench, "dmm"))
    with pytest.raises(ValidationError) as err:
        dmm.adjust(bad)
    assert err.value.field == "reference"
    assert commands(bench, "dmm")[sent:] == []
