"""Every simulator records the commands it receives, so tests assert exact sequences."""

from __future__ import annotations

from tests.simulators.clients import modbus, scpi


def test_scpi_commands_are_recorded_one_per_command_in_order(bench):
    with scpi(bench, "dmm") as d:
        d.write("*RST;CONF:VOLT:DC 10 ; VOLT:DC:NPLC 100")
        d.query("READ?")
        d.write("")  # blank lines are not commands
        d.query("BOGUS?")
    assert bench.instruments["dmm"].commands == [
        "*RST", "CONF:VOLT:DC 10", "VOLT:DC:NPLC 100", "READ?", "BOGUS?"]
    assert bench.instruments["calibrator"].commands == []


def test_logs_are_per_instrument_and_survive_reconnects(bench):
    for _ in range(2):
        with scpi(bench, "calibrator") as c:
            c.query("OPER?")
    assert bench.instruments["calibrator"].commands == ["OPER?", "OPER?"]


def test_modbus_requests_are_recorded(bench):
    with modbus(bench, "temperature_source") as blk:
        blk.write_registers(0, [0x42C8, 0x0000], device_id=1)
        blk.write_register(2, 1, device_id=1)
        blk.read_input_registers(0, count=5, device_id=1)
        blk.read_holding_registers(100, count=3, device_id=1)
        blk.read_device_information(read_code=1, object_id=0, device_id=1)
        blk.read_coils(0, count=1, device_id=1)
    assert bench.instruments["temperature_source"].commands == [
        "write_registers 0 17096,0",
        "write_register 2 1",
        "read_input_registers 0 5",
        "read_holding_registers 100 3",
        "read_device_information 1 0",
        "read_coils 0 1",
    ]
    assert bench.instruments["environment"].commands == []
