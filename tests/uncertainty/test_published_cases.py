"""Every published figure of data/cases.json (GUM H.1, H.3; JCGM 101 9.2.2, 9.2.3, 9.3).

The cases are read as data; numbers and tolerances come from the file.
"""

import hashlib
import math

import numpy as np
import pytest

from labctl.uncertainty import curve_fit, gum, mcm, round_result, validate_gum

from .cases import DATA, REVIEWED_SHA256, load, make_correlation, make_inputs, make_model

CASES = load()


def test_copy_is_the_reviewed_reference():
    assert hashlib.sha256(DATA.read_bytes()).hexdigest() == REVIEWED_SHA256


class TestGumH1EndGauge:
    case = CASES["GUM-H1-end-gauge"]
    tol = case["tolerance"]
    pub = case["published"]

    def run(self, **kw):
        c = self.case
        return gum(make_model(c), make_inputs(c), make_correlation(c),
                   coverage=c["coverage_probability"], **kw)

    def test_estimate_combined_uncertainty_dof_k_U(self):
        r = self.run()
        assert r.value / 1e6 == pytest.approx(self.pub["y"]["value"], abs=self.tol["y_nm"] / 1e6)
        assert r.u == pytest.approx(self.pub["u_c"]["value"], abs=self.tol["u_c_nm"])
        assert math.floor(r.dof) == self.pub["nu_eff"]["value"]
        assert r.k == pytest.approx(self.pub["k"]["value"], abs=self.tol["k"])
        assert r.U == pytest.approx(self.pub["U"]["value"], abs=self.tol["U_nm"])  # noqa: SIM300 (U is the GUM symbol)
        assert r.coverage == 0.99
        assert r.interval == pytest.approx((r.value - r.U, r.value + r.U))

    def test_reported_as_published(self):
        # GUM H.1.6: l = 50.000 838 mm with U = 93 nm; EA-4/02 rounding of our result.
        r = self.run()
        rr = round_result(r.value, r.U)
        assert rr.value_str == "50000838"
        assert rr.U_str == "92"  # from u_c = 31.66 (GUM multiplies the rounded 32 -> 93)
        assert abs(rr.U - self.pub["U"]["value"]) <= self.tol["U_nm"]

    def test_budget_matches_table_h1(self):
        b = self.run().budget
        inter = self.pub["table_H1_intermediate"]
        assert b["d_theta"].sensitivity == pytest.approx(inter["c(d_theta)"]["value"], abs=0.5)
        assert b["d_alpha"].contribution == pytest.approx(
            inter["contribution(d_alpha)"]["value"], abs=0.05)
        assert b["l_s"].contribution == pytest.approx(inter["contribution(l_s)"]["value"],
                                                      abs=0.5)
        assert b["alpha_s"].u == pytest.approx(inter["u(alpha_s)"]["value"], abs=0.05e-6)
        assert b["d_alpha"].u == pytest.approx(inter["u(d_alpha)"]["value"], abs=0.005e-6)
        assert b["d_theta"].u == pytest.approx(inter["u(d_theta)"]["value"], abs=0.0005)
        assert b["d_theta"].dof == 2
        assert sum(row.share for row in b.rows()) == pytest.approx(1.0)
        # u(d) and nu(d) of Table H.1 from the three comparator terms
        ud = math.sqrt(sum(b[n].contribution ** 2 for n in ("d0", "d1", "d2")))
        assert ud == pytest.approx(inter["u(d)"]["value"], abs=0.05)
        assert b["theta_bar"].u ** 2 + b["Delta"].u ** 2 == pytest.approx(
            inter["u(theta)"]["value"] ** 2, rel=0.03)

    def test_reference_engine_values(self):
        ref = self.case["reference_engine_values"]
        r = self.run()
        b = r.budget
        rel = 1e-4  # our l_s is the estimate, not 5.0e7 (see the case's tolerance note)
        assert r.u == pytest.approx(ref["u_c"], rel=rel)
        assert r.dof == pytest.approx(ref["nu_eff"], rel=rel)
        assert b["d_alpha"].contribution == pytest.approx(
            ref["contribution(l_s*d_alpha*theta)"], rel=rel)
        assert b["d_theta"].contribution == pytest.approx(
            ref["contribution(l_s*alpha_s*d_theta)"], rel=rel)
        ud = math.sqrt(sum(b[n].contribution ** 2 for n in ("d0", "d1", "d2")))
        assert ud == pytest.approx(ref["u(d)"], rel=rel)

    def test_second_order_terms(self):
        r = self.run(order=2)
        assert r.order == 2
        assert r.u == pytest.approx(self.pub["u_c_second_order"]["value"],
                                    abs=self.tol["u_c_second_order_nm"])

    def test_richardson_and_central_agree(self):
        a, b = self.run(), self.run(derivative="richardson")
        assert a.u == pytest.approx(b.u, rel=1e-6)


