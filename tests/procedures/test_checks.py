"""The two intermediate-check procedures on the simulated bench, against the devices' truth.

Real servers on 127.0.0.1, the real drivers, the runner with its journal and environment
monitoring; one manual clock for bench and runner, so a day between two checks takes no wall
time. Expected values come from the simulators' truth at the moment of each point.
"""

from __future__ import annotations

import itertools
import math

import pytest

from labctl.errors import PreconditionError, ValidationError
from labctl.procedures.catalog import PROCEDURES, procedure_class
from labctl.procedures.dmm_calibrator_check import (
    CalibratorCheckParameters,
    CalibratorCheckPoint,
    DmmCalibratorCheck,
)
from labctl.procedures.interfaces import RegisteredStandard
from labctl.procedures.prt_dry_block_check import DryBlockCheckParameters, PrtDryBlockCheck
from labctl.quantities import ProcedureKind
from tests.procedures.chain import CHECKER, OPERATOR

DAY = 86_400.0  # s
#: Faster stability detection than the default (fewer reference readings per wait).
QUICK = DryBlockCheckParameters(stability_interval=20.0, stability_window=100.0)


# -- helpers ----------------------------------------------------------------------------------


def _calibrator_check(st, params=None):
    cal = st.truth["calibrator"]
    return st.runner.run(DmmCalibratorCheck(params),
                         dut={"manufacturer": "Fluke", "model": "5522A",
                              "serial_number": cal["serial"]},
                         operator=OPERATOR, checker=CHECKER)


def _block_check(st, params=QUICK):
    st.sim.set_dmm_terminals("REAR")  # nothing of the DMM is used; as the PRT bench is wired
    block = st.truth["temperature_source"]
    return st.runner.run(PrtDryBlockCheck(params),
                         dut={"manufacturer": "Simulated Thermal", "model": "DB-450",
                              "serial_number": str(block["serial"])},
                         operator=OPERATOR, checker=CHECKER)


def _truth_at_points(st) -> dict[str, dict]:
    """The bench's truth as each point is committed (the outputs are still on then)."""
    seen: dict[str, dict] = {}

    def listen(event):
        if event.kind == "point_done":
            seen[event.point_key] = st.sim.truth()

    st.runner.listeners.append(listen)
    return seen


def _expected_difference(st, truth, nominal: float, dmm_range: float) -> float:
    """Noise-free DMM reading of the calibrator's true output, minus the nominal."""
    cal = st.sim.instruments["calibrator"].model
    true_out = cal.true_value(nominal, "V", t=truth["time"])
    dmm = st.sim.instruments["dmm"].model
    reading = true_out + dmm.true_error(true_out, rng=dmm_range,
                                        room_temperature=truth["room"]["temperature"])
    return reading - nominal


def _expected_indicated_error(truth) -> float:
    """The block's noise-free indication minus the temperature where the reference sits."""
    block = truth["temperature_source"]
    return (block["control_zone_temperature"] + block["sensor_error_now"]
            - block["true_temperature"])


def _calibrator_in_standby(st) -> bool:
    sets = [c for c in st.sim.instruments["calibrator"].commands if not c.endswith("?")]
    return st.sim.truth()["calibrator"]["operate"] is False and sets[-1] == "STBY"


# -- catalogue and parameters ------------------------------------------------------------------


def test_the_checks_are_in_the_catalogue_as_checks():
    for cls in (DmmCalibratorCheck, PrtDryBlockCheck):
        assert procedure_class(cls.info.id) is cls and cls.info.id in PROCEDURES
        assert cls.info.kind is ProcedureKind.CHECK
        assert cls.info.dut_role in ("calibrator", "temperature_source")
    assert procedure_class("dmm-dcv-direct").info.kind is ProcedureKind.CALIBRATION
    assert [p.nominal for p in DmmCalibratorCheck().test_points()] == [1.0, 10.0, -10.0]
    assert [p.setpoint for p in PrtDryBlockCheck().test_points()] == [100.0, 200.0]


def test_bad_parameters_and_rows_are_named():
    with pytest.raises(ValidationError, match="settle_time"):
        CalibratorCheckParameters(settle_time=-1)
    with pytest.raises(ValidationError, match="nominal"):
        CalibratorCheckPoint("x", 1.0, 5.0, 10)
    with pytest.raises(ValidationError, match="display_resolution"):
        DryBlockCheckParameters(display_resolution=-0.01)
    with pytest.raises(ValidationError, match=r"parameter='ranges' is not allowed"):
        DmmCalibratorCheck.from_parameters({"ranges": [1.0]})


