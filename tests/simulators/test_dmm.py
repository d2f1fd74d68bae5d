"""The simulated Keysight 34465A over a real TCP socket: commands, replies, errors, physics."""

from __future__ import annotations

import math
import statistics

import pytest

from simulators.devices.dmm_34465a import FRES_SPEC, NPLC_RESOLUTION_PPM, VOLT_SPEC
from tests.simulators.clients import parse_floats, scpi

NO_ERROR = '+0,"No error"'


def test_identification_and_common_commands(bench):
    with scpi(bench, "dmm") as d:
        idn = d.query("*IDN?").split(",")
        assert idn[:2] == ["Keysight Technologies", "34465A"]
        assert idn[2] == bench.truth()["dmm"]["serial"]
        assert d.ask("*OPC?;*ESR?;SYST:ERR?", 3) == ["1", "0", NO_ERROR]


def test_reset_configuration(bench):
    with scpi(bench, "dmm") as d:
        d.write("CONF:FRES 1000;SAMP:COUN 5")
        d.write("*RST")
        assert d.query("CONF?") == '"VOLT +1.000000E+01,+1.000000E-06"'
        assert d.ask("VOLT:DC:NPLC?;SAMP:COUN?;TRIG:COUN?;VOLT:DC:RANG:AUTO?", 4) == [
            "+1.00000000E+01", "+1", "+1", "1"]


@pytest.mark.parametrize(
    ("command", "conf"),
    [
        ("CONF:VOLT:DC 10", '"VOLT +1.000000E+01,+1.000000E-06"'),
        ("CONF:VOLT:DC 0.1", '"VOLT +1.000000E-01,+1.000000E-08"'),
        ("CONF:VOLT:DC 5", '"VOLT +1.000000E+01,+1.000000E-06"'),  # smallest range that fits
        ("CONF:VOLT:DC 1000", '"VOLT +1.000000E+03,+1.000000E-04"'),
        ("CONFIGURE:VOLTAGE:DC 1", '"VOLT +1.000000E+00,+1.000000E-07"'),
        ("conf:volt 100", '"VOLT +1.000000E+02,+1.000000E-05"'),
        ("CONF:VOLT:DC 10,MIN", '"VOLT +1.000000E+01,+3.000000E-07"'),
        ("CONF:FRES 100", '"FRES +1.000000E+02,+1.000000E-05"'),
        ("CONF:FRES 1E4", '"FRES +1.000000E+04,+1.000000E-03"'),
        ("CONF:FRES MAX", '"FRES +1.000000E+08,+1.000000E+01"'),
    ],
)
def test_configure_and_conf_query(bench, command, conf):
    with scpi(bench, "dmm") as d:
        d.write(command)
        assert d.query("CONF?") == conf
        assert d.query("SYST:ERR?") == NO_ERROR


def test_range_and_nplc_settings_per_function(bench):
    with scpi(bench, "dmm") as d:
        d.write("VOLT:DC:RANG 100;VOLT:DC:NPLC 1;FRES:RANG 1000;FRES:NPLC 100")
        assert d.ask("VOLT:DC:RANG?;VOLT:DC:NPLC?;VOLT:DC:RANG:AUTO?", 3) == [
            "+1.00000000E+02", "+1.00000000E+00", "0"]
        assert d.ask("FRES:RANG?;FRES:NPLC?", 2) == ["+1.00000000E+03", "+1.00000000E+02"]
        assert d.query("SENS:VOLT:DC:NPLC?") == "+1.00000000E+00"
        assert d.query("CONF?") == '"VOLT +1.000000E+02,+3.000000E-05"'
        assert d.query("SYST:ERR?") == NO_ERROR


@pytest.mark.parametrize("nplc", sorted(NPLC_RESOLUTION_PPM))
def test_every_nplc_choice_is_accepted(bench, nplc):
    with scpi(bench, "dmm") as d:
        d.write(f"VOLT:DC:NPLC {nplc}")
        assert float(d.query("VOLT:DC:NPLC?")) == nplc
        assert d.query("SYST:ERR?") == NO_ERROR


def test_configure_resets_nplc_and_counts(bench):
    with scpi(bench, "dmm") as d:
        d.write("VOLT:DC:NPLC 100;SAMP:COUN 7;TRIG:COUN 3")
        d.write("CONF:VOLT:DC 10")
        assert d.ask("VOLT:DC:NPLC?;SAMP:COUN?;TRIG:COUN?", 3) == ["+1.00000000E+01", "+1", "+1"]


