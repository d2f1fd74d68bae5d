"""Shared physics: clocks, room profiles, reproducibility from the seed, PRT truth."""

from __future__ import annotations

import math

import pytest

from simulators.clock import ManualClock, RealClock
from simulators.devices.dry_block import PrtTruth
from simulators.physics import IEC_60751, callendar_van_dusen
from simulators.room import RoomProfile
from tests.simulators.clients import modbus, parse_floats, scpi

# --- clocks ---------------------------------------------------------------------------------


def test_manual_clock_moves_only_when_told():
    clock = ManualClock(start=10.0)
    assert clock.now() == 10.0
    assert clock.advance(2.5) == 12.5
    assert clock.now() == 12.5
    for bad in (-1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="advance"):
            clock.advance(bad)
    with pytest.raises(ValueError, match="start"):
        ManualClock(start=math.nan)


def test_real_clock_is_monotonic_from_zero():
    clock = RealClock()
    a = clock.now()
    b = clock.now()
    assert 0.0 <= a <= b


# --- room -----------------------------------------------------------------------------------


def test_steady_room():
    clock = ManualClock()
    room = RoomProfile(clock, temperature=21.5, humidity=40.0, pressure=100_000.0)
    clock.advance(86_400)
    c = room.now()
    assert (c.temperature, c.humidity, c.pressure) == (21.5, 40.0, 100_000.0)


def test_drift_is_linear_then_held():
    clock = ManualClock()
    room = RoomProfile(clock).drift(rate=0.5, duration=7200)
    assert room.at(3600).temperature == pytest.approx(23.5)
    assert room.at(7200).temperature == pytest.approx(24.0)
    assert room.at(20_000).temperature == pytest.approx(24.0)
    assert room.end_time == 7200


def test_excursion_out_and_back():
    clock = ManualClock()
    room = RoomProfile(clock).excursion(delta=4.0, ramp=600, hold=900, humidity_delta=10)
    assert room.at(300).temperature == pytest.approx(25.0)
    assert room.at(600).temperature == pytest.approx(27.0)
    assert room.at(1200).humidity == pytest.approx(55.0)
    assert room.at(1800).temperature == pytest.approx(25.0)
    assert room.at(2100).temperature == pytest.approx(23.0)


def test_segments_appended_after_the_script_ran_out_start_now():
    clock = ManualClock()
    room = RoomProfile(clock).ramp(100, temperature=24.0)
    clock.advance(1000)
    room.ramp(100, temperature=25.0)
    assert room.at(1000).temperature == pytest.approx(24.0)
    assert room.at(1050).temperature == pytest.approx(24.5)
    room.steady(temperature=20.0)
    assert room.at(1000).temperature == 20.0 and room.now().humidity == 45.0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda r: r.steady(temperature=100.0), "temperature"),
        (lambda r: r.steady(humidity=-1.0), "humidity"),
        (lambda r: r.ramp(-5, temperature=24.0), "duration"),
        (lambda r: r.ramp(5, pressure=1.0), "pressure"),
        (lambda r: r.hold(math.nan), "duration"),
    ],
)
def test_bad_room_script_is_rejected(call, match):
    room = RoomProfile(ManualClock())
    with pytest.raises(ValueError, match=match):
        call(room)


def test_room_drives_dmm_and_environment_together(bench):
    bench.room.drift(rate=2.0, duration=3600)
    bench.clock.advance(1800)
    assert bench.truth()["room"]["temperature"] == pytest.approx(24.0)
    assert bench.truth()["environment"]["room"]["temperature"] == pytest.approx(24.0)


# --- PRT ------------------------------------------------------------------------------------


def test_callendar_van_dusen_matches_iec_60751_table():
    nominal = PrtTruth()
    # IEC 60751 Pt100 reference values
    assert nominal.resistance(0.0) == pytest.approx(100.0, abs=1e-9)
    assert nominal.resistance(100.0) == pytest.approx(138.5055, abs=1e-4)
    assert nominal.resistance(-100.0) == pytest.approx(60.2558, abs=1e-4)
    assert callendar_van_dusen(-200.0, **IEC_60751) == pytest.approx(18.5201, abs=1e-4)


def test_drawn_prt_is_near_iec_60751(bench_factory):
    for seed in range(5):
        prt = bench_factory(seed=seed).truth()["prt"]
        assert prt["r0"] == pytest.approx(100.0, abs=0.06)
        assert prt["a"] == pytest.approx(3.9083e-3, rel=2e-3)
        assert prt["b"] == pytest.approx(-5.775e-7, rel=2e-2)
        assert prt["c"] == pytest.approx(-4.183e-12, rel=0.1)


def test_explicit_prt_coefficients(bench_factory):
    b = bench_factory(prt_truth={"r0": 100.02, "a": 3.9e-3})
    b.set_dmm_terminals("REAR")
    with modbus(b, "temperature_source") as blk:
        regs = blk.convert_to_registers(0.0, blk.DATATYPE.FLOAT32)
        assert not blk.write_registers(0, [*regs, 1], device_id=1).isError()
    b.clock.advance(7200)
    truth = b.truth()
    t = truth["prt"]["temperature"]
    assert truth["prt"]["resistance"] == pytest.approx(
        100.02 * (1 + 3.9e-3 * t + truth["prt"]["b"] * t * t) + (
            100.02 * truth["prt"]["c"] * (t - 100) * t**3 if t < 0 else 0), abs=1e-12)


# --- reproducibility ------------------------------------------------------------------------