def test_check_standard_stability_enters_the_budget_from_the_register():
    """u² = s²/n + (res/2)²/3 + (stab·|V|)²/3, the last from the check standard's record."""
    proc = DmmCalibratorCheck()
    point = proc.test_points()[1]  # +10 V
    readings = [10.0000101, 10.0000093, 10.0000112, 10.0000098, 10.0000104]
    dmm = RegisteredStandard("CHK-DMM", "check DMM", "Keysight Technologies", "34465A", "1",
                             "in_service", None, "C-1",
                             specification={"dcv_stability_rel.10V": 2e-6})
    plain = RegisteredStandard("CHK-DMM", "check DMM", "Keysight Technologies", "34465A", "1",
                               "in_service", None, "C-1")
    res = 1e-6
    with_stab = proc.evaluate(point, readings, res, dmm)
    without = proc.evaluate(point, readings, res, plain)
    n = len(readings)
    mean = sum(readings) / n
    s2 = sum((r - mean) ** 2 for r in readings) / (n - 1)
    u_plain = math.sqrt(s2 / n + (res / 2) ** 2 / 3)
    assert without.extra["u"] == pytest.approx(u_plain, rel=1e-9)
    assert with_stab.extra["u"] == pytest.approx(math.sqrt(u_plain**2 + (2e-6 * 10) ** 2 / 3),
                                                 rel=1e-9)
    assert with_stab.error == pytest.approx(mean - 10.0, abs=1e-12)
    assert {b.name for b in with_stab.budget} == {"V_ind", "dV_res", "dV_stab", "V_set"}
    assert with_stab.dof > without.dof  # a Type B with infinite dof dilutes the Type A


# -- the calibrator check ----------------------------------------------------------------------


def test_calibrator_check_on_a_steady_bench_finds_the_true_difference(station_factory):
    st = station_factory(seed=41)
    at_points = _truth_at_points(st)
    result = _calibrator_check(st)
    assert result.status == "completed", result.reason
    assert [p.key for p in result.points] == ["+1V", "+10V", "-10V"]
    for p in result.points:
        truth = at_points[p.key]
        expected = _expected_difference(st, truth, p.nominal, abs(p.nominal))
        assert p.U > 0 and p.dof > 1 and p.stage == "check" and p.unit == "V"
        assert abs(p.error - expected) <= 3 * p.extra["u"] + 1e-12, (p.key, p.error, expected)
        assert p.error == pytest.approx(p.measured_value - p.nominal, abs=1e-15)
        assert {b.name for b in p.budget} >= {"V_ind", "dV_res"}
        assert p.conditions and p.conditions[0].quantity == "temperature"
    assert result.analysis["kind"] == "check"
    assert result.analysis["checked_role"] == "calibrator"
    assert [v["u"] for v in result.analysis["values"]] == [p.extra["u"] for p in result.points]
    assert result.standards[0]["id"] == "LAB-DMM-01"  # the check standard was checked in date
    assert _calibrator_in_standby(st)


def test_repeated_calibrator_checks_follow_a_drift_and_show_a_step(station_factory):
    st = station_factory(seed=42)
    rate = 1e-10  # relative per s: 8.64 ppm a day, 86 µV a day at 10 V
    st.sim.set_drift("calibrator", rate=rate)
    series: list[dict[str, float]] = []
    for day in range(3):
        at_points = _truth_at_points(st)
        result = _calibrator_check(st)
        assert result.status == "completed", result.reason
        values = {p.key: p.error for p in result.points}
        for p in result.points:
            expected = _expected_difference(st, at_points[p.key], p.nominal, abs(p.nominal))
            assert abs(p.error - expected) <= 3 * p.extra["u"] + 1e-12, (day, p.key)
        series.append(values)
        st.clock.advance(DAY)
    for before, after in itertools.pairwise(series):
        for key, volts in (("+10V", 10.0), ("-10V", -10.0), ("+1V", 1.0)):
            moved = after[key] - before[key]
            # a day of drift, give or take the short-term spread of two checks
            assert moved == pytest.approx(volts * rate * DAY, abs=3e-6), key
    # a sudden step of +5 ppm: the next check moves by the step (and a day's drift less the
    # drift we stop): stop the ramp first so only the step is left to see
    st.sim.set_drift("calibrator", rate=0.0)
    before = {p.key: p.error for p in _calibrator_check(st).points}
    st.sim.set_drift("calibrator", step=5e-6)
    st.clock.advance(3600.0)
    after = {p.key: p.error for p in _calibrator_check(st).points}
    assert after["+10V"] - before["+10V"] == pytest.approx(50e-6, abs=3e-6)
    assert after["-10V"] - before["-10V"] == pytest.approx(-50e-6, abs=3e-6)
    assert after["+1V"] - before["+1V"] == pytest.approx(5e-6, abs=1.5e-6)
    assert _calibrator_in_standby(st)


