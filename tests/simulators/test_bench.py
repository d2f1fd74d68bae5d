"""SimulatedBench lifecycle: start/stop, resources, fixed ports, no leaks, VISA reachability."""

from __future__ import annotations

import gc
import re
import socket
import threading

import pytest

from simulators.bench import ROLES, SimulatedBench
from simulators.clock import ManualClock
from tests.simulators.clients import ScpiClient, free_port_block, modbus, scpi, wait_until


def test_resources_follow_the_contract(bench):
    res = bench.resources
    assert list(res) == list(ROLES)
    for role in ("calibrator", "dmm", "thermometer"):
        assert re.fullmatch(r"TCPIP0::127\.0\.0\.1::\d+::SOCKET", res[role])
    for role in ("environment", "temperature_source"):
        assert re.fullmatch(r"modbus-tcp://127\.0\.0\.1:\d+\?unit=1", res[role])
    ports = {inst.port for inst in bench.instruments.values()}
    assert len(ports) == 5 and 0 not in ports


def test_start_and_stop_are_idempotent_and_free_everything():
    threads_before = set(threading.enumerate())
    b = SimulatedBench(seed=5, clock=ManualClock())
    assert b.resources["dmm"] == ""
    b.start()
    b.start()
    port = b.instruments["dmm"].port
    with ScpiClient(port) as c:
        assert c.query("*OPC?") == "1"
        b.stop()
        with pytest.raises((EOFError, ConnectionError)):
            c.query("*OPC?")  # the open connection was closed by the stop
    b.stop()
    assert not b.running
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    gc.collect()  # a leaked socket or transport would raise ResourceWarning (an error here)
    assert set(threading.enumerate()) <= threads_before


def test_restart_serves_again(bench):
    bench.stop()
    bench.start()
    with scpi(bench, "calibrator") as c:
        assert c.query("*OPC?") == "1"


def test_stop_with_clients_connected_to_every_server(bench):
    clients = [ScpiClient(bench.instruments[r].port) for r in ("calibrator", "dmm", "thermometer")]
    with modbus(bench, "environment") as env, modbus(bench, "temperature_source") as blk:
        assert not env.read_input_registers(0, count=2, device_id=1).isError()
        assert not blk.read_input_registers(0, count=2, device_id=1).isError()
        bench.stop()
    for c in clients:
        c.close()
    assert not bench.running


def test_context_manager():
    with SimulatedBench(seed=1, clock=ManualClock()) as b:
        assert b.running
        with scpi(b, "thermometer") as t:
            assert t.query("*IDN?").startswith("FLUKE,1594A,")
    assert not b.running


def test_fixed_ports_from_port_base(bench_factory):
    base = free_port_block(5)
    b = bench_factory(port_base=base)
    assert [b.instruments[r].port for r in ROLES] == [base + i for i in range(5)]
    assert b.resources["calibrator"] == f"TCPIP0::127.0.0.1::{base}::SOCKET"


def test_a_busy_port_fails_start_cleanly(bench):
    taken = bench.instruments["dmm"].port
    other = SimulatedBench(seed=2, clock=ManualClock(), ports={"dmm": taken})
    with pytest.raises(OSError, match="dmm"):
        other.start()
    assert not other.running
    with scpi(bench, "dmm") as d:  # the first bench is unharmed
        assert d.query("*OPC?") == "1"


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"seed": -1}, "seed"),
        ({"port_base": 70000}, "port_base"),
        ({"ports": {"scope": 5000}}, "scope"),
        ({"ports": {"dmm": 1}, "port_base": 4000}, "together"),
        ({"latency": -0.1}, "latency"),
        ({"terminals": "SIDE"}, "terminals"),
        ({"room": {"temperature": 23, "wind": 3}}, "wind"),
        ({"room": {"temperature": 200}}, "temperature"),
        ({"dmm_truth": {"dcv": {3.0: {"gain": 1e-6}}}}, r"dcv\[3\.0\]"),
        ({"dmm_truth": {"gian": 1e-6}}, "gian"),
        ({"prt_truth": {"r0": float("nan")}}, "r0"),
    ],
)
def test_bad_options_are_rejected_with_the_field_named(options, match):
    with pytest.raises(ValueError, match=match):
        SimulatedBench(clock=ManualClock(), **options)


def test_pyvisa_py_reaches_the_scpi_servers(bench):
    """The drivers' code path (pyvisa with the @py backend, SOCKET resources) works."""
    pyvisa = pytest.importorskip("pyvisa")
    rm = pyvisa.ResourceManager("@py")
    try:
        inst = rm.open_resource(bench.resources["dmm"], read_termination="\n",
                                write_termination="\n", timeout=2000)
        try:
            assert inst.query("*IDN?").startswith("Keysight Technologies,34465A,")
            inst.write("CONF:VOLT:DC 10")
            assert inst.query("CONF?") == '"VOLT +1.000000E+01,+1.000000E-06"'
        finally:
            inst.close()
    finally:
        rm.close()


def test_global_latency_option_is_settable(bench):
    bench.latency = 0.01
    with scpi(bench, "dmm") as d:
        assert d.query("*OPC?") == "1"
    with pytest.raises(ValueError, match="latency"):
        bench.latency = -1


def test_stop_while_replies_are_delayed_leaves_nothing_pending(bench, caplog):
    """A request sleeping in a latency fault is cancelled cleanly at stop."""
    for inst in bench.instruments.values():
        inst.faults.latency = 30.0
    scpi_client = ScpiClient(bench.instruments["dmm"].port)
    scpi_client.write("*IDN?")
    raw = socket.create_connection(("127.0.0.1", bench.instruments["environment"].port))
    raw.sendall(b"\x00\x01\x00\x00\x00\x06\x01\x04\x00\x00\x00\x02")  # read input 0, 2
    wait_until(lambda: bench.instruments["dmm"].commands == ["*IDN?"]
               and bench.instruments["environment"].commands == ["read_input_registers 0 2"])
    with caplog.at_level("WARNING"):
        bench.stop()
        gc.collect()
    scpi_client.close()
    raw.close()
    assert not [r for r in caplog.records if r.name.startswith("asyncio")]


def test_concurrent_clients_and_test_thread_stay_consistent(bench):
    """Several client threads, while the test thread moves time and the room: no garbage."""
    with scpi(bench, "calibrator") as c:
        assert c.query("OUT 1 V;OPER;*OPC?") == "1"
    failures: list[str] = []

    def dmm_worker() -> None:
        try:
            with scpi(bench, "dmm") as d:
                for _ in range(50):
                    (v,) = [float(x) for x in d.query("MEAS:VOLT:DC? 1").split(",")]
                    if abs(v - 1) > 1e-3:
                        failures.append(f"dmm read {v}")
        except Exception as exc:  # collected and asserted below; a thread cannot fail a test
            failures.append(repr(exc))

    def modbus_worker() -> None:
        try:
            with modbus(bench, "environment") as env:
                for _ in range(50):
                    if env.read_input_registers(0, count=7, device_id=1).isError():
                        failures.append("modbus error")
        except Exception as exc:
            failures.append(repr(exc))

    threads = [threading.Thread(target=w) for w in (dmm_worker, dmm_worker, modbus_worker)]
    for t in threads:
        t.start()
    for _ in range(50):
        bench.clock.advance(1.0)
        bench.room.steady(temperature=23.0 + (bench.clock.now() % 3) * 0.1)
        bench.truth()
    for t in threads:
        t.join(timeout=30)
    assert failures == []
