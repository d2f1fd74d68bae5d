"""SIGKILL a ``labctl run`` at a random moment, resume it, and get the uninterrupted result.

The simulated bench runs noiseless (its true errors still come from the seed), so the resumed
run must reproduce the uninterrupted one exactly: any point lost, measured twice or mixed up
shows as a difference.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simulators.bench import SimulatedBench
from tests.procedures.chain import CHECKER, OPERATOR, register_for

SEED = 41
LABCTL = [sys.executable, "-m", "labctl"]


def _args(tmp: Path, journal: str, *extra: str) -> list[str]:
    return [*LABCTL, "run", "--sim", "--seed", str(SEED), "--sim-noiseless",
            "--register", str(tmp / "register.json"), "--journal", str(tmp / journal), *extra]


def _points(journal: Path) -> int:
    if not journal.exists():
        return 0
    with sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5) as db:
        try:
            return int(db.execute("SELECT COUNT(*) FROM points").fetchone()[0])
        except sqlite3.OperationalError:  # tables not created yet
            return 0


@pytest.mark.timeout(180)
@pytest.mark.parametrize("trial", [0, 1])
def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path: Path, trial: int):
    with SimulatedBench(seed=SEED) as sim:
        truth = sim.truth()
    register_for(truth, SEED).save(tmp_path / "register.json")
    start = ["dmm-dcv-direct", "--operator", OPERATOR, "--checker", CHECKER,
             "--dut-serial", truth["dmm"]["serial"]]

    whole = subprocess.run(_args(tmp_path, "whole.sqlite", *start, "--json",
                                 str(tmp_path / "whole.json")),
                           capture_output=True, text=True, timeout=120)
    assert whole.returncode == 0, whole.stderr
    expected = json.loads((tmp_path / "whole.json").read_text())

    rnd = random.Random(1000 + trial)
    kill_after = rnd.randrange(1, 16)
    journal = tmp_path / "killed.sqlite"
    proc = subprocess.Popen(_args(tmp_path, "killed.sqlite", *start, "--sim-latency", "0.004"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while _points(journal) < kill_after:
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.003)
        time.sleep(rnd.uniform(0.0, 0.05))  # somewhere inside the next point
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with sqlite3.connect(journal) as db:
        run_id, status = db.execute("SELECT run_id, status FROM runs").fetchone()
    assert status == "running"  # killed: nobody could record anything else
    killed_at = _points(journal)
    assert kill_after <= killed_at < 18

    resumed = subprocess.run(_args(tmp_path, "killed.sqlite", "--resume", run_id, "--json",
                                   str(tmp_path / "resumed.json")),
                             capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    got = json.loads((tmp_path / "resumed.json").read_text())
    assert got["status"] == "completed"
    keys = [p["key"] for p in got["points"]]
    assert keys == [p["key"] for p in expected["points"]]  # nothing lost, nothing twice
    for mine, theirs in zip(got["points"], expected["points"], strict=True):
        for field in ("readings", "measured_value", "reference_value", "error", "U", "k",
                      "conformity", "budget"):
            assert mine[field] == theirs[field], (mine["key"], field)
    kinds = [e["kind"] for e in got["events"]]
    assert kinds.count("started") == 1 and kinds.count("resumed_run") == 1
