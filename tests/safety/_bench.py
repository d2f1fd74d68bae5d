"""Helpers for the safety tests: a simulated bench served on real time in the test process,
``labctl`` run as a real subprocess against it, and the instruments' state read back through
their own protocols (``OPER?`` on the calibrator's socket, the DB-450's control register).
"""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from labctl.cli.bench import SIMULATED_MODELS
from simulators.bench import SimulatedBench
from tests.procedures.chain import CHECKER, OPERATOR, register_for

LABCTL = [sys.executable, "-m", "labctl"]
SEED = 29

__all__ = ["CHECKER", "LABCTL", "OPERATOR", "SEED", "config_for", "journal_run",
           "labctl_process", "labctl_run_args", "scpi", "stop", "wait_for"]


@contextmanager
def labctl_process(args: list[str], **popen: Any) -> Iterator[subprocess.Popen[str]]:
    """``labctl`` as a child process with text pipes, killed and reaped on the way out
    whatever happened (a failed assertion must not leave a run driving the bench)."""
    proc = subprocess.Popen(args, text=True, **popen)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)


def stop(proc: subprocess.Popen[str], sig: int) -> tuple[str, str]:
    """Send ``sig`` and wait (bounded) for the process to end: its stdout and stderr."""
    proc.send_signal(sig)
    return proc.communicate(timeout=60)


def config_for(sim: SimulatedBench, path: Path, timeout: float = 1.0) -> Path:
    """A bench configuration file reaching ``sim`` (short timeouts: hung instruments)."""
    lines = []
    for role, resource in sim.resources.items():
        lines += [f"[instruments.{role}]", f'model = "{SIMULATED_MODELS[role]}"',
                  f'resource = "{resource}"', f"timeout = {timeout}", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def labctl_run_args(sim: SimulatedBench, tmp: Path, *extra: str,
                    operator: str = OPERATOR) -> list[str]:
    """``labctl run dmm-dcv-direct`` on ``sim`` through a bench file, offline register."""
    register = tmp / "register.json"
    if not register.exists():
        register_for(sim.truth(), SEED).save(register)
    return [*LABCTL, "run", "dmm-dcv-direct", "--bench", str(config_for(sim, tmp / "b.toml")),
            "--register", str(register), "--journal", str(tmp / "journal.sqlite"),
            "--operator", operator, "--checker", CHECKER,
            "--dut-serial", sim.truth()["dmm"]["serial"], *extra]


def scpi(sim: SimulatedBench, role: str, command: str, timeout: float = 5.0) -> str | None:
    """Send one SCPI line to ``role``'s server on its own socket; the reply for a query."""
    inst = sim.instruments[role]
    with socket.create_connection((inst.host, inst.port), timeout=timeout) as sock:
        sock.sendall(command.encode() + b"\n")
        if "?" not in command:
            sock.sendall(b"*OPC?\n")  # wait until the command was executed
            command = "*OPC?"
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.decode().strip()


def journal_run(journal: Path) -> tuple[str, str, str] | None:
    """(run_id, status, reason) of the only run in a journal, None before it exists."""
    if not journal.exists():
        return None
    with sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5) as db:
        try:
            row = db.execute("SELECT run_id, status, reason FROM runs").fetchone()
        except sqlite3.OperationalError:
            return None
    return (str(row[0]), str(row[1]), str(row[2])) if row else None


def journal_events(journal: Path, run_id: str) -> list[Any]:
    """The run's events as the journal holds them (after the process ended)."""
    from labctl.procedures.journal import SqliteJournal

    with SqliteJournal(journal) as jr:
        return list(jr.load_run(run_id).events)


def wait_for(predicate: Any, proc: subprocess.Popen[str] | None, timeout: float,
             what: str) -> None:
    """Poll ``predicate()`` until true; fail early if ``proc`` ended."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"labctl ended before {what}: {proc.communicate()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