@pytest.mark.parametrize(
    ("command", "code", "message"),
    [
        ("VOLT:DC:NPLC 5", -222, "Data out of range"),
        ("VOLT:DC:NPLC 1000", -222, "Data out of range"),
        ("VOLT:DC:NPLC abc", -104, "Data type error"),
        ("VOLT:DC:NPLC", -109, "Missing parameter"),
        ("VOLT:DC:RANG 2000", -222, "Data out of range"),
        ("CONF:VOLT:DC 1001", -222, "Data out of range"),
        ("CONF:FRES 1E9", -222, "Data out of range"),
        ("CONF:VOLT:DC TEN", -104, "Data type error"),
        ("SAMP:COUN 0", -222, "Data out of range"),
        ("SAMP:COUN 1000001", -222, "Data out of range"),
        ("SAMP:COUN 2.5", -222, "Data out of range"),
        ("TRIG:COUN", -109, "Missing parameter"),
        ("CONF:CURR:DC 1", -113, "Undefined header"),
        ("VOLT:AC:RANG 10", -113, "Undefined header"),
    ],
)
def test_errors_leave_the_setting_unchanged(bench, command, code, message):
    with scpi(bench, "dmm") as d:
        before = d.ask("CONF?;VOLT:DC:NPLC?;SAMP:COUN?;TRIG:COUN?", 4)
        d.write(command)
        assert d.query("SYST:ERR?") == f'{code},"{message}"'
        assert d.query("SYST:ERR?") == NO_ERROR
        assert d.ask("CONF?;VOLT:DC:NPLC?;SAMP:COUN?;TRIG:COUN?", 4) == before


def test_a_failed_query_still_gets_one_empty_line(bench):
    with scpi(bench, "dmm") as d:
        assert d.ask("FOO?;*OPC?", 2) == ["", "1"]
        assert d.query("SYST:ERR?") == '-113,"Undefined header"'


def test_error_queue_is_fifo_and_overflows_at_32(bench):
    with scpi(bench, "dmm") as d:
        d.write("FOO;VOLT:DC:NPLC 3;SAMP:COUN;VOLT:DC:NPLC x")
        assert d.ask("SYST:ERR?;SYST:ERR?;SYST:ERR?;SYST:ERR?;SYST:ERR?", 5) == [
            '-113,"Undefined header"', '-222,"Data out of range"', '-109,"Missing parameter"',
            '-104,"Data type error"', NO_ERROR]
        d.write(";".join(["FOO"] * 40))
        errors = d.ask(";".join(["SYST:ERR?"] * 33), 33)
        assert errors[:31] == ['-113,"Undefined header"'] * 31
        assert errors[31] == '-350,"Queue overflow"'
        assert errors[32] == NO_ERROR


def test_semicolon_chain_and_crlf_input(bench):
    with scpi(bench, "dmm") as d:
        d.write("*RST;CONF:VOLT:DC 1;SAMP:COUN 2;SAMP:COUN?;CONF?", terminator="\r\n")
        assert d.readline() == "+2"
        assert d.readline() == '"VOLT +1.000000E+00,+1.000000E-07"'


def test_read_returns_sample_times_trigger_readings(bench):
    with scpi(bench, "dmm") as d:
        d.write("CONF:VOLT:DC 10;SAMP:COUN 4;TRIG:COUN 3")
        readings = d.query("READ?").split(",")
        assert len(readings) == 12
        assert all(r.startswith(("+", "-")) and "E" in r and len(r) == 15 for r in readings)


def test_init_then_fetch_returns_the_same_readings_until_next_init(bench):
    with scpi(bench, "dmm") as d:
        d.write("CONF:VOLT:DC 10;SAMP:COUN 3;INIT")
        first = d.query("FETC?")
        assert d.query("FETC?") == first
        assert len(first.split(",")) == 3


def test_fetch_without_readings_is_an_error(bench):
    with scpi(bench, "dmm") as d:
        assert d.query("FETC?") == ""
        assert d.query("SYST:ERR?") == '-230,"Data corrupt or stale"'


def test_terminals_follow_the_bench_switch(bench):
    with scpi(bench, "dmm") as d:
        assert d.query("ROUT:TERM?") == "FRON"
        bench.set_dmm_terminals("REAR")
        assert d.query("ROUT:TERM?") == "REAR"
    with pytest.raises(ValueError, match="terminals"):
        bench.set_dmm_terminals("BACK")


