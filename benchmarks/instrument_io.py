"""Instrument I/O throughput: labctl's drivers against raw sockets, on the same simulators.

Printed, never asserted (speed depends on the machine). Run::

    .venv/bin/python benchmarks/instrument_io.py [--slice 0.05] [--rounds 30] [--in-process]

One simulated bench (real servers on 127.0.0.1, real clock) serves every client; by default
it runs in its own process (``python -m simulators``), as an instrument is outside ours, so
client and simulator do not share one interpreter lock (``--in-process`` runs it in a thread
instead). Compared clients are interleaved in short slices (A, B, A, B, ... for many rounds)
and the median slice rate is reported, so load from other processes on a 2-core machine hits
every client alike.

- SCPI query round trips/s: ``dmm.voltage_nplc`` through the driver (VISA transport, parse,
  retry wrapper) vs a raw socket sending ``VOLT:DC:NPLC?`` and parsing the float itself;
  plain pyvisa ``Resource.query`` is shown for reference.
- Bulk readings: ``read_many(1000)`` end to end (``SAMP:COUN 1000`` + ``READ?``; the
  simulator's reading generation included), and the parser alone on a captured reply.
- Modbus reads/s: ``environment.read()`` through the driver (7 input registers, decoded and
  range-checked) vs a raw Modbus TCP socket loop doing the same request and decoding;
  pymodbus's sync client alone for reference.

Goals: SCPI driver ≥ 0.7 × raw; Modbus driver ≥ 0.75 × raw; ≥ 200 000 bulk readings/s parsed.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path, and it holds other benchmarks (one
# is named platform.py) that would shadow standard modules: use the project root instead.
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != HERE]

import argparse  # noqa: E402
import contextlib  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import struct  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

import numpy as np  # noqa: E402

from labctl.drivers.factory import InstrumentConfig, open_instrument  # noqa: E402
from labctl.drivers.scpi import parse_float_array  # noqa: E402
from simulators.bench import SimulatedBench  # noqa: E402


def rate(work: Callable[[], int], seconds: float) -> float:
    """Items per second done by calling ``work`` (returns items per call) for ``seconds``."""
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        done += work()
        now = time.perf_counter()
        if now >= deadline:
            return done / (now - start)


def compare(clients: dict[str, Callable[[], int]], seconds: float, rounds: int
            ) -> dict[str, float]:
    """Median rate of each client over ``rounds`` interleaved slices of ``seconds``."""
    samples: dict[str, list[float]] = {name: [] for name in clients}
    for work in clients.values():  # warm-up: connections, caches
        rate(work, seconds)
    for _ in range(rounds):
        for name, work in clients.items():
            samples[name].append(rate(work, seconds))
    return {name: statistics.median(values) for name, values in samples.items()}


@contextlib.contextmanager
def simulated_bench(in_process: bool) -> Iterator[tuple[dict[str, str], str]]:
    """Resources of a running bench (seed 1, real clock) and a description of where it runs."""
    if in_process:
        with SimulatedBench(seed=1) as bench:
            yield bench.resources, "in this process (a thread)"
        return
    proc = subprocess.Popen([sys.executable, "-m", "simulators", "--seed", "1"], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        resources: dict[str, str] = {}
        while len(resources) < 5:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("the simulator process exited before serving")
            fields = line.split()
            if fields and fields[-1].startswith(("TCPIP", "modbus-tcp://")):
                resources[fields[0]] = fields[-1]
        yield resources, f"in its own process (pid {proc.pid})"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


# --- raw clients (what the drivers are measured against) ----------------------------------


def raw_connection(host: str, port: int) -> socket.socket:
    """A TCP connection as lean as a client can make one: no Nagle delay, blocking, with the
    2 s bound on each receive and send kept by the kernel (``SO_RCVTIMEO``/``SO_SNDTIMEO``),
    so a receive is one system call (Python's own ``settimeout`` would ``poll`` before each
    ``send`` and ``recv``). Where the options are refused, Python's timeout is kept."""
    sock = socket.create_connection((host, port), timeout=2.0)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        bound = struct.pack("@ll", 2, 0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, bound)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, bound)
    except (OSError, struct.error):
        return sock
    sock.settimeout(None)
    return sock


