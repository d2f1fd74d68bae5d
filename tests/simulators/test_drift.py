"""Drift of the bench's standards: rate and step on the manual clock, seen over the wire.

Readings come through the real servers (raw SCPI and Modbus clients); the expected values are
the devices' own truth, which must include the drift.
"""

from __future__ import annotations

import argparse
import statistics

import pytest

from simulators.__main__ import _drift_option, parse_args
from simulators.bench import DRIFT_ROLES, SimulatedBench
from simulators.clock import ManualClock
from simulators.drift import Drift
from tests.simulators.clients import modbus, parse_floats, scpi
from tests.simulators.test_modbus_devices import f32


def test_drift_is_a_ramp_from_since_plus_a_step_from_step_at():
    d = Drift(unit="1")
    assert d.value(1e6) == 0.0
    d.set(now=100.0, rate=2e-9)
    assert d.value(50.0) == 0.0  # no drift before it was switched on
    assert d.value(600.0) == pytest.approx(1e-6, rel=1e-12)
    d.set(now=600.0, rate=0.0)  # the slope stops, what accumulated stays
    assert d.value(5000.0) == pytest.approx(1e-6, rel=1e-12)
    d.set(now=600.0, step=-3e-6, step_at=1000.0)
    assert d.value(999.9) == pytest.approx(1e-6, rel=1e-12)
    assert d.value(1000.0) == pytest.approx(-2e-6, rel=1e-12)
    d.clear()
    assert d.value(5000.0) == 0.0


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "1e-9", True])
def test_bad_drift_values_are_refused_naming_the_field(bad):
    with pytest.raises(ValueError, match=r"drift\.rate="):
        Drift().set(now=0.0, rate=bad)


def test_calibrator_output_follows_its_gain_drift(bench_factory):
    clock = ManualClock()
    bench = bench_factory(seed=11, clock=clock, calibrator_truth={"dcv": {33.0: {
        "gain": 2e-6, "offset": 5e-6}}})
    with scpi(bench, "calibrator") as cal, scpi(bench, "dmm") as dmm:
        cal.write("OUT 10 V")
        cal.write("OPER")
        assert cal.query("OPER?") == "1"  # the commands before it are done
        dmm.write("CONF:VOLT:DC 10")
        first = bench.truth()["calibrator"]["true_output"]["value"]
        assert first == pytest.approx(10.0 * (1 + 2e-6) + 5e-6, abs=1e-12)
        bench.set_drift("calibrator", rate=1e-10)  # per s: 10 ppm in 1e5 s
        clock.advance(1e5)
        truth = bench.truth()["calibrator"]
        assert truth["drift"]["value"] == pytest.approx(1e-5, rel=1e-9)
        assert truth["dcv_gain_now"][33.0] == pytest.approx(2e-6 + 1e-5, rel=1e-9)
        assert truth["true_output"]["value"] == pytest.approx(10.0 * (1 + 12e-6) + 5e-6,
                                                              abs=1e-12)
        # the DMM sees the moved output: its reading changes by the drift (100 µV)
        before = _dmm_mean(dmm)
        bench.set_drift("calibrator", step=5e-6)  # a step now, on top of the ramp so far
        after = _dmm_mean(dmm)
        assert after - before == pytest.approx(10.0 * 5e-6, abs=5e-6)
        assert bench.truth()["calibrator"]["drift"]["value"] == pytest.approx(1.5e-5, rel=1e-9)
    # errors as drawn stay the calibration-time errors
    assert bench.truth()["calibrator"]["errors"]["dcv"][33.0]["gain"] == 2e-6


def _dmm_mean(dmm) -> float:
    dmm.write("SAMP:COUN 10")
    readings = parse_floats(dmm.query("READ?"))
    return statistics.fmean(readings)


def test_readout_and_dry_block_drift_in_their_truth_and_readings(bench_factory):
    clock = ManualClock()
    bench = bench_factory(seed=12, clock=clock, readout_truth={"probe_error": 0.001,
                                                               "noise": 0.0},
                          drift={"thermometer": {"rate": 1e-7, "step": 0.01,
                                                 "step_at": 3600.0}})
    clock.advance(1800.0)
    truth = bench.truth()["thermometer"]
    assert truth["probe_error_now"] == pytest.approx(0.001 + 1.8e-4, abs=1e-12)
    with scpi(bench, "thermometer") as ref:
        t_block = bench.truth()["thermometer"]["block_temperature"]
        assert float(ref.query("MEAS? 1")) == pytest.approx(t_block + 0.001 + 1.8e-4, abs=2e-6)
        clock.advance(1800.0)  # the step at 3600 s is now applied
        t_block = bench.truth()["thermometer"]["block_temperature"]
        assert float(ref.query("MEAS? 1")) == pytest.approx(t_block + 0.001 + 3.6e-4 + 0.01,
                                                            abs=2e-6)
    bench.set_drift("temperature_source", step=0.2)
    block = bench.truth()["temperature_source"]
    assert block["sensor_error_now"] == pytest.approx(block["errors"]["sensor_error"] + 0.2)
    with modbus(bench, "temperature_source") as blk:
        # PV = control zone + sensor error now (+ 3 mK rms noise): the step shows at once
        reply = blk.read_input_registers(0, count=2, device_id=1)
        assert not reply.isError()
        pv = f32(reply.registers)
        expected = block["control_zone_temperature"] + block["sensor_error_now"]
        assert pv == pytest.approx(expected, abs=0.015)
        assert abs(pv - expected + 0.2) > 0.15  # without the step it would be 0.2 °C off


def test_bench_drift_options_are_checked():
    with pytest.raises(ValueError, match="drift role='dmm'"):
        SimulatedBench(seed=1, clock=ManualClock(), drift={"dmm": {"rate": 1.0}})
    with pytest.raises(ValueError, match=r"drift\['calibrator'\] option \['slope'\]"):
        SimulatedBench(seed=1, clock=ManualClock(), drift={"calibrator": {"slope": 1.0}})
    assert set(DRIFT_ROLES) == {"calibrator", "thermometer", "temperature_source"}


def test_cli_drift_option():
    args = parse_args(["--drift", "calibrator:1e-9:5e-6@600", "--drift", "thermometer:2e-7"])
    assert dict(args.drift) == {"calibrator": {"rate": 1e-9, "step": 5e-6, "step_at": 600.0},
                                "thermometer": {"rate": 2e-7}}
    with pytest.raises(argparse.ArgumentTypeError, match="drift role='dmm'"):
        _drift_option("dmm:1")
    with pytest.raises(argparse.ArgumentTypeError, match="ROLE:RATE"):
        _drift_option("calibrator:fast")
