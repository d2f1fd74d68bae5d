"""The drift a calibrator's intermediate checks show enters the budgets that use it.

A calibrator drifts on the simulated bench; daily checks against the check-standard DMM follow
it; the engine fits the drift (``drift_fit``); the register carries the fit
(:class:`CheckedDrift`); the DC-voltage calibration then corrects for the drift with the fit's
uncertainty instead of the stated allowance (``choose_drift``) — and finds the DMM's true error
where the allowance alone would have been off by the drift.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from labctl.errors import ValidationError
from labctl.procedures.dmm_calibrator_check import DmmCalibratorCheck
from labctl.procedures.dmm_dc_voltage import DcvParameters, DmmDcVoltage
from labctl.procedures.dmm_dc_voltage.procedure import checked_drift
from labctl.procedures.interfaces import CheckedDrift, Correction, RegisteredStandard
from labctl.procedures.register import RegisterSnapshot
from labctl.uncertainty import drift_fit
from tests.procedures.chain import CHECKER, OPERATOR

DAY = 86_400.0
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _calibrator(drifts=(), **spec) -> RegisteredStandard:
    return RegisteredStandard(
        "C", "cal", "Fluke", "5522A", "1", "in_service", date(2030, 1, 1), "X", corrections=(
            Correction("DC voltage", "33V", "gain", 0.0, 1e-6, "1"),
            Correction("DC voltage", "33V", "offset", 0.0, 1e-6, "V")),
        specification=spec or {"dcv_stability_rel.33V": 20e-6}, drifts=tuple(drifts))


def _drift(nominal=10.0, slope=1e-9, u_slope=1e-12, n=8, chi2_p=0.5) -> CheckedDrift:
    return CheckedDrift("DC voltage", nominal, "V", T0, slope, u_slope, n,
                        T0 + timedelta(days=7), dof=6.0, chi2_p=chi2_p)


def _point(proc, key="10V/+10V"):
    return next(p for p in proc.test_points() if p.key == key)


READINGS = np.full(10, 10.0) + np.linspace(-1e-6, 1e-6, 10)


def test_a_better_supported_fit_replaces_the_allowance_as_a_normal_correction():
    proc = DmmDcVoltage()
    at = T0 + timedelta(days=10)
    fitted = proc.evaluate(_point(proc), READINGS, 1e-6, _calibrator([_drift()]), at=at)
    rows = {b.name: b for b in fitted.budget}
    seconds = 10 * DAY
    assert rows["dg_stab"].u == pytest.approx(seconds * 1e-12 / 10.0, rel=1e-9)
    assert fitted.extra["drift_source"] == "fit" and "smaller" in fitted.extra["drift_reason"]
    plain = proc.evaluate(_point(proc), READINGS, 1e-6, _calibrator(), at=at)
    assert plain.extra.get("drift_source") is None
    assert {b.name: b for b in plain.budget}["dg_stab"].u == pytest.approx(
        20e-6 / math.sqrt(3), rel=1e-9)
    # the fitted drift is a correction: the calibrator's output was 10 V·(1 + d) higher
    assert plain.error - fitted.error == pytest.approx(10.0 * 1e-9 * seconds / 10.0, rel=1e-9)
    assert fitted.U < plain.U


@pytest.mark.parametrize(("drift", "why"), [
    (_drift(u_slope=1e-9), "not smaller"),       # the fit is worse known than the allowance
    (_drift(n=3), "fewer than"),                 # too few checks
    (_drift(chi2_p=1e-4), "straight line"),      # the checks do not lie on a line
])
def test_the_allowance_stays_when_the_fit_is_not_better_supported(drift, why):
    proc = DmmDcVoltage()
    r = proc.evaluate(_point(proc), READINGS, 1e-6, _calibrator([drift]),
                      at=T0 + timedelta(days=10))
    assert r.extra["drift_source"] == "allowance" and why in r.extra["drift_reason"]
    assert {b.name: b for b in r.budget}["dg_stab"].u == pytest.approx(20e-6 / math.sqrt(3),
                                                                      rel=1e-9)


def test_the_fit_of_the_nearest_checked_point_on_the_same_range_applies():
    std = _calibrator([_drift(1.0), _drift(10.0), _drift(-10.0), _drift(0.1)])
    assert checked_drift(std, 9.0).nominal == 10.0
    assert checked_drift(std, -5.0).nominal in (10.0, -10.0)
    assert checked_drift(std, 2.0).nominal == 1.0     # 3.3 V range
    assert checked_drift(std, 0.2).nominal == 0.1     # 330 mV range
    assert checked_drift(std, 100.0) is None          # no check on the 330 V range
    assert checked_drift(std, 0.0) is None
    assert checked_drift(_calibrator(), 10.0) is None


@pytest.mark.parametrize(("field", "value"), [("slope", math.nan), ("u_slope", -1.0),
                                              ("nominal", math.inf), ("n", 1)])
def test_a_bad_checked_drift_is_named(field, value):
    with pytest.raises(ValidationError) as caught:
        dataclasses.replace(_drift(), **{field: value})
    assert field in caught.value.field


def test_a_naive_time_is_refused():
    with pytest.raises(ValidationError) as caught:
        dataclasses.replace(_drift(), calibrated_at=datetime(2026, 3, 1))
    assert "calibrated_at" in caught.value.field


def test_a_register_snapshot_carries_the_drift(tmp_path):
    snap = RegisterSnapshot((_calibrator([_drift(), _drift(1.0, chi2_p=None)]),), (), T0)
    snap.save(tmp_path / "register.json")
    back = RegisterSnapshot.load(tmp_path / "register.json")
    assert back.standards[0].drifts == snap.standards[0].drifts
    # and a snapshot from before drifts were carried reads as none
    data = snap.to_dict()
    del data["standards"][0]["drifts"]
    assert RegisterSnapshot.from_dict(data).standards[0].drifts == ()


def _true_dmm_error(st, nominal: float, dmm_range: float) -> float:
    truth = st.sim.truth()
    cal = st.sim.instruments["calibrator"].model
    true_out = cal.true_value(nominal, "V", t=truth["time"])
    dmm = st.sim.instruments["dmm"].model
    return dmm.true_error(true_out, rng=dmm_range,
                          room_temperature=truth["room"]["temperature"])


@pytest.mark.timeout(120)
def test_on_the_bench_the_checks_drift_corrects_the_calibration(station_factory):
    """A calibrator drifting 1.7 ppm a day: eight daily checks, the fit in the register, then a
    calibration of the DMM's 10 V point. With the fit, the error found is the DMM's own; without
    it the error carries the calibrator's drift (about 140 µV at 10 V after 8 days)."""
    st = station_factory(seed=5)
    cal = st.truth["calibrator"]
    rate = 2e-11  # relative per s
    t_cal = st.clock.now()
    st.sim.set_drift("calibrator", rate=rate)
    times, values, us = {}, {}, {}
    for _ in range(8):
        st.clock.advance(DAY)
        result = st.runner.run(DmmCalibratorCheck(), dut={
            "manufacturer": "Fluke", "model": "5522A", "serial_number": cal["serial"]},
            operator=OPERATOR, checker=CHECKER)
        assert result.status == "completed", result.reason
        for p in result.points:
            times.setdefault(p.nominal, []).append(st.clock.now())
            values.setdefault(p.nominal, []).append(p.error)
            us.setdefault(p.nominal, []).append(p.extra["u"])
    epoch = st.clock.utcnow() - timedelta(seconds=st.clock.now())
    drifts = []
    for nominal in values:
        fit = drift_fit(times[nominal], values[nominal], us[nominal], t_cal)
        drifts.append(CheckedDrift("DC voltage", nominal, "V",
                                   epoch + timedelta(seconds=t_cal), fit.slope, fit.u_slope,
                                   fit.n, epoch + timedelta(seconds=times[nominal][-1]),
                                   dof=fit.dof, chi2_p=fit.chi2_p))
        assert fit.slope == pytest.approx(rate * nominal, rel=0.1)
    plain_register = st.runner.register
    std = next(s for s in plain_register.standards if s.serial_number == cal["serial"])
    with_fit = RegisterSnapshot(
        tuple(dataclasses.replace(s, drifts=tuple(drifts)) if s is std else s
              for s in plain_register.standards),
        plain_register.authorisations, plain_register.taken_at)
    dut = {"manufacturer": "Keysight Technologies", "model": "34465A",
           "serial_number": st.truth["dmm"]["serial"]}
    params = DcvParameters(ranges=(10.0,))
    found = {}
    for name, register in (("allowance", plain_register), ("fit", with_fit)):
        st.runner.register = register
        run = st.runner.run(DmmDcVoltage(params), dut=dut, operator=OPERATOR, checker=CHECKER)
        assert run.status == "completed", run.reason
        found[name] = next(p for p in run.points if p.nominal == 10.0)
    true_error = _true_dmm_error(st, 10.0, 10.0)
    drift_volts = 10.0 * rate * (st.clock.now() - t_cal)
    assert found["fit"].extra["drift_source"] == "fit"
    assert abs(found["fit"].error - true_error) <= found["fit"].U
    # the allowance alone leaves the calibrator's drift in the DMM's error (the DMM read the
    # calibrator's higher output, taken for the certified one)
    assert found["allowance"].error - true_error == pytest.approx(drift_volts,
                                                                  abs=0.2 * drift_volts)
    # this register states no drift allowance for the calibrator: without the checks' fit the
    # budget had nothing for the drift, and its U does not cover the error it leaves
    assert abs(found["allowance"].error - true_error) > found["allowance"].U
    assert "no stated allowance" in found["fit"].extra["drift_reason"]
