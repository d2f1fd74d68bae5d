"""Protocol edge cases: parsing helpers, odd input, several clients, the fixtures' contract."""

from __future__ import annotations

import socket

import pytest

from simulators.clock import ManualClock
from simulators.registers import ModbusDeviceError, Register, RegisterTable, decode, encode
from simulators.scpi import ScpiModel, split_commands
from tests.simulators.clients import ScpiClient, scpi


def test_split_commands_keeps_quoted_semicolons():
    assert split_commands('*RST; DISP:TEXT "a;b" ;;  *OPC?') == ['*RST', 'DISP:TEXT "a;b"', "*OPC?"]
    assert split_commands("  ") == []


def test_scpi_header_forms():
    model = ScpiModel()
    model.add("SENSe:VOLTage[:DC]:NPLCycles", lambda p: "ok", query=True)
    for header in ("SENS:VOLT:DC:NPLC?", ":sense:voltage:nplcycles?", "SENSE:VOLT:NPLC?",
                   "sens:volt:dc:nplc?"):
        assert model.execute(header) == "ok", header
    for header in ("SENSX:VOLT:NPLC?", "SEN:VOLT:NPLC?", "VOLT:NPLC?", "SENS:VOLT:DC:NPLC"):
        model.execute(header)
        assert model.errors.pop() == (-113, "Undefined header"), header


def test_common_commands_reject_parameters():
    model = ScpiModel()
    assert model.execute("*OPC? 1") == ""
    assert model.pop_error() == (-108, "Parameter not allowed")
    assert model.execute("*TST?") == "0"
    assert model.execute("*WAI") is None
    assert model.pop_error() == (0, "No error")


@pytest.mark.parametrize(
    ("kind", "value", "words"),
    [
        ("float32", 1.0, [0x3F80, 0x0000]),
        ("float32", -2.5, [0xC020, 0x0000]),
        ("uint32", 0x12345678, [0x1234, 0x5678]),
        ("uint16", 513, [513]),
    ],
)
def test_register_encoding_round_trips(kind, value, words):
    assert encode(kind, value) == words
    assert decode(kind, words) == value


def test_register_table_rejects_overlaps_and_half_writes():
    with pytest.raises(ValueError, match="overlaps"):
        RegisterTable([Register(0, "float32", "a", lambda: 0.0),
                       Register(1, "uint16", "b", lambda: 0)])
    store: dict[str, float | int] = {}
    table = RegisterTable([Register(0, "float32", "x", lambda: 1.5,
                                    write=lambda v: store.__setitem__("x", v))])
    assert table.read(1, 1) == [0x0000]
    with pytest.raises(ModbusDeviceError) as err:
        table.write(1, [0])
    assert err.value.code == 3
    assert store == {}


def test_crlf_and_bare_lines_and_unicode_noise(bench):
    with scpi(bench, "dmm") as d:
        d.write("*OPC?", terminator="\r\n")
        assert d.readline() == "1"
        d.sock.sendall("ÄÖ?\n".encode())
        assert d.readline() == ""
        assert d.query("SYST:ERR?") == '-113,"Undefined header"'


def test_two_clients_share_one_instrument(bench):
    with scpi(bench, "calibrator") as a, scpi(bench, "calibrator") as b:
        a.write("OUT 3 V")
        assert a.query("*OPC?") == "1"
        assert b.query("OUT?") == "3.000000E+00,V"


def test_an_endless_line_gets_the_connection_closed_not_the_server(bench):
    port = bench.instruments["dmm"].port
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        try:
            s.sendall(b"A" * (2 << 20))
            s.settimeout(2)
            assert s.recv(10) == b""
        except ConnectionError:
            pass  # reset while we were still sending: also a hang-up
    with ScpiClient(port) as d:
        assert d.query("*OPC?") == "1"


def test_bench_fixture_contract(bench):
    assert bench.seed == 1234
    assert isinstance(bench.clock, ManualClock) and bench.clock.now() == 0.0
    assert bench.running
    assert bench.truth()["dmm"]["terminals"] == "FRON"
    for role, inst in bench.instruments.items():
        assert inst.truth()["serial"], role


def test_bench_factory_makes_independent_benches(bench, bench_factory):
    other = bench_factory(seed=1234)
    assert other is not bench
    assert other.clock is not bench.clock
    assert other.truth()["dmm"]["errors"] == bench.truth()["dmm"]["errors"]
    assert {i.port for i in other.instruments.values()}.isdisjoint(
        {i.port for i in bench.instruments.values()})
