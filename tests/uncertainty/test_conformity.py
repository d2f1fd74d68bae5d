"""Statements of conformity (ILAC-G8:09/2019, JCGM 106:2012)."""

import numpy as np
import pytest
from scipy import stats

from labctl.errors import UncertaintyInputError
from labctl.uncertainty import (
    DecisionRule,
    Outcome,
    decide,
    probability_of_conformance,
    test_uncertainty_ratio,
)

LIMITS = {"lower": -10.0, "upper": 10.0}
U = 0.5


@pytest.mark.parametrize(("value", "outcome"), [
    (9.9, Outcome.PASS), (10.0, Outcome.PASS), (10.1, Outcome.FAIL), (-10.2, Outcome.FAIL),
])
def test_simple_acceptance(value, outcome):
    d = decide(value, U, **LIMITS, rule="simple")
    assert d.outcome is outcome
    assert d.guard_band == 0.0
    assert d.acceptance_interval == (-10.0, 10.0)


@pytest.mark.parametrize(("value", "rule", "outcome"), [
    (9.4, DecisionRule.GUARDED_ACCEPTANCE, Outcome.PASS),
    (9.5, DecisionRule.GUARDED_ACCEPTANCE, Outcome.PASS),  # on the acceptance limit
    (9.6, DecisionRule.GUARDED_ACCEPTANCE, Outcome.FAIL),
    (-9.6, DecisionRule.GUARDED_ACCEPTANCE, Outcome.FAIL),
    (10.4, DecisionRule.GUARDED_REJECTION, Outcome.PASS),
    (10.6, DecisionRule.GUARDED_REJECTION, Outcome.FAIL),
])
def test_guarded_binary_rules(value, rule, outcome):
    d = decide(value, U, **LIMITS, rule=rule)
    assert d.outcome is outcome
    assert d.guard_band == U
    assert d.conforms is (outcome is Outcome.PASS)


def test_non_binary_four_outcomes_vectorized():
    values = np.array([9.4, 9.7, 10.3, 10.6, -9.7, -10.3, -10.6, 0.0])
    d = decide(values, U, **LIMITS, rule="non_binary")
    assert list(d.outcome) == [
        Outcome.PASS, Outcome.CONDITIONAL_PASS, Outcome.CONDITIONAL_FAIL, Outcome.FAIL,
        Outcome.CONDITIONAL_PASS, Outcome.CONDITIONAL_FAIL, Outcome.FAIL, Outcome.PASS,
    ]
    assert list(d.conforms) == [True, True, False, False, True, False, False, True]
    assert d.acceptance_interval[1] == pytest.approx([9.5] * 8)


def test_guard_factor_scales_the_guard_band():
    d = decide(9.2, U, **LIMITS, rule="guarded_acceptance", guard_factor=2.0)
    assert d.guard_band == 1.0
    assert d.outcome is Outcome.FAIL


def test_one_sided_limit():
    d = decide(np.array([4.0, 5.2]), 0.5, upper=5.0, rule="guarded_acceptance")
    assert list(d.outcome) == [Outcome.PASS, Outcome.FAIL]
    assert d.acceptance_interval[0][0] == -np.inf
    assert np.all(np.isnan(d.tur))


def test_probability_of_conformance_normal_pdf():
    # JCGM 106 7.2: p_c = Φ((T_U − y)/u) − Φ((T_L − y)/u)
    assert probability_of_conformance(10.0, 0.25, -10.0, 10.0) == pytest.approx(0.5)
    assert probability_of_conformance(9.5, 0.25, upper=10.0) == pytest.approx(
        stats.norm.cdf(2.0))
    assert probability_of_conformance(0.0, 0.25, lower=0.5) == pytest.approx(
        stats.norm.sf(2.0))
    two = probability_of_conformance(0.3, 0.4, -1.0, 1.0)
    assert two == pytest.approx(stats.norm.cdf(0.7 / 0.4) - stats.norm.cdf(-1.3 / 0.4))
    t = probability_of_conformance(9.5, 0.25, upper=10.0, dof=5)
    assert t == pytest.approx(stats.t.cdf(2.0, 5))
    d = decide(9.5, 0.5, **LIMITS, k=2.0)
    assert d.probability_of_conformance == pytest.approx(stats.norm.cdf(2.0), abs=1e-12)


def test_test_uncertainty_ratio():
    assert test_uncertainty_ratio(0.5, -10.0, 10.0) == pytest.approx(20.0)
    assert decide(0.0, 2.5, **LIMITS).tur == pytest.approx(4.0)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"value": 1.0, "U": 0.1, "rule": "lenient"}, "rule"),
    ({"value": 1.0, "U": 0.1, "lower": None, "upper": None}, "lower/upper"),
    ({"value": 1.0, "U": 0.1, "lower": 2.0, "upper": 1.0}, "upper"),
    ({"value": 1.0, "U": -0.1}, "U"),
    ({"value": float("nan"), "U": 0.1}, "value"),
    ({"value": 1.0, "U": 0.1, "guard_factor": -1.0}, "guard_factor"),
    ({"value": 1.0, "U": 0.1, "k": 0.0}, "k"),
    ({"value": [1.0, 2.0], "U": [0.1, 0.2, 0.3]}, "value"),
])
def test_bad_input(kwargs, field):
    kw = {"lower": 0.0, "upper": 5.0, **kwargs}
    with pytest.raises(UncertaintyInputError) as exc:
        decide(**kw)
    assert exc.value.field == field


def test_each_decision_rule_has_one_wording_used_by_procedures_and_certificates():
    from labctl.errors import ValidationError
    from labctl.platform.results.reporting import decision_rule_text
    from labctl.procedures.statements import check_rule

    for rule in DecisionRule:
        assert "ILAC-G8:09/2019" in rule.statement
        assert check_rule(rule.value) == rule.value
        assert decision_rule_text(rule.value) == rule.statement
    assert len({rule.statement for rule in DecisionRule}) == len(DecisionRule)
    with pytest.raises(ValidationError) as caught:
        check_rule("lenient")
    assert caught.value.field == "decision_rule"
    assert all(rule.value in caught.value.allowed for rule in DecisionRule)