class TestGumH3Thermometer:
    case = CASES["GUM-H3-thermometer-least-squares"]
    tol = case["tolerance"]
    pub = case["published"]

    def fit(self):
        d = self.case["data"]
        return curve_fit(np.asarray(d["t_k"]) - d["t0"], d["b_k"], degree=1)

    def test_parameters_uncertainties_correlation(self):
        fit = self.fit()
        y1, y2 = fit.params
        assert y1 == pytest.approx(self.pub["y1"]["value"], abs=self.tol["y1"])
        assert y2 == pytest.approx(self.pub["y2"]["value"], abs=self.tol["y2"])
        assert fit.u[0] == pytest.approx(self.pub["y1"]["u"], abs=self.tol["u(y1)"])
        assert fit.u[1] == pytest.approx(self.pub["y2"]["u"], abs=self.tol["u(y2)"])
        assert fit.correlation[0, 1] == pytest.approx(self.pub["r(y1,y2)"], abs=self.tol["r"])
        assert fit.s == pytest.approx(self.pub["s"]["value"], abs=0.00005)
        assert fit.dof == 9

    def test_prediction_at_30_degc(self):
        fit = self.fit()
        b30, u30 = fit.predict(30.0 - self.case["data"]["t0"])
        pub = self.pub["b(30 degC)"]
        assert b30 == pytest.approx(pub["value"], abs=self.tol["b30"])
        assert u30 == pytest.approx(pub["u"], abs=self.tol["u(b30)"])
        assert fit.dof == pub["dof"]

    def test_reference_engine_values(self):
        ref = self.case["reference_engine_values"]
        fit = self.fit()
        assert fit.params[0] == pytest.approx(ref["y1"], rel=1e-9)
        assert fit.params[1] == pytest.approx(ref["y2"], rel=1e-9)
        assert fit.u[1] == pytest.approx(ref["u(y2)"], rel=1e-9)
        assert float(fit.residuals @ fit.residuals) == pytest.approx(
            ref["sum_squared_residuals"], rel=1e-9)


@pytest.mark.parametrize("case_id", ["JCGM101-9.2.2-additive-normal",
                                     "JCGM101-9.2.3-additive-rectangular"])
class TestJcgm101Additive:
    def test_guf(self, case_id):
        c = CASES[case_id]
        pub, tol = c["published"]["GUF"], c["tolerance"]
        r = gum(make_model(c), make_inputs(c), make_correlation(c),
                coverage=c["coverage_probability"])
        assert r.value == pytest.approx(pub["y"], abs=tol["y"])
        assert r.u == pytest.approx(pub["u"], abs=tol["u"])
        assert r.interval == pytest.approx(tuple(pub["coverage_interval_95"]),
                                           abs=tol["interval_endpoints"])

    @pytest.mark.timeout(120)
    def test_adaptive_monte_carlo(self, case_id):
        c = CASES[case_id]
        pub, tol = c["published"]["MCM"], c["tolerance"]
        # Three significant digits of u = 2.00 give δ = 0.005 (JCGM 101 7.9.2), the
        # published resolution of the interval endpoints.
        r = mcm(make_model(c), make_inputs(c), make_correlation(c),
                coverage=c["coverage_probability"], rng=np.random.default_rng(20081),
                significant_digits=3)
        assert r.adaptive and r.converged
        assert r.tolerance == pytest.approx(0.005)
        assert r.value == pytest.approx(pub["y"], abs=tol["y"])
        assert r.u == pytest.approx(pub["u"], abs=tol["u"])
        assert r.interval == pytest.approx(tuple(pub["coverage_interval_95"]),
                                           abs=tol["interval_endpoints"])
        # symmetric output PDF: the shortest interval is the symmetric one (7.7.2 note)
        assert r.shortest_interval == pytest.approx(r.interval, abs=2 * tol["interval_endpoints"])


class TestJcgm101MassCalibration:
    case = CASES["JCGM101-9.3-mass-calibration"]
    tol = case["tolerance"]
    pub = case["published"]

    def test_guf_first_order(self):
        c = self.case
        r = gum(make_model(c), make_inputs(c), make_correlation(c))
        assert r.u == pytest.approx(self.pub["GUF_first_order"]["u"], abs=self.tol["GUF_u_mg"])

    def test_monte_carlo_fixed_trials(self):
        c = self.case
        r = mcm(make_model(c), make_inputs(c), make_correlation(c), trials=10**6,
                rng=np.random.default_rng(9))
        assert r.trials == 10**6 and not r.adaptive
        assert r.u == pytest.approx(self.pub["MCM"]["u"], abs=self.tol["MCM_u_mg"])

    def test_monte_carlo_adaptive_invalidates_first_order_guf(self):
        # JCGM 101 9.3.2: the first-order GUF interval is not validated by Monte Carlo.
        c = self.case
        f, x = make_model(c), make_inputs(c)
        r = mcm(f, x, rng=np.random.default_rng(10), significant_digits=2)
        assert r.converged
        assert r.u == pytest.approx(self.pub["MCM"]["u"], abs=self.tol["MCM_u_mg"])
        v = validate_gum(gum(f, x), r)
        assert not v.passed
        assert v.tolerance == pytest.approx(0.0005)  # u = 0.054 mg, two digits
