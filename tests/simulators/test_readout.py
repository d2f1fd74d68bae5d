"""The simulated Fluke 1594A over a real TCP socket."""

from __future__ import annotations

import statistics

import pytest

from tests.simulators.clients import modbus, scpi


def test_identification_and_error_query(bench):
    with scpi(bench, "thermometer") as t:
        idn = t.query("*IDN?").split(",")
        assert idn[:2] == ["FLUKE", "1594A"]
        assert idn[2] == bench.truth()["thermometer"]["serial"]
        assert t.ask("*OPC?;SYST:ERR?", 2) == ["1", '+0,"No error"']


def test_channel_one_reads_the_block_with_the_probe_error(bench):
    truth = bench.truth()
    expected = truth["temperature_source"]["true_temperature"] + truth["thermometer"]["errors"][
        "probe_error"]
    with scpi(bench, "thermometer") as t:
        replies = [t.query("MEAS? 1") for _ in range(20)]
    assert all(len(r) == 13 and r[0] in "+-" and "E" in r for r in replies)  # +2.500123E+01
    values = [float(r) for r in replies]
    assert statistics.fmean(values) == pytest.approx(expected, abs=3e-4)
    assert 0 < statistics.stdev(values) < 2e-3


def test_reference_follows_the_heated_block(bench):
    with modbus(bench, "temperature_source") as blk:
        regs = blk.convert_to_registers(150.0, blk.DATATYPE.FLOAT32)
        assert not blk.write_registers(0, [*regs, 1], device_id=1).isError()
    bench.clock.advance(3600)
    truth = bench.truth()
    with scpi(bench, "thermometer") as t:
        value = float(t.query("MEAS:TEMP? 1"))
    assert value == pytest.approx(truth["temperature_source"]["true_temperature"]
                                  + truth["thermometer"]["errors"]["probe_error"], abs=2e-3)
    assert 149.5 < value < 150.5


@pytest.mark.parametrize("channel", ["2", "3", "4"])
def test_unconnected_channel_overloads_with_minus_222(bench, channel):
    with scpi(bench, "thermometer") as t:
        assert t.query(f"MEAS? {channel}") == "+9.9E+37"
        assert t.query("SYST:ERR?") == '-222,"Data out of range"'


@pytest.mark.parametrize(
    ("command", "reply", "error"),
    [
        ("MEAS? 5", "+9.9E+37", '-222,"Data out of range"'),
        ("MEAS? 0", "+9.9E+37", '-222,"Data out of range"'),
        ("MEAS? one", "", '-104,"Data type error"'),
        ("MEAS?", "", '-109,"Missing parameter"'),
        ("MEAS? 1,2", "", '-108,"Parameter not allowed"'),
        ("READ? 1", "", '-113,"Undefined header"'),
    ],
)
def test_bad_queries(bench, command, reply, error):
    with scpi(bench, "thermometer") as t:
        assert t.query(command) == reply
        assert t.query("SYST:ERR?") == error


def test_out_of_range_fault(bench):
    bench.instruments["thermometer"].faults.out_of_range = True
    with scpi(bench, "thermometer") as t:
        assert t.query("MEAS? 1") == "-3.000000E+02"


def test_reset_and_clear_status(bench):
    with scpi(bench, "thermometer") as t:
        t.write("MEAS? 9;BOGUS")
        assert t.readline() == "+9.9E+37"
        assert int(t.query("*ESR?")) == 32 | 16
        t.write("*RST")
        assert t.query("SYST:ERR?") == '-222,"Data out of range"'  # *RST keeps the queue
        t.write("*CLS")
        assert t.query("SYST:ERR?") == '+0,"No error"'
