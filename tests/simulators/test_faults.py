"""Faults switched at run time, on SCPI and Modbus instruments, seen from real clients."""

from __future__ import annotations

import contextlib
import socket

import pytest
from pymodbus.exceptions import ModbusException

from simulators.faults import Faults
from tests.simulators.clients import ScpiClient, modbus, scpi

SHORT = 0.15  # s: client timeout for "no answer comes"


# --- SCPI -----------------------------------------------------------------------------------


def test_latency_delays_the_reply_without_losing_it(bench):
    bench.instruments["dmm"].faults.latency = 0.4
    with scpi(bench, "dmm") as d:
        d.sock.settimeout(SHORT)
        d.write("*OPC?")
        with pytest.raises(TimeoutError):
            d.readline()
        d.sock.settimeout(5)
        assert d.readline() == "1"


def test_global_latency_applies_to_every_instrument(bench):
    bench.latency = 0.4
    with scpi(bench, "calibrator") as c:
        c.sock.settimeout(SHORT)
        c.write("*OPC?")
        with pytest.raises(TimeoutError):
            c.readline()
        c.sock.settimeout(5)
        assert c.readline() == "1"


def test_no_reply_records_but_neither_executes_nor_answers(bench):
    inst = bench.instruments["calibrator"]
    inst.faults.no_reply = True
    with scpi(bench, "calibrator") as c:
        c.sock.settimeout(SHORT)
        c.write("OUT 5 V;OUT?")
        with pytest.raises(TimeoutError):
            c.readline()
        inst.faults.no_reply = False
        c.sock.settimeout(5)
        assert c.query("OUT?") == "0.000000E+00,V"
    assert inst.commands == ["OUT 5 V", "OUT?", "OUT?"]


def test_drop_connection_closes_at_the_next_request(bench):
    inst = bench.instruments["dmm"]
    with scpi(bench, "dmm") as d:
        assert d.query("*OPC?") == "1"
        inst.faults.drop_connection = True
        d.write("*IDN?")
        with pytest.raises((EOFError, ConnectionError)):
            d.readline()
    with ScpiClient(inst.port) as d2:  # still dropping while set
        d2.write("*OPC?")
        with pytest.raises((EOFError, ConnectionError)):
            d2.readline()
    inst.faults.drop_connection = False
    with scpi(bench, "dmm") as d3:
        assert d3.query("*OPC?") == "1"
    assert inst.commands == ["*OPC?", "*IDN?", "*OPC?", "*OPC?"]


def test_garbled_reply_is_printable_noise(bench):
    inst = bench.instruments["dmm"]
    with scpi(bench, "dmm") as d:
        clean = d.query("MEAS:VOLT:DC? 10")
        inst.faults.garble = True
        garbled = d.query("MEAS:VOLT:DC? 10")
        inst.faults.garble = False
        assert d.query("*OPC?") == "1"
    assert garbled.startswith("#?") and garbled.isprintable()
    assert len(garbled) == len(clean) + 2
    with pytest.raises(ValueError):
        float(garbled)


def test_pushed_errors_come_out_of_the_queue(bench):
    bench.instruments["dmm"].model.push_error(-310, "System error")
    bench.instruments["calibrator"].model.push_error(-222)
    with scpi(bench, "dmm") as d:
        assert d.query("SYST:ERR?") == '-310,"System error"'
        assert d.query("*ESR?") == "8"
    with scpi(bench, "calibrator") as c:
        assert c.query("ERR?") == '-222,"Data out of range"'
    with pytest.raises(ValueError, match="code"):
        bench.instruments["dmm"].model.push_error(0)


def test_fault_values_are_validated():
    faults = Faults()
    with pytest.raises(ValueError, match="latency"):
        faults.latency = -1
    with pytest.raises(ValueError, match="modbus_exception"):
        faults.modbus_exception = 9
    with pytest.raises(ValueError, match="garble"):
        faults.garble = "yes"  # type: ignore[assignment]
    faults.garble = True
    faults.modbus_exception = 4
    faults.clear()
    assert faults == Faults()


# --- Modbus ---------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [1, 4, 6, 11])
def test_modbus_exception_on_every_request(bench, code):
    bench.instruments["temperature_source"].faults.modbus_exception = code
    with modbus(bench, "temperature_source") as blk:
        replies = [
            blk.read_holding_registers(0, count=2, device_id=1),
            blk.read_input_registers(0, count=2, device_id=1),
            blk.write_register(2, 1, device_id=1),
            blk.read_device_information(read_code=1, object_id=0, device_id=1),
        ]
    assert [r.exception_code for r in replies] == [code] * 4
    assert bench.truth()["temperature_source"]["control"] == 0  # the write did nothing


def test_modbus_no_reply_times_out_and_recovers(bench):
    inst = bench.instruments["environment"]
    inst.faults.no_reply = True
    with modbus(bench, "environment", timeout=SHORT) as env, pytest.raises(ModbusException):
        env.read_input_registers(0, count=2, device_id=1)
    inst.faults.no_reply = False
    with modbus(bench, "environment") as env:
        assert not env.read_input_registers(0, count=2, device_id=1).isError()
    assert inst.commands[:1] == ["read_input_registers 0 2"]


def test_modbus_latency(bench):
    bench.instruments["environment"].faults.latency = 0.5
    with modbus(bench, "environment", timeout=SHORT) as env, pytest.raises(ModbusException):
        env.read_input_registers(0, count=2, device_id=1)
    bench.instruments["environment"].faults.latency = 0.05
    with modbus(bench, "environment", timeout=5) as env:
        assert not env.read_input_registers(0, count=2, device_id=1).isError()


def test_modbus_drop_connection(bench):
    inst = bench.instruments["temperature_source"]
    inst.faults.drop_connection = True
    with modbus(bench, "temperature_source", timeout=1) as blk, pytest.raises(ModbusException):
        blk.read_input_registers(0, count=2, device_id=1)
    inst.faults.drop_connection = False
    with modbus(bench, "temperature_source") as blk:
        assert not blk.read_input_registers(0, count=2, device_id=1).isError()


def test_modbus_garble_is_detected_by_the_client(bench):
    bench.instruments["environment"].faults.garble = True
    with modbus(bench, "environment", timeout=0.5) as env:
        try:
            reply = env.read_input_registers(0, count=2, device_id=1)
        except ModbusException:
            return  # the client could not even frame it: detected
    assert reply.isError() or reply.function_code != 4


def test_raw_socket_garbage_does_not_kill_the_modbus_server(bench):
    port = bench.instruments["environment"].port
    with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
        s.sendall(b"\x00\x01\x00\x00\x00\x02\x01\x63")  # unknown function 0x63
        s.settimeout(0.5)
        with contextlib.suppress(TimeoutError):
            s.recv(64)
    with modbus(bench, "environment") as env:
        assert not env.read_input_registers(0, count=2, device_id=1).isError()
