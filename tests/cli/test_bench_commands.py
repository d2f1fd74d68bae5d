"""``labctl sim`` and ``labctl instruments`` as a user runs them: real processes, real pipes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

LABCTL = [sys.executable, "-m", "labctl"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["COLUMNS"] = "80"  # a narrow log must still get every address in full
    return env


def test_instruments_sim_identifies_every_instrument_with_a_live_reading():
    done = subprocess.run([*LABCTL, "instruments", "--sim", "--seed", "3"], capture_output=True,
                          text=True, timeout=60, env=_env())
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for role, model in [("calibrator", "5522A"), ("dmm", "34465A"), ("thermometer", "1594A"),
                        ("environment", "THP-1"), ("temperature_source", "DB-450")]:
        line = next(x for x in out.splitlines() if f" {role} " in x)
        assert model in line
    assert re.search(r"\d+\.\d+ °C, \d+\.\d %RH, \d+\.\d hPa", out)
    assert "V DC (FRON terminals)" in out


@pytest.mark.timeout(90)
def test_sim_prints_full_addresses_when_piped_and_serves_until_sigterm(tmp_path: Path):
    config = tmp_path / "bench.toml"
    proc = subprocess.Popen([*LABCTL, "sim", "--seed", "5", "--config-out", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 45
        while not any("bench configuration written" in x for x in lines):
            assert time.monotonic() < deadline, "".join(lines)
            line = proc.stdout.readline()  # arrives at once: the CLI flushes, even into a pipe
            assert line, proc.stderr.read()
            lines.append(line)
        text = "".join(lines)
        resources = re.findall(r"(TCPIP0::127\.0\.0\.1::\d+::SOCKET|modbus-tcp://127\.0\.0\.1:"
                               r"\d+\?unit=1)", text)
        assert len(resources) == 5, text  # none cut or wrapped by the 80-column pipe
        # A second process reaches the served bench through the written configuration.
        done = subprocess.run([*LABCTL, "instruments", "--config", str(config)],
                              capture_output=True, text=True, timeout=60, env=_env())
        assert done.returncode == 0, done.stderr
        assert "Keysight Technologies 34465A" in done.stdout
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "simulated bench stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_instruments_refuses_without_a_bench():
    done = subprocess.run([*LABCTL, "instruments"], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "--config FILE or --sim" in done.stderr


def test_instruments_reports_an_unreachable_instrument(tmp_path: Path):
    config = tmp_path / "bench.toml"
    config.write_text('[instruments.dmm]\nmodel = "34465A"\n'
                      'resource = "TCPIP0::127.0.0.1::1::SOCKET"\ntimeout = 0.5\n')
    done = subprocess.run([*LABCTL, "instruments", "--config", str(config)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "127.0.0.1::1" in done.stderr


def test_run_parameters_are_typed_and_named():
    from labctl.cli.run import parse_params
    from labctl.errors import ValidationError
    from labctl.procedures.dmm_dc_voltage import DmmDcVoltage

    assert parse_params(DmmDcVoltage, ["adjust=yes", "ranges=1,10", "settle_time=2"]) == {
        "adjust": True, "ranges": (1.0, 10.0), "settle_time": 2.0}
    with pytest.raises(ValidationError, match="adjust"):
        parse_params(DmmDcVoltage, ["adjust=maybe"])
    with pytest.raises(ValidationError, match="KEY=VALUE"):
        parse_params(DmmDcVoltage, ["nplcs=10"])
