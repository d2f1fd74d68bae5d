"""SCPI drivers against the simulated calibrator, DMM and readout: identity, every property's
round trip, readings compared with the bench's truth, the exact commands on the wire."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from labctl.drivers.fluke.f1594a import Fluke1594A
from labctl.drivers.fluke.f5522a import Fluke5522A
from labctl.drivers.keysight.k34465a import Keysight34465A
from labctl.drivers.retry import NO_RETRY
from labctl.drivers.roles import Calibrator, Dmm, Thermometer
from tests.drivers.conftest import commands


@pytest.mark.parametrize(("role", "vendor", "model", "cls", "protocol"), [
    ("calibrator", "FLUKE", "5522A", Fluke5522A, Calibrator),
    ("dmm", "Keysight Technologies", "34465A", Keysight34465A, Dmm),
    ("thermometer", "FLUKE", "1594A", Fluke1594A, Thermometer),
])
def test_identify(bench: Any, connect: Any, role: str, vendor: str, model: str, cls: type,
                  protocol: type) -> None:
    driver = connect(role)
    assert isinstance(driver, cls) and isinstance(driver, protocol)
    ident = driver.identify()
    assert (ident.vendor, ident.model) == (vendor, model)
    assert ident.serial == bench.instruments[role].truth()["serial"]
    assert ident.firmware
    assert commands(bench, role)[-1] == "*IDN?"


class TestCalibrator:
    def test_voltage_round_trip_and_operate(self, bench: Any, connect: Any) -> None:
        cal = connect("calibrator")
        cal.source_dc_voltage(1.5)
        assert cal.output() == (1.5, "V")
        assert cal.output_enabled is False  # a new value never switches the output on
        cal.operate()
        assert cal.output_enabled is True
        truth = bench.instruments["calibrator"].truth()
        assert truth["operate"] is True and truth["setpoint"] == 1.5
        cal.standby()
        assert bench.instruments["calibrator"].truth()["operate"] is False
        assert commands(bench, "calibrator")[-9:] == [
            "OUT 1.5 V", "ERR?", "OUT?", "OPER?", "OPER", "ERR?", "OPER?", "STBY", "ERR?"]

    def test_resistance_and_negative_voltage(self, connect: Any) -> None:
        cal = connect("calibrator")
        cal.source_resistance(100.0)
        assert cal.output() == (100.0, "OHM")
        cal.source_resistance(1.9e6)
        assert cal.output() == (1.9e6, "OHM")
        cal.source_dc_voltage(-1000.0)
        assert cal.output() == (-1000.0, "V")
        cal.source_dc_voltage(12.3456789e-3)
        value, unit = cal.output()
        assert unit == "V" and value == pytest.approx(12.3456789e-3, rel=1e-6)

    def test_output_enabled_is_a_setting(self, bench: Any, connect: Any) -> None:
        cal = connect("calibrator")
        cal.output_enabled = True
        assert bench.instruments["calibrator"].truth()["operate"] is True
        cal.output_enabled = False
        assert commands(bench, "calibrator")[-4:] == ["OPER", "ERR?", "STBY", "ERR?"]

    def test_snapshot(self, connect: Any) -> None:
        cal = connect("calibrator")
        cal.source_dc_voltage(10.0)
        snap = cal.snapshot()
        assert snap["model"] == "5522A" and snap["output_value"] == 10.0
        assert snap["output_unit"] == "V" and snap["output_enabled"] is False


class TestDmm:
    def test_settings_round_trip(self, bench: Any, connect: Any) -> None:
        dmm = connect("dmm")
        for rng in (0.1, 1.0, 10.0, 100.0, 1000.0):
            dmm.voltage_range = rng
            assert dmm.voltage_range == rng
        for nplc in (0.02, 0.06, 0.2, 1.0, 10.0, 100.0):
            dmm.voltage_nplc = nplc
            assert dmm.voltage_nplc == nplc
            dmm.resistance_nplc = nplc
            assert dmm.resistance_nplc == nplc
        for n in (1, 7, 1_000_000):
            dmm.sample_count = n
            assert dmm.sample_count == n
            dmm.trigger_count = n
            assert dmm.trigger_count == n
        # a set is the command then one error-queue check; a get is the query alone
        assert commands(bench, "dmm")[-3:] == ["TRIG:COUN 1000000", "SYST:ERR?", "TRIG:COUN?"]

    def test_configure_dc_voltage_and_read(self, bench: Any, connect: Any) -> None:
        cal, dmm = connect("calibrator"), connect("dmm")
        cal.source_dc_voltage(1.0)
        cal.operate()
        dmm.configure_dc_voltage(10.0, nplc=10)
        assert commands(bench, "dmm")[-4:] == [
            "CONF:VOLT:DC 10", "SYST:ERR?", "VOLT:DC:NPLC 10", "SYST:ERR?"]
        conf = dmm.configuration()
        assert (conf.function, conf.range) == ("VOLT", 10.0)
        assert dmm.resolution == conf.resolution > 0
        reading = dmm.read()
        true_output = bench.instruments["calibrator"].truth()["true_output"]["value"]
        assert reading == pytest.approx(true_output, abs=50e-6)  # DMM error + noise ≪ 50 µV/V
        assert dmm.terminals == "FRON"

    def test_autorange_and_resistance(self, bench: Any, connect: Any) -> None:
        dmm = connect("dmm")
        dmm.configure_dc_voltage(None, nplc=1)
        assert "CONF:VOLT:DC AUTO" in commands(bench, "dmm")
        bench.set_dmm_terminals("REAR")
        assert dmm.terminals == "REAR"
        dmm.configure_resistance_4w(1000.0, nplc=10)
        assert dmm.configuration().function == "FRES"
        ohms = dmm.read()
        truth = bench.truth()["prt"]["resistance"]
        assert ohms == pytest.approx(truth, rel=1e-4)  # the PRT in the block, about 110 Ω

    def test_read_many(self, bench: Any, connect: Any) -> None:
        cal, dmm = connect("calibrator"), connect("dmm")
        cal.source_dc_voltage(5.0)
        cal.operate()
        dmm.configure_dc_voltage(10.0, nplc=0.2)
        data = dmm.read_many(1000)
        assert isinstance(data, np.ndarray) and data.shape == (1000,) and data.dtype == np.float64
        assert np.all(np.abs(data - 5.0) < 1e-3) and data.std() > 0  # real noise, not a copy
        assert commands(bench, "dmm")[-5:] == ["SAMP:COUN 1000", "SYST:ERR?", "READ?",
                                               "SAMP:COUN 1", "SYST:ERR?"]
        assert dmm.read() == pytest.approx(5.0, abs=1e-3)  # single readings work again

    def test_snapshot(self, connect: Any) -> None:
        dmm = connect("dmm")
        dmm.configure_dc_voltage(1.0, nplc=1)
        snap = dmm.snapshot()
        assert snap["function"] == "VOLT" and snap["range"] == 1.0 and snap["nplc"] == 1.0
        assert snap["sample_count"] == 1 and snap["trigger_count"] == 1  # reset by CONF
        assert snap["terminals"] == "FRON"
        assert snap["model"] == "34465A"


class TestThermometer:
    def test_measure_the_block(self, bench: Any, connect: Any) -> None:
        thermometer = connect("thermometer")
        value = thermometer.measure(1)
        assert value == pytest.approx(bench.truth()["prt"]["temperature"], abs=0.05)
        assert commands(bench, "thermometer")[-1] == "MEAS? 1"


def test_one_driver_shared_by_threads_never_crosses_replies(connect: Any) -> None:
    """A run's environment monitor and its procedure may share a driver."""
    import threading

    dmm = connect("dmm", retry=NO_RETRY)  # retries could mask a crossed reply
    dmm.configure_dc_voltage(10.0, nplc=1)
    failures: list[str] = []

    def ask(getter: Any, expected: object) -> None:
        for _ in range(150):
            got = getter()
            if got != expected:
                failures.append(f"{got!r} != {expected!r}")

    threads = [threading.Thread(target=ask, args=(lambda: dmm.voltage_nplc, 1.0)),
               threading.Thread(target=ask, args=(lambda: dmm.terminals, "FRON")),
               threading.Thread(target=ask, args=(lambda: dmm.configuration().range, 10.0))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == []


def test_read_refuses_several_readings(connect: Any) -> None:
    from labctl.drivers.retry import NO_RETRY
    from labctl.errors import ResponseError

    dmm = connect("dmm", retry=NO_RETRY)
    dmm.configure_dc_voltage(10.0, nplc=0.02)
    dmm.trigger_count = 3
    with pytest.raises(ResponseError, match="is SAMP:COUN or TRIG:COUN above 1"):
        dmm.read()


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(volts=st.floats(min_value=-1020.0, max_value=1020.0))
def test_the_calibrator_receives_exactly_the_validated_value(bench: Any, connect: Any,
                                                             volts: float) -> None:
    """What reaches the instrument is the double the caller asked for, to the last bit."""
    cal = connect("calibrator")  # one bench for all examples; a driver per example is cheap
    cal.source_dc_voltage(volts)
    assert bench.instruments["calibrator"].truth()["setpoint"] == volts


def test_burst_timeout_follows_the_integration_time(connect: Any) -> None:
    dmm = connect("dmm", timeout=0.5)
    dmm.configure_dc_voltage(10.0, nplc=0.02)
    short = dmm._burst_timeout(1000)
    dmm.voltage_nplc = 100  # a real DMM now needs 2 s per reading: the timeout must grow
    assert dmm._burst_timeout(1000) == pytest.approx(0.5 + 1.2 * 1000 * 100 / 50)
    assert short == pytest.approx(0.5 + 1.2 * 1000 * 0.02 / 50)
