"""The PRT procedure end to end, and its Callendar–Van Dusen fit against the simulator's truth."""

from __future__ import annotations

import numpy as np
import pytest

from labctl.errors import PreconditionError
from labctl.procedures.prt_comparison import (
    PrtComparison,
    PrtParameters,
    cvd_resistance,
    cvd_temperature,
)
from tests.procedures.chain import CHECKER, OPERATOR


def _run(st, params=None):
    st.sim.set_dmm_terminals("REAR")
    return st.runner.run(PrtComparison(params), dut={"manufacturer": "Acme", "model": "Pt100-4W",
                                                     "serial_number": "PRT-0001"},
                         operator=OPERATOR, checker=CHECKER)


def test_prt_run_waits_for_stability_and_fits_cvd(station_factory):
    st = station_factory(seed=31)
    result = _run(st)
    assert result.status == "completed", result.reason
    assert [p.key for p in result.points] == ["t000", "t100", "t200", "t300", "t400"]
    logs = [e.message for e in result.events if e.kind == "log"]
    assert len(logs) == 5 and all("stable within" in m for m in logs)
    truth = st.truth["prt"]
    for p in result.points:
        assert abs(p.reference_value - p.nominal) < 0.5  # the block reached each setpoint
        assert len(p.readings) == len(p.reference_readings) == 8
        # the deviation from IEC 60751 is the PRT's true one at t_ref, within U
        true_dev = float(cvd_temperature(cvd_resistance(p.reference_value, truth["r0"],
                                                        truth["a"], truth["b"], truth["c"])))
        assert abs(p.error - (true_dev - p.reference_value)) <= 3 * p.U
        assert {b.name for b in p.budget} >= {"t_read", "e_ref", "dt_block", "R_ind", "g_dmm"}
    fit = result.analysis
    assert set(fit["coefficients"]) == {"R0", "A", "B"}
    assert np.allclose(np.array(fit["correlation"]).diagonal(), 1.0)
    assert len(fit["curve_uncertainty"]) == 9 and all(c["U"] > 0 for c in fit["curve_uncertainty"])
    # the dry block is left with its heater off
    assert st.sim.truth()["temperature_source"]["control"] == 0


@pytest.mark.timeout(180)
def test_fitted_coefficients_cover_the_true_ones(station_factory):
    """Over 20 simulated PRTs (and blocks, references, DMMs), |fit − truth| <= U (k = 2) for
    R0, A and B in about 95 % of cases: the fit's covariance is honest."""
    covered = total = 0
    for seed in range(20):
        st = station_factory(seed=500 + seed)
        result = _run(st, PrtParameters(stability_interval=20.0, stability_window=100.0))
        assert result.status == "completed", result.reason
        truth = st.truth["prt"]
        fit = result.analysis
        for name, key in (("R0", "r0"), ("A", "a"), ("B", "b")):
            u = fit["standard_uncertainties"][name]
            covered += abs(fit["coefficients"][name] - truth[key]) <= 2 * u
            total += 1
        st.close()
    print(f"coefficients covered {covered}/{total}")
    assert covered / total >= 0.88


def test_dmm_on_the_wrong_terminals_refuses(station_factory):
    st = station_factory(seed=32)
    with pytest.raises(PreconditionError) as err:
        st.runner.run(PrtComparison(), dut={"serial_number": "PRT-0001"}, operator=OPERATOR,
                      checker=CHECKER)
    assert err.value.rule == "dmm_terminals"
    assert st.journal.runs()[0]["status"] == "refused"


def test_cvd_inverse_is_exact_both_sides_of_zero():
    t = np.linspace(-200, 850, 211)
    assert np.allclose(cvd_temperature(cvd_resistance(t)), t, atol=1e-9)


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="stability_window"):
        PrtParameters(stability_window=5.0, stability_interval=10.0)
    with pytest.raises(ValueError, match="decision_rule"):
        PrtParameters(decision_rule="maybe")
