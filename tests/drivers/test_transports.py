"""The two transports on their own, against the simulators: terminations, timeouts (float
seconds, per call), reconnects, the shared resource manager, Modbus requests and checks."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from labctl.drivers.registers import Table
from labctl.drivers.transports.base import MAJOR_MINOR_REVISION, PRODUCT_CODE, VENDOR_NAME
from labctl.drivers.transports.modbus import ModbusTcpTransport
from labctl.drivers.transports.visa import VisaTransport
from labctl.errors import (
    ConnectionLostError,
    InstrumentCommunicationError,
    InstrumentError,
    InstrumentTimeoutError,
    ResponseError,
    ValidationError,
)
from tests.drivers.conftest import commands

pytestmark = pytest.mark.timeout(20)


@contextlib.contextmanager
def scripted_peer(script: Callable[[socket.socket], object]) -> Iterator[int]:
    """A real TCP peer on 127.0.0.1 that runs ``script`` on the one connection it accepts
    (for replies no well-behaved simulator sends: split, doubled, never-ending, stale);
    yields its port."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with conn, contextlib.suppress(OSError):  # OSError: the client went away first
            script(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        listener.close()
        thread.join(timeout=5)


def socket_resource(port: int) -> str:
    return f"TCPIP0::127.0.0.1::{port}::SOCKET"


def modbus(bench: Any, role: str, **kwargs: Any) -> ModbusTcpTransport:
    port = urlsplit(bench.resources[role]).port
    assert port is not None
    return ModbusTcpTransport("127.0.0.1", port, **kwargs)


class TestVisaTransport:
    def test_query_write_and_bytes(self, bench: Any) -> None:
        with VisaTransport(bench.resources["dmm"], timeout=1.0) as link:
            assert link.query("*IDN?").startswith("Keysight Technologies,34465A,")
            link.write("SAMP:COUN 3")
            assert link.query_bytes("SAMP:COUN?") == b"+3"  # termination stripped
        assert commands(bench, "dmm") == ["*IDN?", "SAMP:COUN 3", "SAMP:COUN?"]

    def test_crlf_write_termination(self, bench: Any) -> None:
        with VisaTransport(bench.resources["thermometer"], write_termination="\r\n") as link:
            assert link.query("*IDN?").startswith("FLUKE,1594A,")

    def test_crlf_read_termination_with_an_lf_only_instrument(self, bench: Any) -> None:
        # configured for CRLF, the simulator ends replies with LF alone: no wait for a CR
        with VisaTransport(bench.resources["dmm"], read_termination="\r\n",
                           timeout=0.5) as link:
            assert link.query("SAMP:COUN?") == "+1"

    def test_per_call_timeout_overrides_the_link_timeout(self, bench: Any) -> None:
        bench.instruments["dmm"].faults.latency = 0.3
        try:
            with VisaTransport(bench.resources["dmm"], timeout=0.1) as link:
                assert link.query("*OPC?", timeout=2.0) == "1"
                with pytest.raises(InstrumentTimeoutError) as err:
                    link.query("*OPC?")
                assert err.value.timeout == 0.1
        finally:
            bench.instruments["dmm"].faults.clear()

    def test_timeout_setter_and_validation(self, bench: Any) -> None:
        with VisaTransport(bench.resources["dmm"], timeout=1.0) as link:
            link.timeout = 0.25
            assert link.timeout == 0.25
            for bad in (0, -1, float("nan"), 7200, "1"):
                with pytest.raises(ValidationError, match="timeout"):
                    link.timeout = bad  # type: ignore[assignment]
            assert link.query("*OPC?") == "1"
        with pytest.raises(ValidationError, match="write_termination"):
            VisaTransport(bench.resources["dmm"], write_termination=";")
        with pytest.raises(ValidationError, match="resource"):
            VisaTransport("  ")

    def test_reconnect_gives_a_fresh_working_session(self, bench: Any) -> None:
        with VisaTransport(bench.resources["calibrator"]) as link:
            first = link.opened_count
            link.reconnect()
            assert link.opened_count == first + 1 and link.is_open
            assert link.query("OPER?") == "0"

    def test_shared_resource_manager_outlives_one_transport(self, bench: Any) -> None:
        a = VisaTransport(bench.resources["dmm"])
        b = VisaTransport(bench.resources["calibrator"])
        with a, b:
            a.close()  # the last user closes the resource manager, not the first
            assert b.query("*OPC?") == "1"
        assert not a.is_open and not b.is_open


    def test_dropped_connection_is_seen_at_once_not_after_the_timeout(self, bench: Any) -> None:
        faults = bench.instruments["dmm"].faults
        with VisaTransport(bench.resources["dmm"], timeout=30.0) as link:
            assert link.query("*OPC?") == "1"
            faults.drop_connection = True
            try:
                started = time.monotonic()
                with pytest.raises(ConnectionLostError, match="closed by the instrument"):
                    link.query("*IDN?")
                assert time.monotonic() - started < 5.0  # of a 30 s timeout
            finally:
                faults.clear()
            assert not link.is_open
            assert link.query("*OPC?") == "1"  # the next call reconnects

    @pytest.mark.parametrize("logged", [False, True], ids=["quiet", "debug-logged"])
    def test_a_reply_in_pieces_and_two_replies_in_one_segment(self, logged: bool,
                                                               caplog: Any) -> None:
        if logged:  # the logged path reads through write() and _read(), not the inline one
            caplog.set_level("DEBUG", logger="labctl.drivers.transports")

        def script(conn: socket.socket) -> None:
            reader = conn.makefile("rb")
            assert reader.readline() == b"A?\n"
            conn.sendall(b"+1.2")
            time.sleep(0.05)  # the rest of the reply comes in a later segment
            conn.sendall(b"5E+00\n")
            assert reader.readline() == b"B?\n"
            conn.sendall(b"first\nsecond\n")  # an instrument that answered twice at once
            assert reader.readline() == b"C?\n"
            conn.sendall(b"x" * 200_000 + b"\n")  # longer than one receive

        with scripted_peer(script) as port, VisaTransport(socket_resource(port),
                                                          timeout=2.0) as link:
            assert link.query("A?") == "+1.25E+00"
            assert link.query("B?") == "first"
            assert link.read() == "second"  # kept for the next read, not lost
            assert link.query_bytes("C?") == b"x" * 200_000

    def test_a_reply_that_never_ends_times_out_within_the_timeout(self) -> None:
        stop = threading.Event()

        def script(conn: socket.socket) -> None:
            conn.recv(100)
            while not stop.wait(0.02):  # a byte every 20 ms, never the termination
                conn.sendall(b"7")

        with scripted_peer(script) as port, VisaTransport(socket_resource(port),
                                                          timeout=0.3) as link:
            started = time.monotonic()
            try:
                with pytest.raises(InstrumentTimeoutError) as err:
                    link.query("TRICKLE?")
            finally:
                stop.set()
            assert err.value.timeout == 0.3 and time.monotonic() - started < 2.0
            assert not link.is_open  # the late rest of it can never answer the next query

    def test_a_peer_that_stops_reading_makes_writes_time_out(self) -> None:
        stop = threading.Event()
        with scripted_peer(lambda conn: stop.wait(10)) as port, VisaTransport(
            socket_resource(port), timeout=0.3
        ) as link:
            try:
                with pytest.raises(InstrumentTimeoutError) as err:
                    link.write("DATA " + "0" * 64_000_000)  # beyond every socket buffer
            finally:
                stop.set()
            assert err.value.command.startswith("DATA ") and not link.is_open


class TestModbusTransport:
    def test_reads_writes_and_identification(self, bench: Any) -> None:
        with modbus(bench, "temperature_source", timeout=1.0) as link:
            link.write_registers(0, [0x4248, 0x0000])  # 50.0 °C, high word first
            assert link.read_registers(Table.HOLDING, 0, 2) == [0x4248, 0x0000]
            info = link.read_device_identification()
            assert (info[VENDOR_NAME], info[PRODUCT_CODE], info[MAJOR_MINOR_REVISION]) == (
                "Simulated Thermal", "DB-450", "2.3")
        assert commands(bench, "temperature_source")[:2] == ["write_registers 0 16968,0",
                                                             "read_holding_registers 0 2"]

    def test_exception_codes_are_instrument_errors(self, bench: Any) -> None:
        with modbus(bench, "environment", timeout=1.0) as link:
            with pytest.raises(InstrumentError) as err:
                link.read_registers(Table.HOLDING, 500, 1)  # not in the map
            assert (err.value.code, err.value.message) == (2, "illegal data address")
            with pytest.raises(InstrumentError) as err:
                link.write_registers(0, [1, 2])  # read-only on the THP-1
            assert err.value.code == 2
        with modbus(bench, "environment", unit=7) as other_unit, pytest.raises(
            InstrumentError
        ) as err:
            other_unit.read_registers(Table.INPUT, 0, 2)
        assert err.value.code == 11

    def test_arguments_are_checked_before_sending(self, bench: Any) -> None:
        with modbus(bench, "temperature_source") as link:
            before = commands(bench, "temperature_source")
            with pytest.raises(ValidationError):
                link.read_registers(Table.HOLDING, 0, 126)
            with pytest.raises(ValidationError):
                link.write_registers(0, [70000])
            assert commands(bench, "temperature_source") == before
        for kwargs in ({"port": 0}, {"unit": 300}, {"timeout": 0}):
            with pytest.raises(ValidationError):
                ModbusTcpTransport("127.0.0.1", **kwargs)

    def test_dropped_connection_is_seen_at_once_not_after_the_timeout(self, bench: Any) -> None:
        faults = bench.instruments["environment"].faults
        with modbus(bench, "environment", timeout=30.0) as link:
            faults.drop_connection = True
            try:
                started = time.monotonic()
                with pytest.raises(ConnectionLostError, match="closed by the device"):
                    link.read_registers(Table.INPUT, 0, 7)
                assert time.monotonic() - started < 5.0  # of a 30 s timeout
            finally:
                faults.clear()
            assert not link.is_open
            assert len(link.read_registers(Table.INPUT, 0, 7)) == 7  # reconnected

    def test_split_stale_and_foreign_responses(self) -> None:
        def respond(conn: socket.socket, tid: int, unit: int, pdu: bytes) -> None:
            conn.sendall(struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu)

        def script(conn: socket.socket) -> None:
            reader = conn.makefile("rb")
            request = reader.read(12)  # read input 6+1, transaction id t
            tid = struct.unpack(">H", request[:2])[0]
            assert request[2:] == bytes.fromhex("0000 0006 01 04 0006 0001")
            respond(conn, tid - 1, 1, bytes.fromhex("04 02 dead"))  # an earlier one, late
            frame = struct.pack(">HHHB", tid, 0, 5, 1) + bytes.fromhex("04 02 0102")
            conn.sendall(frame[:5])
            time.sleep(0.05)  # the rest of the frame in a later segment
            conn.sendall(frame[5:])
            tid = struct.unpack(">H", reader.read(12)[:2])[0]
            respond(conn, tid, 9, bytes.fromhex("04 02 0102"))  # some other unit's
            tid = struct.unpack(">H", reader.read(12)[:2])[0]
            respond(conn, tid, 1, bytes.fromhex("04 04 0102"))  # 2 registers for 1
            reader.read(12)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")  # not Modbus at all

        with scripted_peer(script) as port, ModbusTcpTransport("127.0.0.1", port,
                                                                timeout=2.0) as link:
            assert link.read_registers(Table.INPUT, 6, 1) == [0x0102]
            with pytest.raises(ResponseError, match="unit 9"):
                link.read_registers(Table.INPUT, 6, 1)
            with pytest.raises(ResponseError, match="1 registers"):
                link.read_registers(Table.INPUT, 6, 1)
            with pytest.raises(ResponseError, match="Modbus TCP frame"):
                link.read_registers(Table.INPUT, 6, 1)
            assert not link.is_open  # a stream out of step is not read any further

    def test_refused_and_closed(self) -> None:
        link = ModbusTcpTransport("127.0.0.1", 9, timeout=0.5)
        with pytest.raises(InstrumentCommunicationError, match="cannot connect"):
            link.open()
        link.close()
        with pytest.raises(InstrumentCommunicationError, match="closed"):
            link.read_registers(Table.INPUT, 0, 1)


def test_every_write_and_read_is_logged_at_debug(bench: Any, caplog: Any) -> None:
    caplog.set_level("DEBUG", logger="labctl.drivers.transports")
    with VisaTransport(bench.resources["dmm"]) as link:
        link.query("SAMP:COUN?")
    with modbus(bench, "environment") as link:
        link.read_registers(Table.INPUT, 6, 1)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("labctl.drivers")]
    dmm, env = bench.resources["dmm"], bench.resources["environment"].split("?")[0]
    assert f"{dmm} << SAMP:COUN?" in lines and f"{dmm} >> +1" in lines
    assert any(line.startswith(env) and "<< read input 6+1" in line for line in lines)
    assert any(line.startswith(env) and ">> [0]" in line for line in lines)


