"""The runner's duties on the simulated bench: holds, invalidation, faults, stop, resume."""

from __future__ import annotations

import pytest

from labctl.procedures.catalog import PROCEDURES
from labctl.procedures.dmm_dc_voltage import DcvParameters, DmmDcVoltage
from tests.procedures.chain import CHECKER, OPERATOR

FAST = DcvParameters(ranges=(1.0, 10.0), settle_time=2.0)  # 8 points


def _dut(st):
    return {"manufacturer": "Keysight Technologies", "model": "34465A",
            "serial_number": st.truth["dmm"]["serial"]}


def _run(st, params=FAST):
    return st.runner.run(DmmDcVoltage(params), dut=_dut(st), operator=OPERATOR, checker=CHECKER)


def _calibrator_safe(st) -> bool:
    return st.sim.truth()["calibrator"]["operate"] is False


def test_excursion_mid_run_invalidates_holds_and_remeasures(station_factory):
    st = station_factory(seed=21)
    # In limits for the 300 s settle and the first points, then +6 °C at t = 306 s for 10 min.
    st.sim.room.hold(306.0).excursion(delta=6.0, ramp=1.0, hold=600.0)
    result = _run(st)
    assert result.status == "completed", result.reason
    kinds = [e.kind for e in result.events]
    assert "hold" in kinds and "resume" in kinds and "point_invalidated" in kinds
    hold = next(e for e in result.events if e.kind == "hold")
    assert "temperature" in hold.message and ("above limit 28" in hold.message
                                              or "°C/h" in hold.message)
    invalid = [e for e in result.events if e.kind == "point_invalidated"]
    resumed = next(e for e in result.events if e.kind == "resume")
    # every invalidated point was measured again after conditions recovered
    keys = [p.key for p in result.points]
    assert len(keys) == len(set(keys)) == 8
    for event in invalid:
        again = next(p for p in result.points if p.key == event.point_key)
        assert again.started >= resumed.time
        assert all(c.maximum <= 28.0 for c in again.conditions if c.quantity == "temperature")
    # the bench was made safe for the hold: STBY after the last OUT before the resume
    cal = st.sim.instruments["calibrator"].commands
    assert "STBY" in cal and _calibrator_safe(st)
    # run conditions cover the excursion
    temp = next(c for c in result.conditions if c.quantity == "temperature")
    assert temp.maximum > 28.0 and temp.minimum < 23.5


def test_excursion_that_does_not_recover_aborts_after_the_hold_timeout(station_factory):
    st = station_factory(seed=22)
    st.sim.room.hold(306.0).excursion(delta=8.0, ramp=1.0, hold=5 * 3600.0)
    result = _run(st)
    assert result.status == "aborted"
    assert "did not recover" in result.reason
    assert _calibrator_safe(st)
    assert st.journal.status(result.run_id)[0] == "aborted"


@pytest.mark.parametrize("fault", ["no_reply", "drop_connection", "garble", "error_queue"])
@pytest.mark.parametrize("role", ["dmm", "calibrator"])
def test_instrument_fault_pauses_safely_and_the_run_resumes(station_factory, fault, role):
    st = station_factory(seed=23)
    faults = st.sim.instruments[role].faults
    done = []

    def inject(event):
        if event.kind == "point_done":
            done.append(event.point_key)
            if len(done) == 3:
                if fault == "error_queue":
                    st.sim.instruments[role].model.push_error(-222, "Data out of range")
                else:
                    setattr(faults, fault, True)

    st.runner.listeners.append(inject)
    result = _run(st)
    assert result.status in ("paused", "completed")
    assert len({p.key for p in result.points}) == len(result.points) >= 3
    if result.status == "paused":
        assert "instrument fault" in result.reason
        assert len(result.points) < 8
    # clear the fault: the bench is made safe and the run goes on from the next point
    for name in ("no_reply", "drop_connection", "garble"):
        setattr(faults, name, False)
    st.runner.listeners.remove(inject)
    st.bench[role].make_safe()
    assert _calibrator_safe(st)
    if result.status == "paused":
        resumed = st.runner.resume(result.run_id, PROCEDURES)
        assert resumed.status == "completed", resumed.reason
        keys = [p.key for p in resumed.points]
        assert keys == [p.key for p in DmmDcVoltage(FAST).test_points()]
        assert keys[:len(result.points)] == [p.key for p in result.points]
        assert _calibrator_safe(st)


def test_ctrl_c_leaves_the_bench_safe_and_the_run_resumable(station_factory):
    st = station_factory(seed=24)

    def interrupt(event):
        if event.kind == "point_started" and event.point_key == "10V/+5V":
            raise KeyboardInterrupt

    st.runner.listeners.append(interrupt)
    with pytest.raises(KeyboardInterrupt):
        _run(st)
    st.runner.listeners.remove(interrupt)
    run = st.journal.runs()[0]
    assert run["status"] == "paused" and run["reason"] == "interrupted by the operator"
    assert _calibrator_safe(st)
    resumed = st.runner.resume(run["run_id"], PROCEDURES)
    assert resumed.status == "completed"
    assert len(resumed.points) == 8


def test_a_stop_request_pauses_between_points(station_factory):
    st = station_factory(seed=25)
    st.runner.listeners.append(
        lambda e: st.runner.request_stop() if e.kind == "point_done" else None)
    result = _run(st)
    assert result.status == "paused" and result.reason == "stopped on request"
    assert len(result.points) == 1 and _calibrator_safe(st)


def test_resume_refuses_a_different_dut_and_a_completed_run(station_factory, tmp_path):
    st = station_factory(seed=26)
    result = _run(st, DcvParameters(ranges=(10.0,), settle_time=1.0))
    from labctl.errors import PreconditionError

    with pytest.raises(PreconditionError) as err:
        st.runner.resume(result.run_id, PROCEDURES)
    assert err.value.rule == "run_completed"
    other = station_factory(seed=27, journal=st.journal.path)
    st.journal.set_status(result.run_id, "paused", "test")
    with pytest.raises(PreconditionError) as err:
        other.runner.resume(result.run_id, PROCEDURES)
    assert err.value.rule == "dut_mismatch"