class RawScpi:
    """A bare TCP client: send a line, read to LF, parse the float."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = raw_connection(host, port)
        self.buffer = b""

    def query(self, command: bytes) -> bytes:
        self.sock.sendall(command)
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line

    def close(self) -> None:
        self.sock.close()


class RawModbus:
    """A bare Modbus TCP client: MBAP + function 4, read the whole response, decode.

    Like the driver's transport it asks the kernel for up to a whole frame (260 bytes) per
    ``recv``, so a response in one segment costs one system call, not a header read and a
    body read.
    """

    def __init__(self, host: str, port: int) -> None:
        self.sock = raw_connection(host, port)
        self.tid = 0

    def read_input(self, address: int, count: int) -> tuple[int, ...]:
        self.tid = (self.tid + 1) & 0xFFFF
        self.sock.sendall(struct.pack(">HHHBBHH", self.tid, 0, 6, 1, 4, address, count))
        data = b""
        while len(data) < 7 or len(data) < 6 + struct.unpack_from(">H", data, 4)[0]:
            chunk = self.sock.recv(260)
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        tid, _proto, length, _unit = struct.unpack_from(">HHHB", data)
        if tid != self.tid:
            raise RuntimeError(f"transaction {tid}, expected {self.tid}")
        pdu = data[7 : 6 + length]
        if pdu[0] & 0x80:
            raise RuntimeError(f"exception {pdu[1]}")
        return struct.unpack_from(f">{count}H", pdu, 2)

    def close(self) -> None:
        self.sock.close()


def decode_environment(words: tuple[int, ...]) -> tuple[float, float, float, int]:
    t, rh, p = struct.unpack(">fff", struct.pack(">6H", *words[:6]))
    return t, rh, p * 100.0, words[6]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slice", type=float, default=0.05, help="one timed slice (s)")
    parser.add_argument("--rounds", type=int, default=30, help="interleaved rounds")
    parser.add_argument("--in-process", action="store_true",
                        help="run the simulators in a thread of this process")
    args = parser.parse_args()
    seconds, rounds = args.slice, args.rounds

    import pyvisa  # only for the reference row; labctl itself touches it in its transport

    with simulated_bench(args.in_process) as (res, where):
        host = "127.0.0.1"
        dmm_port = int(res["dmm"].split("::")[2])
        env_port = urlsplit(res["environment"]).port or 502
        dmm: Any = open_instrument(InstrumentConfig(model="34465A", resource=res["dmm"]))
        env: Any = open_instrument(InstrumentConfig(model="THP-1", resource=res["environment"]))
        raw_scpi = RawScpi(host, dmm_port)
        raw_modbus = RawModbus(host, env_port)
        rm = pyvisa.ResourceManager("@py")
        plain: Any = rm.open_resource(res["dmm"], read_termination="\n", write_termination="\n")
        from pymodbus.client import ModbusTcpClient

        pymodbus_client: Any = ModbusTcpClient(host, port=env_port)
        pymodbus_client.connect()
        try:
            print(f"instrument I/O benchmark: median of {rounds} interleaved slices of "
                  f"{seconds * 1000:g} ms per client; simulators on 127.0.0.1, {where}")
            load = " ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"load average at start: {load} (1, 5, 15 min; {os.cpu_count()} CPUs)")

            def driver_query() -> int:
                dmm.voltage_nplc  # noqa: B018 - the property read is the round trip
                return 1

            def raw_query() -> int:
                float(raw_scpi.query(b"VOLT:DC:NPLC?\n"))
                return 1

            def pyvisa_query() -> int:
                float(plain.query("VOLT:DC:NPLC?"))
                return 1

            scpi = compare({"driver": driver_query, "raw": raw_query, "pyvisa": pyvisa_query},
                           seconds, rounds)
            print("\nSCPI query round trips/s (VOLT:DC:NPLC?)")
            print(f"  labctl driver     {scpi['driver']:10.0f}  "
                  f"= {scpi['driver'] / scpi['raw']:.2f} × raw   (goal ≥ 0.70)")
            print(f"  raw socket        {scpi['raw']:10.0f}")
            print(f"  pyvisa alone      {scpi['pyvisa']:10.0f}  "
                  f"= {scpi['pyvisa'] / scpi['raw']:.2f} × raw   (reference)")

            dmm.configure_dc_voltage(10.0, nplc=0.02)

            def driver_bulk() -> int:
                return int(dmm.read_many(1000).size)

            def raw_bulk() -> int:
                # the driver's exchange: set the count (checked), read, set it back (checked)
                raw_scpi.query(b"SAMP:COUN 1000;SYST:ERR?\n")
                reply = raw_scpi.query(b"READ?\n")
                raw_scpi.query(b"SAMP:COUN 1;SYST:ERR?\n")
                return len(reply.split(b","))

            bulk = compare({"driver": driver_bulk, "raw": raw_bulk}, seconds, rounds)
            raw_scpi.query(b"SAMP:COUN 1000;SYST:ERR?\n")
            reply = raw_scpi.query(b"READ?\n")
            assert len(reply.split(b",")) == 1000
            parse_only = compare({"parse": lambda: int(parse_float_array(reply).size)},
                                 seconds, rounds)
            as_list = compare({"list": lambda: len([float(x) for x in reply.split(b",")])},
                              seconds, rounds)
            print("\nBulk readings/s (SAMP:COUN 1000 + READ?, 1000 readings per call)")
            print(f"  parser alone      {parse_only['parse']:10.0f}  (goal ≥ 200 000)  "
                  f"[Python float() loop: {as_list['list']:.0f}]")
            print(f"  driver read_many  {bulk['driver']:10.0f}  end to end (SAMP:COUN 1000 + "
                  f"READ? + SAMP:COUN 1, each set checked) = {bulk['driver'] / bulk['raw']:.2f}"
                  " × raw")
            print(f"  raw socket        {bulk['raw']:10.0f}  same exchange, reply split but not "
                  "converted")

            def driver_modbus() -> int:
                env.read()
                return 1

            def raw_modbus_read() -> int:
                decode_environment(raw_modbus.read_input(0, 7))
                return 1

            def pymodbus_read() -> int:
                decode_environment(tuple(pymodbus_client.read_input_registers(
                    0, count=7, device_id=1).registers))
                return 1

            modbus = compare({"driver": driver_modbus, "raw": raw_modbus_read,
                              "pymodbus": pymodbus_read}, seconds, rounds)
            print("\nModbus TCP reads/s (input registers 0–6, decoded to °C, %, Pa)")
            print(f"  labctl driver     {modbus['driver']:10.0f}  "
                  f"= {modbus['driver'] / modbus['raw']:.2f} × raw   (goal ≥ 0.75)")
            print(f"  raw socket        {modbus['raw']:10.0f}")
            print(f"  pymodbus alone    {modbus['pymodbus']:10.0f}  "
                  f"= {modbus['pymodbus'] / modbus['raw']:.2f} × raw   (reference)")
            sample = parse_float_array(reply)
            print(f"\n(bulk sanity: {sample.size} readings, mean {np.mean(sample):+.6f} V)")
        finally:
            pymodbus_client.close()
            plain.close()
            raw_scpi.close()
            raw_modbus.close()
            dmm.close()
            env.close()


if __name__ == "__main__":
    main()
