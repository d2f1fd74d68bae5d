"""The simulated THP-1 and DB-450 over Modbus TCP, through pymodbus's own client."""

from __future__ import annotations

import struct

import pytest
from pymodbus.client import ModbusTcpClient

from tests.simulators.clients import modbus

F32 = ModbusTcpClient.DATATYPE.FLOAT32
U32 = ModbusTcpClient.DATATYPE.UINT32


def f32(regs: list[int]) -> float:
    return float(ModbusTcpClient.convert_from_registers(regs, F32, word_order="big"))


def regs_of(value: float) -> list[int]:
    return list(ModbusTcpClient.convert_to_registers(value, F32, word_order="big"))


def test_float_encoding_is_ieee754_big_endian_high_word_first(bench):
    with modbus(bench, "temperature_source") as blk:
        assert not blk.write_registers(0, regs_of(37.25), device_id=1).isError()
        words = blk.read_holding_registers(0, count=2, device_id=1).registers
    # ABCD: the bytes of the big-endian float, high word first, read by hand.
    assert struct.unpack(">f", struct.pack(">HH", *words))[0] == 37.25
    assert words == [0x4215, 0x0000]


# --- THP-1 ----------------------------------------------------------------------------------


def test_environment_reads_the_room_with_the_sensor_error(bench):
    truth = bench.truth()
    errors = truth["environment"]["errors"]
    with modbus(bench, "environment") as env:
        regs = env.read_input_registers(0, count=7, device_id=1).registers
        held = env.read_holding_registers(0, count=7, device_id=1).registers
    temperature, humidity, pressure = f32(regs[0:2]), f32(regs[2:4]), f32(regs[4:6])
    assert temperature == pytest.approx(23.0 + errors["temperature_offset"], abs=0.05)
    assert humidity == pytest.approx(45.0 + errors["humidity_offset"], abs=0.25)
    assert pressure == pytest.approx(1013.25 + errors["pressure_offset"], abs=0.1)
    assert regs[6] == 0
    assert f32(held[0:2]) == pytest.approx(temperature, abs=0.06)  # same quantity in both tables


def test_environment_identity_serial_and_firmware(bench):
    with modbus(bench, "environment") as env:
        info = env.read_device_information(read_code=1, object_id=0, device_id=1).information
        words = env.read_holding_registers(100, count=3, device_id=1).registers
    assert info == {0: b"Simulated Environment", 1: b"THP-1", 2: b"1.7"}
    assert ModbusTcpClient.convert_from_registers(words[0:2], U32) == bench.truth()[
        "environment"]["serial"]
    assert words[2] == 1 * 256 + 7


def test_environment_follows_a_room_excursion(bench):
    bench.room.excursion(delta=5.0, ramp=600, hold=600)
    with modbus(bench, "environment") as env:
        before = f32(env.read_input_registers(0, count=2, device_id=1).registers)
        bench.clock.advance(900)
        during = f32(env.read_input_registers(0, count=2, device_id=1).registers)
        bench.clock.advance(2000)
        after = f32(env.read_input_registers(0, count=2, device_id=1).registers)
    assert during - before == pytest.approx(5.0, abs=0.1)
    assert after == pytest.approx(before, abs=0.1)


def test_environment_sensor_fault_and_out_of_range(bench):
    inst = bench.instruments["environment"]
    with modbus(bench, "environment") as env:
        inst.model.sensor_fault = True
        assert env.read_input_registers(6, count=1, device_id=1).registers == [1]
        inst.model.sensor_fault = False
        inst.faults.out_of_range = True
        regs = env.read_input_registers(0, count=7, device_id=1).registers
    assert f32(regs[0:2]) < -40 and f32(regs[2:4]) < 0 and f32(regs[4:6]) < 500


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda c: c.read_input_registers(7, count=1, device_id=1), 2),
        (lambda c: c.read_input_registers(5, count=3, device_id=1), 2),
        (lambda c: c.read_input_registers(100, count=1, device_id=1), 2),  # holding only
        (lambda c: c.read_holding_registers(103, count=1, device_id=1), 2),
        (lambda c: c.read_holding_registers(50, count=1, device_id=1), 2),
        (lambda c: c.write_registers(0, regs_of(20.0), device_id=1), 2),  # read-only
        (lambda c: c.read_coils(0, count=1, device_id=1), 2),
        (lambda c: c.read_discrete_inputs(0, count=1, device_id=1), 2),
        (lambda c: c.read_input_registers(0, count=2, device_id=7), 11),
    ],
)
def test_environment_exceptions(bench, call, code):
    with modbus(bench, "environment") as env:
        reply = call(env)
    assert reply.isError()
    assert reply.exception_code == code


# --- DB-450 ---------------------------------------------------------------------------------


def _block(bench, setpoint: float | None = None, control: int | None = None):
    with modbus(bench, "temperature_source") as blk:
        if setpoint is not None:
            assert not blk.write_registers(0, regs_of(setpoint), device_id=1).isError()
        if control is not None:
            assert not blk.write_register(2, control, device_id=1).isError()
        hold = blk.read_holding_registers(0, count=3, device_id=1).registers
        inp = blk.read_input_registers(0, count=5, device_id=1).registers
    return {"setpoint": f32(hold[0:2]), "control": hold[2], "pv": f32(inp[0:2]),
            "stable": inp[2], "heater": f32(inp[3:5])}