def test_calibrator_check_refuses_the_wrong_calibrator(station_factory):
    st = station_factory(seed=43)
    with pytest.raises(PreconditionError) as err:
        st.runner.run(DmmCalibratorCheck(), dut={"serial_number": "0000000"},
                      operator=OPERATOR, checker=CHECKER)
    assert err.value.rule == "dut_mismatch"
    assert not any(c.startswith(("OUT", "OPER")) and not c.endswith("?")
                   for c in st.sim.instruments["calibrator"].commands)


def test_an_instrument_fault_mid_check_leaves_the_calibrator_in_standby(station_factory):
    st = station_factory(seed=44)
    faults = st.sim.instruments["dmm"].faults

    def inject(event):
        if event.kind == "point_done":
            faults.drop_connection = True  # the check-standard DMM goes away after a point

    st.runner.listeners.append(inject)
    result = _calibrator_check(st)
    assert result.status == "paused" and "instrument fault" in result.reason
    assert len(result.points) == 1
    assert _calibrator_in_standby(st)


# -- the dry-block check -----------------------------------------------------------------------


def test_dry_block_check_finds_the_blocks_true_indicated_error(station_factory):
    st = station_factory(seed=45)
    at_points = _truth_at_points(st)
    result = _block_check(st)
    assert result.status == "completed", result.reason
    assert [p.key for p in result.points] == ["t100", "t200"]
    for p in result.points:
        expected = _expected_indicated_error(at_points[p.key])
        assert abs(p.error - expected) <= p.U, (p.key, p.error, expected, p.U)
        assert p.stage == "check" and p.unit == "°C" and p.dof > 1
        assert len(p.readings) == len(p.reference_readings) == 10
        assert {b.name for b in p.budget} >= {"t_ind", "t_read", "e_ref", "dt_well"}
    assert result.analysis["kind"] == "check"
    assert result.analysis["checked_role"] == "temperature_source"
    assert st.sim.truth()["temperature_source"]["control"] == 0  # heater off at the end


def test_dry_block_checks_follow_a_sensor_drift_and_a_reference_step(station_factory,
                                                                    tmp_path):
    st = station_factory(seed=46)
    table = tmp_path / "one_point.csv"
    table.write_text("key,setpoint,cycles\nt150,150.0,10\n", encoding="utf-8")
    params = DryBlockCheckParameters(stability_interval=20.0, stability_window=100.0,
                                     table=str(table))
    rate = 0.02 / DAY  # °C per s: the block's sensor moves 20 mK a day
    st.sim.set_drift("temperature_source", rate=rate)
    values = []
    for _ in range(3):
        at_points = _truth_at_points(st)
        p = _block_check(st, params).points[0]
        assert abs(p.error - _expected_indicated_error(at_points[p.key])) <= p.U
        values.append(p.error)
        st.clock.advance(DAY)
    steps = [b - a for a, b in itertools.pairwise(values)]
    assert all(s == pytest.approx(0.02, abs=0.006) for s in steps), steps
    # the reference probe jumps by +30 mK: the block now looks 30 mK colder than it did
    st.sim.set_drift("temperature_source", rate=0.0)
    before = _block_check(st, params).points[0].error
    st.sim.set_drift("thermometer", step=0.03)
    after = _block_check(st, params).points[0].error
    assert after - before == pytest.approx(-0.03, abs=0.006)


def test_an_instrument_fault_mid_check_leaves_the_block_off(station_factory):
    st = station_factory(seed=47)
    faults = st.sim.instruments["thermometer"].faults

    def inject(event):
        if event.kind == "point_done":
            faults.drop_connection = True  # the reference readout goes away after a point

    st.runner.listeners.append(inject)
    result = _block_check(st)
    assert result.status == "paused" and "instrument fault" in result.reason
    assert [p.key for p in result.points] == ["t100"]
    assert st.sim.truth()["temperature_source"]["control"] == 0
