"""Modbus drivers against the simulated THP-1 and DB-450: identity, float decoding, the room
profile and block settling seen through the driver, exception codes and sensor faults."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from labctl.drivers.generic.dry_block import DryBlockDB450
from labctl.drivers.generic.thp_sensor import Thp1Sensor
from labctl.drivers.retry import RetryPolicy
from labctl.drivers.roles import EnvironmentSensor, TemperatureSource
from labctl.errors import (
    ConnectionLostError,
    InstrumentError,
    InstrumentTimeoutError,
    ResponseError,
    ValidationError,
)
from tests.drivers.conftest import commands

pytestmark = pytest.mark.timeout(20)

TWO = RetryPolicy(attempts=2, deadline=3.0, backoff=0.01)


@pytest.mark.parametrize(("role", "cls", "protocol", "vendor", "model", "firmware"), [
    ("environment", Thp1Sensor, EnvironmentSensor, "Simulated Environment", "THP-1", "1.7"),
    ("temperature_source", DryBlockDB450, TemperatureSource, "Simulated Thermal", "DB-450",
     "2.3"),
])
def test_identify(bench: Any, connect: Any, role: str, cls: type, protocol: type, vendor: str,
                  model: str, firmware: str) -> None:
    driver = connect(role)
    assert isinstance(driver, cls) and isinstance(driver, protocol)
    ident = driver.identify()
    assert (ident.vendor, ident.model, ident.firmware) == (vendor, model, firmware)
    assert ident.serial == str(bench.instruments[role].truth()["serial"])
    assert commands(bench, role)[-2:] == ["read_device_information 1 0",
                                          "read_holding_registers 100 3"]


class TestEnvironmentSensor:
    def test_reading_in_si_units_matches_the_room(self, bench: Any, connect: Any) -> None:
        env = connect("environment")
        reading = env.read()
        room = bench.truth()["room"]
        assert reading.time.tzinfo is UTC and abs(datetime.now(UTC) - reading.time).seconds < 5
        assert reading.temperature == pytest.approx(room["temperature"], abs=0.3)
        assert reading.humidity == pytest.approx(room["humidity"], abs=3.0)
        assert reading.pressure == pytest.approx(room["pressure"], abs=100.0)  # Pa, not hPa
        assert commands(bench, "environment")[-1] == "read_input_registers 0 7"  # one request

    def test_the_room_profile_seen_through_the_driver(self, bench: Any, connect: Any) -> None:
        env = connect("environment")
        start = env.read().temperature
        bench.room.excursion(delta=4.0, ramp=600.0, hold=600.0)
        bench.clock.advance(900.0)  # inside the hold: 4 °C warmer
        assert env.read().temperature == pytest.approx(start + 4.0, abs=0.3)
        bench.clock.advance(1200.0)  # ramped back down
        assert env.read().temperature == pytest.approx(start, abs=0.3)

    def test_out_of_range_reading_is_refused(self, bench: Any, connect: Any) -> None:
        env = connect("environment")
        bench.instruments["environment"].faults.out_of_range = True
        with pytest.raises(ResponseError, match="temperature within -40 … 80 °C"):
            env.read()

    def test_sensor_fault_bit(self, bench: Any, connect: Any) -> None:
        env = connect("environment")
        bench.instruments["environment"].model.sensor_fault = True
        try:
            with pytest.raises(InstrumentError, match="sensor fault"):
                env.read()
        finally:
            bench.instruments["environment"].model.sensor_fault = False

    @pytest.mark.parametrize("code", [1, 2, 3, 4, 6, 11])
    def test_modbus_exception_codes(self, bench: Any, connect: Any, code: int) -> None:
        env = connect("environment")
        bench.instruments["environment"].faults.modbus_exception = code
        with pytest.raises(InstrumentError) as err:
            env.read()
        assert err.value.code == code and err.value.command == "read input 0+7"

    def test_no_reply_times_out(self, bench: Any, connect: Any) -> None:
        env = connect("environment", timeout=0.2, retry=TWO)
        bench.instruments["environment"].faults.no_reply = True
        with pytest.raises(InstrumentTimeoutError) as err:
            env.read()
        assert err.value.timeout <= 0.2  # a retry never waits longer than the link timeout
        assert commands(bench, "environment")[-2:] == ["read_input_registers 0 7"] * 2

    def test_dropped_connection_then_retry(self, bench: Any, connect: Any, on_retry: Any) -> None:
        env = connect("environment")
        faults = bench.instruments["environment"].faults
        faults.drop_connection = True
        handler = on_retry(faults.clear)
        assert -40 < env.read().temperature < 80
        assert handler.retries == 1

    def test_dropped_connection_persisting(self, bench: Any, connect: Any) -> None:
        env = connect("environment", retry=TWO)
        bench.instruments["environment"].faults.drop_connection = True
        with pytest.raises(ConnectionLostError):
            env.read()

    def test_garbled_response(self, bench: Any, connect: Any, on_retry: Any) -> None:
        env = connect("environment", retry=TWO)
        faults = bench.instruments["environment"].faults
        faults.garble = True
        with pytest.raises((ResponseError, InstrumentTimeoutError)):
            env.read()
        on_retry(faults.clear)
        faults.garble = True
        assert -40 < env.read().temperature < 80


class TestDryBlock:
    def test_setpoint_round_trip_as_float32(self, bench: Any, connect: Any) -> None:
        block = connect("temperature_source")
        for value in (-25.0, 0.0, 123.456, 450.0):
            block.setpoint = value
            assert block.setpoint == float(np.float32(value))  # ABCD float32, exactly
            assert bench.instruments["temperature_source"].truth()["setpoint"] == pytest.approx(
                value, abs=1e-4)

    def test_setpoint_out_of_range_sends_nothing(self, bench: Any, connect: Any) -> None:
        block = connect("temperature_source")
        before = commands(bench, "temperature_source")
        for bad in (450.5, -25.01, float("nan"), "100", True):
            with pytest.raises(ValidationError) as err:
                block.setpoint = bad
            assert err.value.field == "setpoint" and err.value.value is bad
        assert commands(bench, "temperature_source") == before

    def test_block_settles_through_the_driver(self, bench: Any, connect: Any) -> None:
        block = connect("temperature_source")
        block.setpoint = 50.0
        block.enable()
        assert block.control_enabled and not block.is_stable()
        assert block.heater_output() > 0
        for _ in range(240):  # at most 2 simulated hours, in 30 s steps
            bench.clock.advance(30.0)
            if block.is_stable():
                break
        assert block.is_stable()
        assert block.process_value() == pytest.approx(50.0, abs=0.05)
        assert bench.truth()["temperature_source"]["true_temperature"] == pytest.approx(50.0,
                                                                                        abs=0.5)

    def test_write_exception_is_not_resent(self, bench: Any, connect: Any) -> None:
        block = connect("temperature_source")
        bench.instruments["temperature_source"].faults.modbus_exception = 4
        before = len(commands(bench, "temperature_source"))
        with pytest.raises(InstrumentError) as err:
            block.setpoint = 80.0
        assert err.value.code == 4
        assert commands(bench, "temperature_source")[before:] == ["write_registers 0 17056,0"]

    def test_process_value_out_of_range(self, bench: Any, connect: Any) -> None:
        block = connect("temperature_source")
        bench.instruments["temperature_source"].faults.out_of_range = True
        with pytest.raises(ResponseError, match="process_value"):
            block.process_value()

    def test_snapshot(self, connect: Any) -> None:
        block = connect("temperature_source")
        block.setpoint = 60.0
        snap = block.snapshot()
        assert snap["setpoint"] == 60.0 and snap["control_enabled"] is False
        assert snap["model"] == "DB-450"
