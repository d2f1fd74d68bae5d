"""SIGTERM and SIGHUP stop ``labctl run`` as Ctrl-C does: the bench is made safe, the journal
says ``paused`` with the reason, and the run id is printed to resume it.

Reproductions (issue 9): the process ended with 143, the calibrator stayed in OPERATE and the
journal said ``running`` (or ``created`` when stopped during the room's settle time).
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from simulators.bench import SimulatedBench
from tests.procedures.chain import register_for
from tests.safety._bench import (
    CHECKER,
    LABCTL,
    OPERATOR,
    SEED,
    journal_events,
    journal_run,
    labctl_process,
    labctl_run_args,
    scpi,
    stop,
    wait_for,
)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_during_the_settle_pauses_the_run_with_the_bench_safe(tmp_path: Path, sig):
    with SimulatedBench(seed=SEED) as sim:
        scpi(sim, "calibrator", "OUT -1000 V;OPER")  # left live by a run killed before
        assert scpi(sim, "calibrator", "OPER?") == "1"
        journal = tmp_path / "journal.sqlite"
        with labctl_process(labctl_run_args(sim, tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE) as proc:
            # The run is on record and the room's 5 min settle has begun (no point yet).
            wait_for(lambda: journal_run(journal) is not None, proc, 60, "the run record")
            wait_for(lambda: any("read_input_registers" in c for c in
                                 sim.instruments["environment"].commands), proc, 60,
                     "the settle's first room sample")
            # Made safe when the run opened the bench, before any check or wait.
            assert scpi(sim, "calibrator", "OPER?") == "0"
            scpi(sim, "calibrator", "OPER")  # someone switches it on during the settle
            out, err = stop(proc, sig)
        assert proc.returncode == 128 + sig, (out, err)
        assert scpi(sim, "calibrator", "OPER?") == "0"
    run_id, status, reason = journal_run(journal)
    assert status == "paused"
    assert sig.name in reason if sig != signal.SIGINT else "interrupted" in reason
    assert run_id in err and f"labctl run --resume {run_id}" in err
    final = journal_events(journal, run_id)[-1]
    assert final.kind == "paused" and final.message == reason


@pytest.mark.timeout(180)
def test_sigterm_during_a_point_pauses_with_the_output_confirmed_off(tmp_path: Path):
    """On the in-process simulated bench (simulated time: the run gets to its points); the
    calibrator's standby is confirmed by ``OPER?`` and recorded with the final event."""
    with SimulatedBench(seed=SEED) as sim:
        truth = sim.truth()
    register_for(truth, SEED).save(tmp_path / "register.json")
    journal = tmp_path / "journal.sqlite"
    with labctl_process(
            [*LABCTL, "run", "dmm-dcv-direct", "--sim", "--seed", str(SEED), "--sim-latency",
             "0.01", "--register", str(tmp_path / "register.json"), "--journal", str(journal),
             "--operator", OPERATOR, "--checker", CHECKER, "--dut-serial",
             truth["dmm"]["serial"]], stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        def in_a_point() -> bool:
            run = journal_run(journal)
            if run is None or run[1] != "running":
                return False
            from labctl.procedures.journal import SqliteJournal

            with SqliteJournal(journal) as jr:
                kinds = [e.kind for e in jr.load_run(run[0]).events]
            return kinds.count("point_done") >= 2 and kinds[-1] == "point_started"

        wait_for(in_a_point, proc, 120, "the third point")
        out, err = stop(proc, signal.SIGTERM)
    assert proc.returncode == 128 + signal.SIGTERM, (out, err)
    run_id, status, reason = journal_run(journal)
    assert status == "paused" and "SIGTERM" in reason
    assert f"labctl run --resume {run_id}" in err
    final = journal_events(journal, run_id)[-1]
    assert final.kind == "paused"
    assert final.data["safe_state"]["calibrator"] == "confirmed", json.dumps(final.data)
    assert final.data["safe_state"]["temperature_source"] == "confirmed"
