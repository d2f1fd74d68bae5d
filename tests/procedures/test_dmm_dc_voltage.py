"""The DMM DC voltage procedure end to end: simulators, drivers, runner, journal."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest

from labctl.errors import PreconditionError
from labctl.procedures.dmm_dc_voltage import DcvParameters, DmmDcVoltage
from tests.procedures.chain import CHECKER, OPERATOR


def _run(station, procedure=None, **kw):
    dut = {"manufacturer": "Keysight Technologies", "model": "34465A",
           "serial_number": station.truth["dmm"]["serial"]}
    return station.runner.run(procedure or DmmDcVoltage(), dut=dut, operator=kw.get(
        "operator", OPERATOR), checker=kw.get("checker", CHECKER))


def test_full_run_measures_every_point_with_budget_and_statement(station_factory):
    st = station_factory(seed=11)
    result = _run(st)
    assert result.status == "completed", result.reason
    keys = [p.key for p in result.points]
    assert keys == [p.key for p in DmmDcVoltage().test_points()]
    truth = st.truth
    for p in result.points:
        assert p.U > 0 and p.k >= 1.9599 and p.coverage_probability == 0.95
        assert {b.name for b in p.budget} >= {"V_ind", "dV_res", "g_cal", "o_cal"}
        assert math.isclose(sum(b.share for b in p.budget), 1.0, rel_tol=1e-6)
        assert p.conformity in ("pass", "fail")
        assert p.lower_limit == -p.upper_limit and p.tur and p.tur > 1
        assert p.conditions and p.conditions[0].quantity == "temperature"
        assert len(p.readings) == (5 if p.range_label == "1000 V" else 10)
        # the found error is the DMM's true error, within U
        true_err = st.sim.instruments["dmm"].model.true_error(p.nominal * 1.0 + _cal_err(
            truth, p.nominal), rng=float(p.range_label.split()[0]) * (1e-3 if "mV" in
                                                                    p.range_label else 1))
        assert abs(p.error - true_err) <= 3 * p.U
    # the journal holds exactly what the result says, committed point by point
    stored = st.journal.load_run(result.run_id)
    assert [p.key for p in stored.points] == keys and stored.status == "completed"
    kinds = [e.kind for e in stored.events]
    assert kinds[0] == "started" and kinds[-1] == "completed"
    assert kinds.count("point_done") == len(keys)
    # the calibrator ends in standby: its last state-changing command is STBY
    assert st.sim.truth()["calibrator"]["operate"] is False
    sets = [c for c in st.sim.instruments["calibrator"].commands if not c.endswith("?")]
    assert sets[-1] == "STBY"
    assert result.instruments["dmm"]["identity"]["serial"] == truth["dmm"]["serial"]
    assert result.standards[0]["id"] == "LAB-CAL-01"


def _outputs_applied(st) -> bool:
    """Whether the calibrator was ever told to source (queries change nothing)."""
    return any(c.startswith(("OUT", "OPER")) and not c.endswith("?")
               for c in st.sim.instruments["calibrator"].commands)


def _cal_err(truth, nominal):
    for upper, e in truth["calibrator"]["errors"]["dcv"].items():
        if abs(nominal) < upper:
            return nominal * e["gain"] + e["offset"]
    raise AssertionError(nominal)


@pytest.mark.timeout(240)
def test_the_chain_is_honest_about_its_uncertainty(station_factory):
    """Over 200 simulated DMMs (and calibrators, and their certificates), the found error lies
    within ±U of the true error at 95 % ± 3 % of all points."""
    covered = total = 0
    for seed in range(200):
        st = station_factory(seed=1000 + seed)
        result = _run(st, DmmDcVoltage(DcvParameters(settle_time=0.5)))
        assert result.status == "completed"
        dmm = st.sim.instruments["dmm"].model
        for p in result.points:
            rng = {"100 mV": 0.1, "1 V": 1.0, "10 V": 10.0, "100 V": 100.0, "1000 V": 1000.0}
            true_input = p.nominal + _cal_err(st.truth, p.nominal)
            true_err = dmm.true_error(true_input, rng=rng[p.range_label])
            covered += abs(p.error - true_err) <= p.U
            total += 1
        st.close()
    fraction = covered / total
    print(f"coverage {covered}/{total} = {fraction:.4f}")
    assert 0.92 <= fraction <= 0.98


def test_expired_standard_refuses_the_run_before_any_output(station_factory):
    st = station_factory(register_options={"calibrator_due": date(2025, 6, 30)})
    with pytest.raises(PreconditionError) as err:
        _run(st)
    assert err.value.rule == "standard_expired"
    assert "LAB-CAL-01" in str(err.value) and "2025-06-30" in str(err.value)
    assert not _outputs_applied(st)
    run_id = st.journal.runs()[0]["run_id"]
    assert st.journal.status(run_id)[0] == "refused"


@pytest.mark.parametrize("status", ["quarantined", "out_of_tolerance", "retired"])
def test_standard_not_in_service_refuses_the_run(station_factory, status):
    st = station_factory(register_options={"calibrator_status": status})
    with pytest.raises(PreconditionError) as err:
        _run(st)
    assert err.value.rule == "standard_not_in_service"
    assert status.replace("_", " ") in str(err.value)
    assert not _outputs_applied(st)


def test_people_are_checked_before_the_run(station_factory):
    st = station_factory()
    with pytest.raises(PreconditionError) as err:
        _run(st, operator="mallory")
    assert err.value.rule == "operator_not_authorised"
    with pytest.raises(PreconditionError) as err:
        _run(st, checker=OPERATOR)
    assert err.value.rule == "checker_is_operator"
    with pytest.raises(PreconditionError) as err:
        _run(st, checker=" ")
    assert err.value.rule == "checker_missing"


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="decision_rule"):
        DcvParameters(decision_rule="lenient")
    with pytest.raises(ValueError, match="ranges"):
        DcvParameters(ranges=(3.0,))
    with pytest.raises(ValueError, match=r"settle.*one of"):
        DmmDcVoltage.from_parameters({"settle": 1})


def test_evaluation_is_vector_consistent_with_the_readings():
    proc = DmmDcVoltage()
    point = proc.test_points()[10]  # 10 V
    from tests.procedures.chain import certified_standards  # noqa: F401 - documents the source
    readings = np.full(10, 10.00002) + np.linspace(-1e-6, 1e-6, 10)
    from labctl.procedures.interfaces import Correction, RegisteredStandard

    std = RegisteredStandard("C", "cal", "Fluke", "5522A", "1", "in_service", date(2030, 1, 1),
                             "X", corrections=(
                                 Correction("DC voltage", "33V", "gain", 1e-6, 1e-6, "1"),
                                 Correction("DC voltage", "33V", "offset", 2e-6, 1e-6, "V")))
    r = proc.evaluate(point, readings, 1e-6, std)
    assert math.isclose(r.error, 10.00002 - (10 * (1 + 1e-6) + 2e-6), rel_tol=0, abs_tol=1e-12)
    assert math.isclose(r.reference_value, 10 * (1 + 1e-6) + 2e-6, abs_tol=1e-12)
    # U from the budget: the calibrator's gain dominates (10 V × 1 ppm)
    assert r.budget[[b.name for b in r.budget].index("g_cal")].contribution == pytest.approx(1e-5)


def test_as_found_adjustment_as_left(station_factory):
    """Adjusted against the calibrator's corrected output, the as-left errors are what the
    calibrator's certificate could not see (its own residual error), well inside U."""
    st = station_factory(seed=12)
    params = DcvParameters(ranges=(1.0, 10.0), settle_time=1.0, adjust=True)
    result = _run(st, DmmDcVoltage(params))
    assert result.status == "completed", result.reason
    found = [p for p in result.points if p.stage == "as-found"]
    left = [p for p in result.points if p.stage == "as-left"]
    assert [p.key for p in left] == ["as-left/" + p.key for p in found] and len(left) == 8
    assert all(p.started > found[-1].finished for p in left)
    logs = [e.message for e in result.events if e.kind == "log"]
    assert logs == ["adjusted the 1 V range: zero and gain at 1 V",
                    "adjusted the 10 V range: zero and gain at 10 V"]
    model = st.sim.instruments["dmm"].model
    assert model.cal_count == 4 and model.cal_secured is True
    # as left, the meter agrees with the calibrator within the points' uncertainty
    assert all(abs(p.error) <= p.U for p in left)
    assert max(abs(p.error) / p.U for p in found) > max(abs(p.error) / p.U for p in left)