def test_a_late_modbus_response_never_answers_the_next_request(bench: Any) -> None:
    faults = bench.instruments["temperature_source"].faults
    with modbus(bench, "temperature_source", timeout=0.2) as link:
        faults.latency = 0.4
        with pytest.raises(InstrumentTimeoutError):
            link.read_registers(Table.HOLDING, 100, 3)  # serial + firmware, answered late
        faults.clear()
        assert link.read_registers(Table.HOLDING, 2, 1) == [0]  # control, not the serial


def test_modbus_per_request_timeout(bench: Any) -> None:
    faults = bench.instruments["environment"].faults
    with modbus(bench, "environment", timeout=0.2) as link:
        faults.latency = 0.3
        assert len(link.read_registers(Table.INPUT, 0, 7, timeout=2.0)) == 7
        with pytest.raises(InstrumentTimeoutError) as err:
            link.read_registers(Table.INPUT, 0, 7)
        assert err.value.timeout == 0.2
        faults.clear()


def test_another_pyvisa_user_closing_its_resource_manager_breaks_no_transport(
        bench: Any) -> None:
    """pyvisa gives every ``ResourceManager("@py")`` in a process the same object: a script or
    library closing its own closes the one the transports share. The next transport to open
    starts a fresh one, and one already open recovers by reconnecting."""
    import pyvisa

    with VisaTransport(bench.resources["dmm"], timeout=2.0) as first:
        assert first.query("*IDN?").startswith("Keysight")
        pyvisa.ResourceManager("@py").close()  # someone else's, i.e. ours
        with VisaTransport(bench.resources["dmm"], timeout=2.0) as second:
            assert second.query("*IDN?").startswith("Keysight")
        first.reconnect()
        assert first.query("*IDN?").startswith("Keysight")