# --- physics -------------------------------------------------------------------------------


def _calibrate(bench, volts: float) -> None:
    with scpi(bench, "calibrator") as c:
        assert c.query(f"OUT {volts} V;OPER;*OPC?") == "1"


def test_dmm_reads_the_calibrator_output_within_its_true_error_and_noise(bench):
    _calibrate(bench, 10)
    truth = bench.truth()
    x = truth["calibrator"]["true_output"]["value"]
    err = truth["dmm"]["errors"]["dcv"][10.0]
    expected = x * (1 + err["gain"]) + err["offset"]  # room at 23.000 °C: no tempco term
    with scpi(bench, "dmm") as d:
        readings = parse_floats(d.query("CONF:VOLT:DC 10;VOLT:DC:NPLC 10;SAMP:COUN 50;READ?"))
    mean = statistics.fmean(readings)
    sd = statistics.stdev(readings)
    assert 0.05e-6 * 10 < sd < 0.5e-6 * 10  # 34465A-like noise at NPLC 10 on 10 V
    assert mean == pytest.approx(expected, abs=4 * sd / math.sqrt(50) + 1e-6)
    # ... and the DMM's spec holds against the calibrator setpoint
    assert abs(mean - 10) < 10 * (35e-6 + 15e-6) + 10 * 5e-6


def test_readings_are_quantised_to_the_resolution(bench):
    _calibrate(bench, 1)
    with scpi(bench, "dmm") as d:
        readings = parse_floats(d.query("CONF:VOLT:DC 1;VOLT:DC:NPLC 1;SAMP:COUN 20;READ?"))
    step = 1.0 * 0.3e-6
    for r in readings:
        assert r / step == pytest.approx(round(r / step), abs=1e-6)


def test_noise_shrinks_as_one_over_root_nplc(bench):
    _calibrate(bench, 10)
    with scpi(bench, "dmm") as d:
        fast = parse_floats(d.query("CONF:VOLT:DC 10;VOLT:DC:NPLC 0.2;SAMP:COUN 400;READ?"))
        slow = parse_floats(d.query("VOLT:DC:NPLC 10;SAMP:COUN 400;READ?"))
    ratio = statistics.stdev(fast) / statistics.stdev(slow)
    assert ratio == pytest.approx(math.sqrt(10 / 0.2), rel=0.25)


def test_standby_calibrator_reads_near_zero_and_overload_beyond_range(bench):
    with scpi(bench, "dmm") as d:
        (zero,) = parse_floats(d.query("MEAS:VOLT:DC? 1"))
        assert abs(zero) < 20e-6
        _calibrate(bench, 15)
        assert d.query("MEAS:VOLT:DC? 10") == "+9.9E+37"  # 15 V > 120 % of 10 V
        (auto,) = parse_floats(d.query("MEAS:VOLT:DC? AUTO"))
        assert auto == pytest.approx(15, rel=1e-4)
        assert d.query("VOLT:DC:RANG?") == "+1.00000000E+02"  # autorange picked 100 V
        assert d.query("MEAS:FRES? 1000") == "+9.9E+37"  # a voltage source is no resistor


def test_four_wire_resistance_of_the_calibrator(bench):
    with scpi(bench, "calibrator") as c:
        assert c.query("OUT 100 OHM;OPER;*OPC?") == "1"
    truth = bench.truth()
    x = truth["calibrator"]["true_output"]["value"]
    err = truth["dmm"]["errors"]["fres"][100.0]
    with scpi(bench, "dmm") as d:
        readings = parse_floats(d.query("CONF:FRES 100;SAMP:COUN 20;READ?"))
    assert statistics.fmean(readings) == pytest.approx(x * (1 + err["gain"]) + err["offset"],
                                                       abs=5e-5)


def test_rear_terminals_read_the_prt_in_the_dry_block(bench):
    bench.set_dmm_terminals("REAR")
    truth = bench.truth()
    r_true = truth["prt"]["resistance"]
    err = truth["dmm"]["errors"]["fres"][1000.0]
    with scpi(bench, "dmm") as d:
        readings = parse_floats(d.query("CONF:FRES 1000;SAMP:COUN 10;READ?"))
    assert statistics.fmean(readings) == pytest.approx(r_true * (1 + err["gain"]) + err["offset"],
                                                       abs=3e-4)
    assert 95 < r_true < 115  # a Pt100 near room temperature


