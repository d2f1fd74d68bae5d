"""``python -m simulators`` as a real subprocess: the table, serving, SIGTERM/SIGINT, exit 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.simulators.clients import ScpiClient, free_port_block

ROOT = Path(__file__).resolve().parents[2]
ROLES = ["calibrator", "dmm", "thermometer", "environment", "temperature_source"]


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "simulators", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )


def _read_table(proc: subprocess.Popen[str]) -> dict[str, tuple[str, str]]:
    assert proc.stdout is not None
    banner = proc.stdout.readline()
    assert banner.startswith("simulated bench, seed")
    header = proc.stdout.readline().split()
    assert header == ["role", "model", "resource"]
    rows: dict[str, tuple[str, str]] = {}
    for _ in ROLES:
        cells = proc.stdout.readline().split()
        rows[cells[0]] = (" ".join(cells[1:-1]), cells[-1])
    return rows


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serves_the_printed_resources_and_stops_cleanly(sig):
    proc = _start("--seed", "7")
    try:
        rows = _read_table(proc)  # printed and flushed although stdout is a pipe
        assert list(rows) == ROLES
        assert rows["dmm"][0] == "Keysight 34465A"
        port = int(rows["dmm"][1].split("::")[2])
        with ScpiClient(port) as d:
            assert d.query("*IDN?").startswith("Keysight Technologies,34465A,")
        assert rows["environment"][1].startswith("modbus-tcp://127.0.0.1:")
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "simulated bench stopped" in out
    assert "Traceback" not in err


def test_bad_latency_is_a_usage_error():
    proc = _start("--latency", "-1")
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert "latency" in err


def test_port_base_and_latency_options():
    base = free_port_block(5)
    proc = _start("--port-base", str(base), "--latency", "0.01", "--seed", "3")
    try:
        rows = _read_table(proc)
        assert rows["calibrator"][1] == f"TCPIP0::127.0.0.1::{base}::SOCKET"
        assert rows["temperature_source"][1] == f"modbus-tcp://127.0.0.1:{base + 4}?unit=1"
        with ScpiClient(base) as c:
            assert c.query("*IDN?").startswith("FLUKE,5522A,")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err


def test_a_busy_port_base_exits_1_with_the_reason(bench):
    proc = _start("--port-base", str(bench.instruments["calibrator"].port))
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 1
    assert "calibrator could not listen" in err