def test_drift_allowance_from_the_stated_accuracy_when_no_stability_is_given():
    """Half a calibration interval after its certificate, a calibrator specified ±(10 ppm +
    4 µV) gets a rectangular drift allowance of ±(5 ppm + 2 µV) in every budget."""
    from labctl.procedures.interfaces import Correction, RegisteredStandard

    proc = DmmDcVoltage()
    point = next(p for p in proc.test_points() if p.key == "10V/+10V")
    std = RegisteredStandard(
        "C", "cal", "Fluke", "5522A", "1", "in_service", date(2030, 1, 1), "X", corrections=(
            Correction("DC voltage", "33V", "gain", 0.0, 1e-6, "1"),
            Correction("DC voltage", "33V", "offset", 0.0, 1e-6, "V")),
        specification={"accuracy_relative": 10e-6, "accuracy_absolute": 4e-6,
                       "calibrated_on": "2026-01-01", "interval_days": 360})
    readings = np.full(10, 10.0) + np.linspace(-1e-6, 1e-6, 10)
    with_drift = proc.evaluate(point, readings, 1e-6, std, at=date(2026, 6, 30))
    rows = {b.name: b for b in with_drift.budget}
    assert rows["dg_stab"].u == pytest.approx(5e-6 / math.sqrt(3), rel=1e-9)
    assert rows["dV_drift"].u == pytest.approx(2e-6 / math.sqrt(3), rel=1e-9)
    fresh = proc.evaluate(point, readings, 1e-6, std, at=date(2026, 1, 1))
    assert "dg_stab" not in {b.name for b in fresh.budget} and fresh.U < with_drift.U
