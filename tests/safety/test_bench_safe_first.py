"""The bench goes to its safe state when a run or a resume opens the instruments, before any
check or wait, and on every way out (refusal, error, interrupt, end); ``labctl instruments``
puts it safe before reading anything.

Reproductions (issue 9): a refused run or resume left a calibrator at −1000 V OPERATE; a
SIGKILLed run left its outputs live and ``labctl run --resume`` / ``labctl instruments`` did
not switch them off before the settle wait.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from labctl.procedures.journal import SqliteJournal
from simulators.bench import SimulatedBench
from tests.safety._bench import (
    LABCTL,
    SEED,
    config_for,
    journal_run,
    labctl_process,
    labctl_run_args,
    scpi,
    stop,
    wait_for,
)


def _settling(sim: SimulatedBench, seen: int) -> bool:
    """The run samples the room (its settle wait has begun) since command ``seen``."""
    return any("read_input_registers" in c for c in sim.instruments["environment"].commands[seen:])


@pytest.mark.timeout(120)
def test_a_refused_run_leaves_the_bench_safe(tmp_path: Path):
    with SimulatedBench(seed=SEED) as sim:
        scpi(sim, "calibrator", "OUT -1000 V;OPER")
        sim.instruments["temperature_source"].model._write_control(1)  # heating, too
        done = subprocess.run(labctl_run_args(sim, tmp_path, operator="mallory"),
                              capture_output=True, text=True, timeout=90)
        assert scpi(sim, "calibrator", "OPER?") == "0"
        assert sim.instruments["temperature_source"].model.control == 0
    assert done.returncode == 2, done.stderr
    assert "not authorised" in done.stderr
    run_id, status, reason = journal_run(tmp_path / "journal.sqlite")
    assert status == "refused" and "mallory" in reason
    with SqliteJournal(tmp_path / "journal.sqlite") as jr:
        final = jr.load_run(run_id).events[-1]
    assert final.kind == "refused"
    assert final.data["safe_state"]["calibrator"] == "confirmed"


@pytest.mark.timeout(180)
def test_resume_after_sigkill_makes_safe_before_the_settle_and_a_refused_resume_too(
        tmp_path: Path):
    journal = tmp_path / "journal.sqlite"
    with SimulatedBench(seed=SEED) as sim:
        proc = subprocess.Popen(labctl_run_args(sim, tmp_path), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        try:
            wait_for(lambda: _settling(sim, 0), proc, 60, "the settle")
            os.kill(proc.pid, signal.SIGKILL)  # nothing can run after this
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=30)
        run_id, status, _ = journal_run(journal)
        assert status == "created"  # killed: nobody could record anything else
        scpi(sim, "calibrator", "OUT -1000 V;OPER")  # as a SIGKILL mid-point leaves it

        # A resume by someone not authorised is refused, and leaves the bench safe.
        refused = subprocess.run(
            [*LABCTL, "run", "--resume", run_id, "--bench", str(config_for(sim, tmp_path /
                                                                          "b.toml")),
             "--register", str(tmp_path / "register.json"), "--journal", str(journal),
             "--operator", "mallory"], capture_output=True, text=True, timeout=90)
        assert refused.returncode == 2, refused.stderr
        assert "mallory" in refused.stderr and "not authorised" in refused.stderr
        assert scpi(sim, "calibrator", "OPER?") == "0"

        # The resume makes the bench safe before the settle wait starts.
        scpi(sim, "calibrator", "OUT -1000 V;OPER")
        seen = len(sim.instruments["environment"].commands)
        with labctl_process(
                [*LABCTL, "run", "--resume", run_id, "--bench", str(tmp_path / "b.toml"),
                 "--register", str(tmp_path / "register.json"), "--journal", str(journal)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
            wait_for(lambda: _settling(sim, seen), proc, 60, "the resumed run's settle")
            cal = sim.instruments["calibrator"].commands
            assert "STBY" in cal and scpi(sim, "calibrator", "OPER?") == "0"
            out, err = stop(proc, signal.SIGINT)
    assert proc.returncode == 130, (out, err)
    _, status, reason = journal_run(journal)
    assert status == "paused" and "interrupted" in reason


@pytest.mark.timeout(120)
def test_labctl_instruments_switches_live_outputs_off_first(tmp_path: Path):
    with SimulatedBench(seed=SEED) as sim:
        config = config_for(sim, tmp_path / "b.toml")
        scpi(sim, "calibrator", "OUT 100 V;OPER")
        sim.instruments["temperature_source"].model._write_control(1)
        done = subprocess.run([*LABCTL, "instruments", "--config", str(config)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert scpi(sim, "calibrator", "OPER?") == "0"
        assert sim.instruments["temperature_source"].model.control == 0
        cal = sim.instruments["calibrator"].commands
        # Safe right after the drivers' identity check at open, before any reading.
        opened = cal.index("*IDN?")
        assert cal.index("STBY", opened) < cal.index("OUT?", opened)
        line = next(x for x in done.stdout.splitlines() if " calibrator " in x)
        assert "off (read back)" in line and "(standby)" in line

        # An output that will not switch off: shown, and the command fails.
        scpi(sim, "calibrator", "OPER")
        sim.instruments["calibrator"].faults.stuck_output = True
        stuck = subprocess.run([*LABCTL, "instruments", "--config", str(config)],
                               capture_output=True, text=True, timeout=60)
        sim.instruments["calibrator"].faults.clear()
    assert stuck.returncode == 1
    assert "BENCH NOT CONFIRMED SAFE: switch calibrator off by hand" in stuck.stderr
    assert "NOT CONFIRMED" in next(x for x in stuck.stdout.splitlines() if " calibrator " in x)
