"""Scalar input to decide(): one point at a time, as a procedure judges each point."""

from labctl.uncertainty import Outcome, decide


def test_scalar_decisions_return_scalar_outcomes():
    assert decide(0.1, 0.2, -1, 1).outcome is Outcome.PASS
    assert decide(0.95, 0.2, -1, 1, rule="non_binary").outcome is Outcome.CONDITIONAL_PASS
    assert decide(1.05, 0.2, -1, 1, rule="non_binary").outcome is Outcome.CONDITIONAL_FAIL
    assert decide(0.9, 0.2, -1, 1, rule="guarded_acceptance").outcome is Outcome.FAIL
    assert decide(0.1, 0.2, -1, 1).tur == 5.0


def test_an_uncertainty_below_the_inputs_rounding_still_propagates():
    """u = 1e-22 on x = 3.5e-6 (the std() of ten identical readings) must not give NaN."""
    from labctl.uncertainty import Normal, Rectangular, gum

    r = gum(lambda a, b: a + b, {"a": Normal(-3.5e-6, 1.4e-22, dof=9),
                                 "b": Rectangular(0.0, half_width=5e-9)})
    assert r.U > 0 and r.value == -3.5e-6
    assert r.budget["a"].sensitivity == 1.0