def _session(bench) -> dict[str, object]:
    """A fixed measurement session; everything the clients saw."""
    with scpi(bench, "calibrator") as c:
        c.query("OUT 10 V;OPER;*OPC?")
    with scpi(bench, "dmm") as d:
        volts = d.query("CONF:VOLT:DC 10;SAMP:COUN 5;READ?")
        bench.set_dmm_terminals("REAR")
        ohms = d.query("CONF:FRES 1000;SAMP:COUN 3;READ?")
        idn = d.query("*IDN?")
    with scpi(bench, "thermometer") as t:
        ref = t.query("MEAS? 1")
    with modbus(bench, "environment") as env:
        room = env.read_input_registers(0, count=6, device_id=1).registers
    return {"volts": volts, "ohms": ohms, "idn": idn, "ref": ref, "room": room,
            "truth": bench.truth()}


def test_same_seed_same_everything(bench_factory):
    a = _session(bench_factory(seed=42))
    b = _session(bench_factory(seed=42))
    assert a == b


def test_different_seeds_give_different_instruments(bench_factory):
    sessions = [_session(bench_factory(seed=s)) for s in (1, 2, 3)]
    volts = [parse_floats(s["volts"])[0] for s in sessions]  # type: ignore[arg-type]
    assert len(set(volts)) == 3
    gains = {s["truth"]["dmm"]["errors"]["dcv"][10.0]["gain"] for s in sessions}  # type: ignore[index]
    assert len(gains) == 3
    assert len({s["idn"] for s in sessions}) == 3


def test_explicit_dmm_errors_give_a_known_device(bench_factory):
    b = bench_factory(seed=9, dmm_truth={"dcv": {10.0: {"gain": 20e-6, "offset": -30e-6,
                                                        "tc_gain": 0.0, "tc_offset": 0.0}},
                                         "noise_scale": 0.0},
                      calibrator_truth={"dcv": {33.0: {"gain": 0.0, "offset": 0.0}}})
    with scpi(b, "calibrator") as c:
        c.query("OUT 10 V;OPER;*OPC?")
    with scpi(b, "dmm") as d:
        (reading,) = parse_floats(d.query("MEAS:VOLT:DC? 10"))
    assert reading == pytest.approx(10 * (1 + 20e-6) - 30e-6, abs=0.5e-6)  # one resolution step


def test_prt_well_differs_from_the_reference_well_by_the_radial_non_uniformity(bench_factory):
    b = bench_factory(dry_block_truth={"well_difference": 0.01})
    with modbus(b, "temperature_source") as blk:
        regs = blk.convert_to_registers(223.0, blk.DATATYPE.FLOAT32)
        assert not blk.write_registers(0, [*regs, 1], device_id=1).isError()
    b.clock.advance(7200)
    truth = b.truth()
    reference = truth["temperature_source"]["true_temperature"]
    assert truth["prt"]["temperature"] - reference == pytest.approx(
        0.01 * (reference - 23.0) / 100, rel=1e-6)
    b.set_dmm_terminals("REAR")
    with scpi(b, "dmm") as d:
        (ohms,) = parse_floats(d.query("MEAS:FRES? 1000"))
    err = truth["dmm"]["errors"]["fres"][1000.0]
    assert ohms == pytest.approx(truth["prt"]["resistance"] * (1 + err["gain"]) + err["offset"],
                                 abs=2e-3)


def test_truth_helpers_agree_with_what_the_wire_shows(bench_factory):
    b = bench_factory(seed=77, dmm_truth={"noise_scale": 0.0})
    cal = b.instruments["calibrator"].model
    dmm = b.instruments["dmm"].model
    with scpi(b, "calibrator") as c:
        assert c.query("OUT 2.5 V;OPER;*OPC?") == "1"
    x = b.truth()["calibrator"]["true_output"]["value"]
    assert cal.true_value(2.5, "V") == x
    with scpi(b, "dmm") as d:
        (reading,) = parse_floats(d.query("MEAS:VOLT:DC? 10"))
    assert reading - x == pytest.approx(dmm.true_error(x, "VOLT", 10.0), abs=0.5e-6)
    assert dmm.true_error(x, "VOLT") == dmm.true_error(x, "VOLT", 10.0)  # autorange: 10 V
    with pytest.raises(ValueError, match="rng"):
        dmm.true_error(1.0, "VOLT", 3.0)
    with pytest.raises(ValueError, match="unit"):
        cal.true_value(1.0, "A")


def test_every_seed_gives_a_bench_whose_dmm_meets_spec_against_the_calibrator(bench_factory):
    """Across many simulated devices, DMM − calibrator setpoint stays within both specs.

    At 10 V: DMM 1-year ±(35 ppm + 5 ppm of 10 V range), calibrator ±(12 ppm + 20 µV), plus
    a few noise σ for a 10-reading mean. A realistic bench must pass this for every seed.
    """
    limit = 10 * 35e-6 + 10 * 5e-6 + 10 * 12e-6 + 20e-6 + 3 * 2e-6 / 10**0.5
    errors = []
    for seed in range(20):
        b = bench_factory(seed=seed)
        with scpi(b, "calibrator") as c:
            c.query("OUT 10 V;OPER;*OPC?")
        with scpi(b, "dmm") as d:
            readings = parse_floats(d.query("CONF:VOLT:DC 10;SAMP:COUN 10;READ?"))
        errors.append(sum(readings) / len(readings) - 10)
        b.stop()
    assert max(abs(e) for e in errors) < limit
    assert len({round(e, 7) for e in errors}) == 20  # 20 different devices