def test_dry_block_power_on_state(bench):
    state = _block(bench)
    assert state["setpoint"] == 25.0 and state["control"] == 0
    assert state["stable"] == 0 and state["heater"] == 0.0
    assert state["pv"] == pytest.approx(23.0, abs=0.5)


def test_dry_block_identity(bench):
    with modbus(bench, "temperature_source") as blk:
        info = blk.read_device_information(read_code=1, object_id=0, device_id=1).information
        words = blk.read_holding_registers(100, count=3, device_id=1).registers
    assert info == {0: b"Simulated Thermal", 1: b"DB-450", 2: b"2.3"}
    assert ModbusTcpClient.convert_from_registers(words[0:2], U32) == bench.truth()[
        "temperature_source"]["serial"]
    assert words[2] == 2 * 256 + 3


def test_dry_block_settles_first_order_and_reports_stable(bench):
    state = _block(bench, setpoint=100.0, control=1)
    assert state["stable"] == 0 and state["heater"] > 50  # full drive far from setpoint
    tau = bench.truth()["temperature_source"]["errors"]["time_constant"]
    start = 23.0
    bench.clock.advance(tau)
    pv = _block(bench)["pv"]
    sensor_error = bench.truth()["temperature_source"]["errors"]["sensor_error"]
    # one time constant: 63.2 % of the way (in the controller's own biased frame)
    expected = 100 - (100 - start - sensor_error) * 0.3679
    assert pv == pytest.approx(expected, abs=0.3)
    assert _block(bench)["stable"] == 0
    bench.clock.advance(3600)
    state = _block(bench)
    assert state["stable"] == 1
    assert state["pv"] == pytest.approx(100.0, abs=0.02)
    truth = bench.truth()["temperature_source"]
    # the block itself is off by the controller sensor error and the losses to the room
    assert truth["true_temperature"] == pytest.approx(100 - sensor_error - 2e-4 * 77, abs=0.01)


def test_stable_needs_60_s_inside_the_band(bench):
    _block(bench, setpoint=50.0, control=1)
    block = bench.instruments["temperature_source"].model
    # step until the PV (noise-free part) first enters the ±0.02 °C band
    while abs(block.control_zone_temperature() + block.true_errors.sensor_error - 50) > 0.02:
        bench.clock.advance(2.0)
    assert _block(bench)["stable"] == 0
    bench.clock.advance(50)
    assert _block(bench)["stable"] == 0
    bench.clock.advance(12)
    assert _block(bench)["stable"] == 1
    _block(bench, setpoint=50.0, control=1)  # the same values again: still stable
    assert _block(bench)["stable"] == 1
    _block(bench, setpoint=60.0)  # a new setpoint restarts the wait
    assert _block(bench)["stable"] == 0


def test_dry_block_standby_relaxes_to_room(bench):
    _block(bench, setpoint=200.0, control=1)
    bench.clock.advance(3000)
    _block(bench, control=0)
    bench.clock.advance(20000)
    state = _block(bench)
    assert state["heater"] == 0.0 and state["stable"] == 0
    assert bench.truth()["temperature_source"]["true_temperature"] == pytest.approx(23.0, abs=0.05)


def test_dry_block_cooling_below_room_gives_negative_drive(bench):
    state = _block(bench, setpoint=-20.0, control=1)
    assert state["heater"] < 0


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda c: c.write_registers(0, regs_of(450.5), device_id=1), 3),
        (lambda c: c.write_registers(0, regs_of(-25.5), device_id=1), 3),
        (lambda c: c.write_registers(0, regs_of(float("nan")), device_id=1), 3),
        (lambda c: c.write_register(2, 2, device_id=1), 3),
        (lambda c: c.write_register(0, 0x42C8, device_id=1), 3),  # half a float
        (lambda c: c.write_registers(0, [*regs_of(80.0), 5], device_id=1), 3),  # all or nothing
        (lambda c: c.write_registers(100, [0, 1], device_id=1), 2),  # serial is read-only
        (lambda c: c.write_register(3, 1, device_id=1), 2),
        (lambda c: c.read_input_registers(5, count=1, device_id=1), 2),
        (lambda c: c.read_holding_registers(3, count=1, device_id=1), 2),
    ],
)
def test_dry_block_rejects_bad_writes_and_changes_nothing(bench, call, code):
    with modbus(bench, "temperature_source") as blk:
        reply = call(blk)
    assert reply.isError()
    assert reply.exception_code == code
    state = _block(bench)
    assert state["setpoint"] == 25.0 and state["control"] == 0


def test_dry_block_edge_setpoints_are_accepted(bench):
    assert _block(bench, setpoint=450.0)["setpoint"] == 450.0
    assert _block(bench, setpoint=-25.0)["setpoint"] == -25.0


def test_dry_block_out_of_range_fault(bench):
    bench.instruments["temperature_source"].faults.out_of_range = True
    assert _block(bench)["pv"] == pytest.approx(999.9, abs=1e-3)
