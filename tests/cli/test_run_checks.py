"""``labctl run`` carries out the check procedures from the catalogue, on the simulated bench."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from labctl.cli.run import PROCEDURE_IDS
from labctl.procedures.catalog import PROCEDURES
from labctl.procedures.results import RunResult
from simulators.bench import SimulatedBench
from simulators.clock import ManualClock
from tests.procedures.chain import CHECKER, OPERATOR, register_for

LABCTL = [sys.executable, "-m", "labctl"]
SEED = 48


def test_the_help_lists_every_procedure_of_the_catalogue():
    assert set(PROCEDURE_IDS) == set(PROCEDURES)


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("procedure", "role", "points"), [
    ("dmm-calibrator-check", "calibrator", ["+1V", "+10V", "-10V"]),
    ("prt-dry-block-check", "temperature_source", ["t100", "t200"]),
])
def test_labctl_run_carries_out_a_check(tmp_path: Path, procedure, role, points):
    truth = SimulatedBench(seed=SEED, clock=ManualClock()).truth()  # identities only
    register_for(truth, SEED).save(tmp_path / "register.json")
    out = tmp_path / "result.json"
    done = subprocess.run(
        [*LABCTL, "run", procedure, "--sim", "--seed", str(SEED), "--register",
         str(tmp_path / "register.json"), "--journal", str(tmp_path / "journal.sqlite"),
         "--operator", OPERATOR, "--checker", CHECKER, "--dut-serial",
         str(truth[role]["serial"]), "--customer-name", "Our own lab", "--json", str(out)],
        capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stderr
    result = RunResult.from_dict(json.loads(out.read_text(encoding="utf-8")))
    assert result.status == "completed" and result.procedure_id == procedure
    assert [p.key for p in result.points] == points
    assert result.analysis["kind"] == "check" and all(p.U > 0 for p in result.points)
    # a check is not turned into a customer's certificate draft
    assert "not delivered as a certificate draft" in done.stderr
    assert "draft certificate" not in done.stdout
