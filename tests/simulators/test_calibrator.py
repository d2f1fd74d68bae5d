"""The simulated Fluke 5522A over a real TCP socket: commands, replies, errors, physics."""

from __future__ import annotations

import pytest

from simulators.devices.calibrator_5522a import DCV_RANGES, OHM_RANGES
from tests.simulators.clients import scpi


def test_identification_and_common_commands(bench):
    with scpi(bench, "calibrator") as c:
        idn = c.query("*IDN?").split(",")
        assert idn[:2] == ["FLUKE", "5522A"]
        assert idn[2] == bench.truth()["calibrator"]["serial"]
        assert c.query("*OPC?") == "1"
        assert c.query("*ESR?") == "0"
        assert c.query("ERR?") == '0,"No Error"'


def test_power_on_state_is_standby_zero_volts(bench):
    with scpi(bench, "calibrator") as c:
        assert c.query("OUT?") == "0.000000E+00,V"
        assert c.query("OPER?") == "0"


@pytest.mark.parametrize(
    ("command", "reply"),
    [
        ("OUT 1 V", "1.000000E+00,V"),
        ("OUT 1V", "1.000000E+00,V"),
        ("OUT -10.5 V", "-1.050000E+01,V"),
        ("OUT 100 MV", "1.000000E-01,V"),
        ("out 250mv", "2.500000E-01,V"),
        ("OUT 100 OHM", "1.000000E+02,OHM"),
        ("OUT 1.5 KOHM", "1.500000E+03,OHM"),
        ("OUT 10MOHM", "1.000000E+07,OHM"),
        ("OUTPUT 1020 V", "1.020000E+03,V"),
        ("OUT 0 OHM", "0.000000E+00,OHM"),
    ],
)
def test_out_sets_the_output_in_base_units(bench, command, reply):
    with scpi(bench, "calibrator") as c:
        c.write(command)
        assert c.query("OUT?") == reply
        assert c.query("ERR?") == '0,"No Error"'


@pytest.mark.parametrize(
    ("command", "code", "message"),
    [
        ("OUT 1021 V", -222, "Data out of range"),
        ("OUT -1100 V", -222, "Data out of range"),
        ("OUT -1 OHM", -222, "Data out of range"),
        ("OUT 1101 MOHM", -222, "Data out of range"),
        ("OUT 1 A", -222, "Data out of range"),
        ("OUT ABC V", -104, "Data type error"),
        ("OUT", -109, "Missing parameter"),
        ("OUT 5", -109, "Missing parameter"),
        ("OUTX 5 V", -113, "Undefined header"),
        ("FOO", -113, "Undefined header"),
    ],
)
def test_bad_out_queues_the_error_and_keeps_the_output(bench, command, code, message):
    with scpi(bench, "calibrator") as c:
        c.write("OUT 2 V")
        c.write(command)
        assert c.query("ERR?") == f'{code},"{message}"'
        assert c.query("ERR?") == '0,"No Error"'
        assert c.query("OUT?") == "2.000000E+00,V"


def test_operate_standby_and_reset(bench):
    with scpi(bench, "calibrator") as c:
        c.write("OUT 5 V;OPER")
        assert c.query("OPER?") == "1"
        c.write("OUT 6 V")  # changing the value does not leave operate
        assert c.query("OPER?") == "1"
        c.write("STBY")
        assert c.query("OPER?") == "0"
        c.write("OPER;*RST")
        assert c.ask("OPER?;OUT?", 2) == ["0", "0.000000E+00,V"]


def test_esr_reports_command_and_execution_errors_then_clears(bench):
    with scpi(bench, "calibrator") as c:
        c.write("BOGUS")
        c.write("OUT 5000 V")
        assert int(c.query("*ESR?")) == 32 | 16
        assert c.query("*ESR?") == "0"
        c.write("*CLS")
        assert c.query("ERR?") == '0,"No Error"'


def test_cls_clears_the_error_queue(bench):
    with scpi(bench, "calibrator") as c:
        c.write("BOGUS;BOGUS")
        c.write("*CLS")
        assert c.query("ERR?") == '0,"No Error"'


def test_true_output_follows_the_range_error_in_operate_only(bench):
    cal = bench.instruments["calibrator"].model
    with scpi(bench, "calibrator") as c:
        c.write("OUT 10 V;*OPC?")
        assert c.readline() == "1"  # the server has run the line: truth is current
        assert bench.truth()["calibrator"]["true_output"]["kind"] == "OPEN"
        c.query("OPER;*OPC?")
        truth = bench.truth()["calibrator"]
    err = truth["errors"]["dcv"][33.0]
    assert truth["range"] == 33.0
    assert truth["true_output"]["value"] == pytest.approx(10 * (1 + err["gain"]) + err["offset"],
                                                          rel=0, abs=1e-12)
    assert cal.output().value != 10.0  # a real instrument is never perfect


def test_drawn_errors_are_inside_the_one_year_spec(bench_factory):
    for seed in range(5):
        truth = bench_factory(seed=seed).truth()["calibrator"]["errors"]
        for upper, ppm, floor in DCV_RANGES:
            assert abs(truth["dcv"][upper]["gain"]) <= ppm * 1e-6
            assert abs(truth["dcv"][upper]["offset"]) <= floor
        for upper, ppm, floor in OHM_RANGES:
            assert abs(truth["ohm"][upper]["gain"]) <= ppm * 1e-6
            assert abs(truth["ohm"][upper]["offset"]) <= floor


def test_explicit_true_errors_override_the_drawn_ones(bench_factory):
    b = bench_factory(calibrator_truth={"dcv": {3.3: {"gain": 5e-6, "offset": -1e-6}}})
    errors = b.truth()["calibrator"]["errors"]["dcv"]
    assert errors[3.3]["gain"] == 5e-6
    assert errors[3.3]["offset"] == -1e-6
    with scpi(b, "calibrator") as c:
        c.write("OUT 1 V;OPER")
        c.query("*OPC?")
    assert b.truth()["calibrator"]["true_output"]["value"] == pytest.approx(1 + 5e-6 - 1e-6,
                                                                            abs=1e-15)
