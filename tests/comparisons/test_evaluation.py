"""The platform's evaluation of a comparison is the engine's on the same inputs, and the
failed-participation hook lists exactly the participants beyond the E_n threshold whose
standard is recorded (pure functions: no database)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from labctl.platform.comparisons import Design, Entry, failed_participations
from labctl.platform.comparisons import evaluate_entries as evaluate
from labctl.platform.models.comparisons import ReferenceMethod
from labctl.uncertainty import comparison as engine

WM = Design(identifier="CCEM-K4-T", method=ReferenceMethod.WEIGHTED_MEAN)

#: Five laboratories at 10 V (µV offsets from nominal); E sits far out, so the first check
#: fails and the reference is the largest consistent subset without it.
ENTRIES = [
    Entry("A", 10.0000012, 0.4e-6, dof=50, standard_id=11, standard="A-ZENER"),
    Entry("B", 10.0000009, 0.5e-6, dof=None, standard_id=12, standard="B-ZENER"),
    Entry("C", 10.0000015, 0.6e-6, dof=20, standard_id=None),
    Entry("D", 10.0000011, 0.3e-6, dof=None, standard_id=14, standard="D-ZENER"),
    Entry("E", 10.0000060, 0.5e-6, dof=30, standard_id=15, standard="E-ZENER"),
]


def test_weighted_mean_equals_the_engine_with_its_largest_consistent_subset() -> None:
    ev = evaluate(WM, ENTRIES)
    x = [e.value for e in ENTRIES]
    u = [e.u for e in ENTRIES]
    dof = [math.inf if e.dof is None else e.dof for e in ENTRIES]
    ref = engine.evaluate_comparison(x, u, dof, k=2.0)
    assert ev.first_check_passed is False and ref.first_check.passed is False
    assert ev.excluded == ("E",)
    assert ev.reference_value == ref.reference.value
    assert ev.reference_u == ref.reference.u
    assert ev.chi2 == ref.reference.check.chi2 and ev.chi2_dof == 3 and ev.consistent
    for i, p in enumerate(ev.participants):
        assert p.d == ref.doe.d[i] and p.u_d == ref.doe.u[i] and p.U_d == ref.doe.U[i]
        assert p.en == ref.doe.en[i] and p.zeta == pytest.approx(ref.doe.en[i] * 2, rel=1e-15)
        assert p.contributing == bool(ref.doe.contributing[i]) and p.z is None
    # E is correlated with nothing: its u(d) adds u(x_ref); the others' subtract it
    e = ev.participants[4]
    assert e.u_d == pytest.approx(math.hypot(0.5e-6, ev.reference_u), rel=1e-12)
    assert not e.contributing and not e.passed and abs(e.en) > 1
    assert all(p.passed for p in ev.participants[:4])


def test_assigned_value_scores_are_iso_13528s_by_the_engine() -> None:
    design = Design(identifier="PT-2026-DCV-01", method=ReferenceMethod.ASSIGNED_VALUE,
                    assigned_value=10.0, assigned_u=1e-6, sigma_pt=2e-6)
    entries = [Entry("L1", 10.0000015, 1e-6, k=2.0, standard_id=1),
               Entry("L2", 9.9999950, 0.8e-6, k=2.2, standard_id=2),
               Entry("L3", 10.0000075, 1.5e-6, k=2.0, standard_id=None)]
    ev = evaluate(design, entries)
    x = np.array([e.value for e in entries])
    u = np.array([e.u for e in entries])
    k = np.array([e.k for e in entries])
    en = engine.en_numbers(x, k * u, 10.0, 2e-6).value
    zeta = engine.zeta_scores(x, u, 10.0, 1e-6).value
    z = engine.z_scores(x, 10.0, 2e-6).value
    assert ev.reference_value == 10.0 and ev.reference_u == 1e-6 and ev.chi2 is None
    for i, p in enumerate(ev.participants):
        assert p.en == en[i] and p.zeta == zeta[i] and p.z == z[i]
        assert p.d == x[i] - 10.0 and p.U_d == 2 * math.sqrt(u[i] ** 2 + 1e-12)
    # L2: −5 µV against U = sqrt((2.2·0.8)² + 2²) µV = 2.66 µV: |En| = 1.88 > 1
    assert [p.passed for p in ev.participants] == [True, False, False]
    assert ev.participants[1].en == pytest.approx(-5e-6 / math.hypot(1.76e-6, 2e-6), rel=1e-6)


def test_the_hook_lists_exactly_the_failing_participants_with_a_standard() -> None:
    ev = evaluate(WM, ENTRIES)
    failed = failed_participations(ev)
    assert failed == [(15, ev.participants[4].en, "CCEM-K4-T")]
    assert failed[0].standard_id == 15 and failed[0].comparison == "CCEM-K4-T"


def test_the_hook_skips_a_failed_participant_without_a_standard_and_keeps_order() -> None:
    design = Design(identifier="PT-X", method=ReferenceMethod.ASSIGNED_VALUE,
                    assigned_value=1.0, assigned_u=1e-6)
    entries = [Entry("P1", 1.00002, 1e-6, standard_id=7),   # En ≈ 8.9: fails
               Entry("P2", 1.0000005, 1e-6, standard_id=8),  # En ≈ 0.22: passes
               Entry("P3", 0.99998, 1e-6, standard_id=None),  # fails, no standard
               Entry("P4", 0.99997, 1e-6, standard_id=9)]    # fails
    ev = evaluate(design, entries)
    assert [f.standard_id for f in failed_participations(ev)] == [7, 9]
    assert [round(f.en, 3) for f in failed_participations(ev)] == [
        round(ev.participants[0].en, 3), round(ev.participants[3].en, 3)]


def test_the_threshold_is_the_comparisons() -> None:
    design = Design(identifier="PT-Y", method=ReferenceMethod.ASSIGNED_VALUE,
                    assigned_value=1.0, assigned_u=1e-6, en_limit=0.1)
    ev = evaluate(design, [Entry("P1", 1.0000005, 1e-6, standard_id=3)])  # |En| ≈ 0.22
    assert [f.standard_id for f in failed_participations(ev)] == [3]
    assert failed_participations(evaluate(
        Design(identifier="PT-Y", method=ReferenceMethod.ASSIGNED_VALUE, assigned_value=1.0,
               assigned_u=1e-6), [Entry("P1", 1.0000005, 1e-6, standard_id=3)])) == []


def test_a_consistent_comparison_keeps_everyone_and_nobody_fails() -> None:
    ev = evaluate(WM, ENTRIES[:4])
    assert ev.first_check_passed and ev.excluded == () and failed_participations(ev) == []
    assert all(p.contributing for p in ev.participants)
