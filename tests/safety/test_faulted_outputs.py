"""A faulted output instrument is never reported as a safe pause.

Making the bench safe is confirmed by reading the output state back (the calibrator's
``OPER?``, the DB-450's control register), with a bounded retry and reconnect. When it cannot
be confirmed, the run's stored reason says so in words (``BENCH NOT CONFIRMED SAFE: switch …
off by hand``) and the command line shows it prominently.

Reproductions (issue 9): a calibrator hung or with its link dropped while in OPERATE, or a dry
block heating, was left live while the run said ``paused``; "making the bench safe failed"
went only to the log.
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest

from labctl.procedures.dmm_dc_voltage import DcvParameters, DmmDcVoltage
from labctl.procedures.runner import UNSAFE_MARK
from simulators.bench import SimulatedBench
from tests.procedures.chain import CHECKER, OPERATOR
from tests.safety._bench import SEED, journal_run, labctl_run_args, scpi

FAST = DcvParameters(ranges=(10.0,), settle_time=2.0)


def _dut(st):
    return {"manufacturer": "Keysight Technologies", "model": "34465A",
            "serial_number": st.truth["dmm"]["serial"]}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("fault", ["no_reply", "drop_connection"])
def test_calibrator_faulted_in_operate_is_reported_not_confirmed_safe(station_factory, fault):
    st = station_factory(seed=SEED)
    calls = []

    def fault_when_live(event):
        if event.kind == "point_done" and not calls:
            calls.append(1)
            scpi(st.sim, "calibrator", "OUT 10 V;OPER")  # the next point's live output
            setattr(st.sim.instruments["calibrator"].faults, fault, True)

    st.runner.listeners.append(fault_when_live)
    started = time.monotonic()
    result = st.runner.run(DmmDcVoltage(FAST), dut=_dut(st), operator=OPERATOR,
                           checker=CHECKER)
    took = time.monotonic() - started
    assert st.sim.truth()["calibrator"]["operate"] is True  # it IS still live
    assert result.status == "paused"
    assert UNSAFE_MARK in result.reason
    assert "switch calibrator off by hand" in result.reason
    status, reason = st.journal.status(result.run_id)
    assert status == "paused" and reason == result.reason  # stored, not only logged
    final = result.events[-1]
    assert final.kind == "paused" and final.data["safe_state"]["calibrator"] == "unconfirmed"
    assert final.data["unsafe"]["calibrator"]["status"] == "unconfirmed"
    assert took < 60  # bounded: a hung instrument cannot hold the safe path for long
    st.sim.instruments["calibrator"].faults.clear()


def test_a_dropped_link_that_comes_back_is_made_safe_on_a_later_attempt(station_factory):
    """The bounded retry reconnects: the link back by the second attempt → confirmed."""
    st = station_factory(seed=SEED)
    cal = st.bench["calibrator"]
    cal.source_dc_voltage(10.0)
    cal.operate()
    inst = st.sim.instruments["calibrator"]
    inst.faults.drop_connection = True
    seen = len(inst.commands)

    def link_back_after_the_first_standby():  # the server dropped it without executing it
        deadline = time.monotonic() + 10
        while "STBY" not in inst.commands[seen:] and time.monotonic() < deadline:
            time.sleep(0.001)
        inst.faults.clear()

    watcher = threading.Thread(target=link_back_after_the_first_standby)
    watcher.start()
    state = cal.ensure_safe()
    watcher.join()
    assert state.status.value == "confirmed", state
    assert "(attempt 2)" in state.detail
    assert st.sim.truth()["calibrator"]["operate"] is False


@pytest.mark.timeout(120)
def test_dry_block_heating_and_hung_refuses_the_run_with_the_warning(station_factory):
    st = station_factory(seed=SEED)
    block = st.bench["temperature_source"]
    block.setpoint = 200.0
    block.enable()
    st.sim.instruments["temperature_source"].faults.no_reply = True
    from labctl.errors import PreconditionError

    with pytest.raises(PreconditionError) as info:
        st.runner.run(DmmDcVoltage(FAST), dut=_dut(st), operator=OPERATOR, checker=CHECKER)
    assert info.value.rule == "bench_not_safe"
    assert "switch temperature_source off by hand" in str(info.value)
    runs = st.journal.runs()
    status, reason = st.journal.status(runs[-1]["run_id"])
    assert status == "refused" and UNSAFE_MARK in reason
    assert st.sim.instruments["temperature_source"].model.control == 1  # truly still heating
    st.sim.instruments["temperature_source"].faults.clear()


@pytest.mark.timeout(120)
def test_labctl_run_shows_an_output_that_will_not_switch_off(tmp_path: Path):
    """A welded output (the simulator's ``stuck_output``): standby is accepted but the
    read-back says operate. The run is refused and the technician is told, prominently."""
    with SimulatedBench(seed=SEED) as sim:
        scpi(sim, "calibrator", "OUT -1000 V;OPER")
        sim.instruments["calibrator"].faults.stuck_output = True
        done = subprocess.run(labctl_run_args(sim, tmp_path), capture_output=True, text=True,
                              timeout=90)
        assert scpi(sim, "calibrator", "OPER?") == "1"
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "!" * 40 in done.stderr
    assert f"{UNSAFE_MARK}: switch calibrator off by hand" in done.stderr
    assert "read back: the output is still on" in done.stderr
    run_id, status, reason = journal_run(tmp_path / "journal.sqlite")
    assert status == "refused" and UNSAFE_MARK in reason and run_id in done.stderr


@pytest.mark.timeout(120)
def test_a_calibrator_hung_when_the_bench_opens_is_reported_as_possibly_live(tmp_path: Path):
    """It cannot even be identified, so nothing may be sent to it: the technician is told
    its output state is unknown, by ``labctl run`` and by ``labctl instruments``."""
    from tests.safety._bench import LABCTL, config_for

    with SimulatedBench(seed=SEED) as sim:
        scpi(sim, "calibrator", "OUT 100 V;OPER")
        sim.instruments["calibrator"].faults.no_reply = True
        run = subprocess.run(labctl_run_args(sim, tmp_path), capture_output=True, text=True,
                             timeout=90)
        inst = subprocess.run([*LABCTL, "instruments", "--config",
                               str(config_for(sim, tmp_path / "i.toml"))],
                              capture_output=True, text=True, timeout=90)
        sim.instruments["calibrator"].faults.clear()
    for done in (run, inst):
        assert done.returncode in (1, 2), done.stderr
        assert "!" * 40 in done.stderr
        assert f"{UNSAFE_MARK}: switch calibrator off by hand now" in done.stderr
        assert "output state is unknown" in done.stderr


def test_an_output_instruments_timeout_is_bounded_in_the_bench_configuration():
    from labctl.drivers.factory import InstrumentConfig
    from labctl.errors import ValidationError

    with pytest.raises(ValidationError) as info:
        InstrumentConfig("5522A", "TCPIP0::127.0.0.1::5025::SOCKET", timeout=600.0)
    assert "timeout" in info.value.field and "≤ 10" in str(info.value)
    InstrumentConfig("34465A", "TCPIP0::127.0.0.1::5025::SOCKET", timeout=600.0)  # a DMM may
