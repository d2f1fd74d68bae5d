"""Scalar input to decide(): one point at a time, as a procedure judges each point."""

from labctl.uncertainty import Outcome, decide


def test_scalar_decisions_return_scalar_outcomes():
    assert decide(0.1, 0.2, -1, 1).outcome is Outcome.PASS
    assert decide(0.95, 0.2, -1, 1, rule="non_binary").outcome is Outcome.CONDITIONAL_PASS
    assert decide(1.05, 0.2, -1, 1, rule="non_binary").outcome is Outcome.CONDITIONAL_FAIL
    assert decide(0.9, 0.2, -1, 1, rule="guarded_acceptance").outcome is Outcome.FAIL
    assert decide(0.1, 0.2, -1, 1).tur == 5.0