def test_room_temperature_shifts_the_reading_by_the_tempco(bench_factory):
    b = bench_factory(dmm_truth={"dcv": {10.0: {"tc_gain": 3e-6, "tc_offset": 0.0}},
                                 "noise_scale": 0.0})
    _calibrate(b, 10)
    x = b.truth()["calibrator"]["true_output"]["value"]
    with scpi(b, "dmm") as d:
        (at_23,) = parse_floats(d.query("MEAS:VOLT:DC? 10"))
        b.room.ramp(60, temperature=28.0)
        b.clock.advance(60)
        (at_28,) = parse_floats(d.query("MEAS:VOLT:DC? 10"))
    assert at_28 - at_23 == pytest.approx(x * 3e-6 * 5, abs=2e-6)


def test_drawn_errors_are_inside_the_one_year_spec(bench_factory):
    for seed in range(5):
        errors = bench_factory(seed=seed).truth()["dmm"]["errors"]
        for key, spec in (("dcv", VOLT_SPEC), ("fres", FRES_SPEC)):
            for rng, p_rdg, p_rng, tc_rdg, tc_rng, _ in spec:
                e = errors[key][rng]
                assert abs(e["gain"]) <= p_rdg * 1e-6
                assert abs(e["offset"]) <= p_rng * 1e-6 * rng
                assert abs(e["tc_gain"]) <= tc_rdg * 1e-6
                assert abs(e["tc_offset"]) <= tc_rng * 1e-6 * rng


def test_out_of_range_fault_gives_overload(bench):
    _calibrate(bench, 1)
    bench.instruments["dmm"].faults.out_of_range = True
    with scpi(bench, "dmm") as d:
        assert d.query("MEAS:VOLT:DC? 10") == "+9.9E+37"


def test_autorange_once_picks_a_range_then_holds_it(bench):
    _calibrate(bench, 0.5)
    with scpi(bench, "dmm") as d:
        d.write("CONF:VOLT:DC 1000;VOLT:DC:RANG:AUTO ONCE")
        assert d.ask("VOLT:DC:RANG?;VOLT:DC:RANG:AUTO?", 2) == ["+1.00000000E+00", "0"]
        _calibrate(bench, 5)
        assert d.query("READ?") == "+9.9E+37"  # held on 1 V: 5 V overloads it
        d.write("VOLT:DC:RANG:AUTO ON")
        (value,) = parse_floats(d.query("READ?"))
        assert value == pytest.approx(5, rel=1e-4)
        assert d.query("VOLT:DC:RANG?") == "+1.00000000E+01"
        d.write("FRES:RANG:AUTO OFF")
        assert d.query("FRES:RANG:AUTO?") == "0"
        d.write("FRES:RANG:AUTO MAYBE")
        assert d.query("SYST:ERR?") == '-104,"Data type error"'


def test_count_keywords_and_cls(bench):
    with scpi(bench, "dmm") as d:
        d.write("SAMP:COUN MAX;TRIG:COUN MIN")
        assert d.ask("SAMP:COUN?;TRIG:COUN?", 2) == ["+1000000", "+1"]
        d.write("SAMP:COUN 1000;TRIG:COUN 1001")
        assert d.query("READ?") == ""  # more than the reading memory holds
        d.write("FOO")
        assert d.query("SYST:ERR?") == '-221,"Settings conflict"'
        d.write("*CLS")
        assert d.ask("SYST:ERR?;*ESR?", 2) == [NO_ERROR, "0"]


def test_voltage_function_on_a_resistance_source_reads_zero(bench):
    with scpi(bench, "calibrator") as c:
        assert c.query("OUT 1 KOHM;OPER;*OPC?") == "1"
    with scpi(bench, "dmm") as d:
        (value,) = parse_floats(d.query("MEAS:VOLT:DC? 0.1"))
    assert abs(value) < 10e-6  # only the DMM's own offset and noise


def test_measure_with_resolution_picks_the_nplc(bench):
    with scpi(bench, "dmm") as d:
        d.query("MEAS:VOLT:DC? 10,1E-5")
        assert d.query("VOLT:DC:NPLC?") == "+2.00000000E-01"  # 0.7 ppm of 10 V ≤ 10 µV
        d.query("MEAS:VOLT:DC? 10,1E-9")
        assert d.query("SYST:ERR?") == '-222,"Data out of range"'
