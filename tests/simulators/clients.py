"""Minimal real-socket clients for the simulator tests (no labctl, no mocks).

``ScpiClient`` speaks raw TCP lines to an SCPI simulator; ``modbus_client`` opens a pymodbus
TCP client. Both have short timeouts so a broken server fails a test instead of hanging it.
"""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from pymodbus.client import ModbusTcpClient

TIMEOUT = 2.0  # s


class ScpiClient:
    """A line-oriented TCP client: ``write`` a line, ``readline`` one reply."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = TIMEOUT) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self._buffer = b""

    def write(self, line: str, terminator: str = "\n") -> None:
        """Send one line."""
        self.sock.sendall((line + terminator).encode("ascii"))

    def readline(self) -> str:
        """One reply line without its ``\\n``; ``socket.timeout`` if none comes; ``EOFError``
        if the server closed the connection."""
        while b"\n" not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed by the simulator")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("ascii")

    def query(self, line: str) -> str:
        """Send a line holding one query; its reply."""
        self.write(line)
        return self.readline()

    def ask(self, line: str, replies: int) -> list[str]:
        """Send a line and read ``replies`` reply lines."""
        self.write(line)
        return [self.readline() for _ in range(replies)]

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()

    def __enter__(self) -> ScpiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def scpi(bench: object, role: str) -> Iterator[ScpiClient]:
    """A connected ScpiClient to ``bench.instruments[role]``."""
    client = ScpiClient(bench.instruments[role].port)  # type: ignore[attr-defined]
    try:
        yield client
    finally:
        client.close()


@contextmanager
def modbus(bench: object, role: str, timeout: float = TIMEOUT) -> Iterator[ModbusTcpClient]:
    """A connected pymodbus TCP client to ``bench.instruments[role]`` (no retries)."""
    client = ModbusTcpClient(
        "127.0.0.1", port=bench.instruments[role].port, timeout=timeout, retries=0  # type: ignore[attr-defined]
    )
    assert client.connect()
    try:
        yield client
    finally:
        client.close()


def parse_floats(reply: str) -> list[float]:
    """Comma-separated numbers of a reading reply."""
    return [float(x) for x in reply.split(",")]


def free_port_block(n: int) -> int:
    """A base port with ``n`` free consecutive ports on 127.0.0.1.

    Searched below the Linux ephemeral range (32768+), so a concurrently starting bench on
    port 0 cannot be handed one of them between this check and the caller's bind.
    """
    rng = random.Random()
    for _ in range(100):
        base = rng.randrange(20_000, 32_000 - n)
        socks: list[socket.socket] = []
        try:
            for i in range(n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", base + i))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no block of free ports found on 127.0.0.1")


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Block until ``predicate()`` holds (the server thread caught up); fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("the simulator did not get there in time")
        time.sleep(0.001)
