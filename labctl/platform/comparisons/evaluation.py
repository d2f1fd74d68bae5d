"""A comparison's evaluation from its stored results, by the uncertainty engine
(:mod:`labctl.uncertainty.comparison`), and the participations that failed it.

Pure: no database. :func:`evaluate` takes what a comparison states (:class:`Design`) and
its participants' results (:class:`Entry`) and returns an :class:`Evaluation`:

* weighted mean (key, supplementary and interlaboratory comparisons): the engine's
  :func:`~labctl.uncertainty.comparison.evaluate_comparison` — weighted mean, chi-squared
  check, largest consistent subset when it fails (Cox 2002 Procedure A, Cox 2007), the
  degrees of equivalence d_i with u(d_i) (correlated with the reference for contributors)
  and U(d_i) = 2·u(d_i); E_n = d_i/U(d_i), ζ = d_i/u(d_i);
* assigned value (proficiency tests): d_i = x_i − X, u²(d_i) = u_i² + u_X², U = 2·u;
  E_n from the participant's U = k_i·u_i and U_X = 2·u_X (ISO 13528 9.7), ζ (9.6) and,
  when the scheme sets σ_pt, z (9.4).

The threshold of E_n is the comparison's (|E_n| ≤ 1 unless stated). :func:`failed_participations`
lists the participants beyond it whose standard is recorded: what opens a quality event on
that standard (the lead wires it to the quality events).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from labctl.platform.models.comparisons import ReferenceMethod
from labctl.uncertainty import comparison as engine

#: Coverage factor of the degrees of equivalence (CIPM MRA: k = 2, 95 %).
DOE_K = 2.0


@dataclass(frozen=True)
class Design:
    """What a comparison states for its evaluation."""

    identifier: str
    method: ReferenceMethod
    en_limit: float = 1.0
    assigned_value: float | None = None
    assigned_u: float | None = None
    sigma_pt: float | None = None


@dataclass(frozen=True)
class Entry:
    """One participant's result: value, standard uncertainty ``u`` (k = 1), degrees of
    freedom of u (``None``: infinite), coverage factor ``k`` of its reported U, and the
    standard it was measured with (id and identifier, when recorded)."""

    participant: str
    value: float
    u: float
    dof: int | None = None
    k: float = 2.0
    standard_id: int | None = None
    standard: str | None = None


@dataclass(frozen=True)
class ParticipantScore:
    """One participant's degree of equivalence ``d`` with ``u_d`` and ``U_d`` (k = 2), its
    scores (``en``, ``zeta``; ``z`` for a proficiency test with σ_pt, else ``None``), whether
    it formed the reference value (``contributing``) and whether |E_n| is within the
    comparison's threshold (``passed``)."""

    entry: Entry
    d: float
    u_d: float
    U_d: float
    en: float
    zeta: float
    z: float | None
    contributing: bool
    passed: bool


@dataclass(frozen=True)
class Evaluation:
    """A comparison evaluated: the reference value and its standard uncertainty, the
    chi-squared check of the results that formed it (``None`` for an assigned value), the
    first check over every result, the participants left out, and every participant's
    score in the order given."""

    design: Design
    reference_value: float
    reference_u: float
    chi2: float | None
    chi2_dof: int | None
    p_value: float | None
    consistent: bool | None
    first_check_passed: bool | None
    excluded: tuple[str, ...]
    participants: tuple[ParticipantScore, ...]
    k: float = DOE_K


class FailedParticipation(NamedTuple):
    """A participation beyond the E_n threshold, with its standard: (standard_id, E_n,
    comparison identifier)."""

    standard_id: int
    en: float
    comparison: str


def _minimum(design: Design) -> int:
    return 2 if design.method is ReferenceMethod.WEIGHTED_MEAN else 1


def evaluable(design: Design, entries: list[Entry]) -> bool:
    """Whether there are enough results: two for a weighted mean, one against an assigned
    value."""
    return len(entries) >= _minimum(design)


def evaluate(design: Design, entries: list[Entry]) -> Evaluation:
    """The evaluation of ``entries`` (see the module); raises the engine's
    :class:`~labctl.errors.UncertaintyInputError` on results it cannot take."""
    x = np.array([e.value for e in entries], dtype=float)
    u = np.array([e.u for e in entries], dtype=float)
    k = np.array([e.k for e in entries], dtype=float)
    if design.method is ReferenceMethod.WEIGHTED_MEAN:
        dof = np.array([math.inf if e.dof is None else float(e.dof) for e in entries])
        result = engine.evaluate_comparison(x, u, dof, k=DOE_K)
        ref = result.reference
        doe = result.doe
        d, u_d, U_d, en = doe.d, doe.u, doe.U, doe.en
        with np.errstate(divide="ignore", invalid="ignore"):
            zeta = np.where(u_d > 0, d / u_d, np.where(d == 0, 0.0, np.copysign(np.inf, d)))
        z: list[float | None] = [None] * len(entries)
        contributing = [bool(c) for c in doe.contributing]
        head = dict(reference_value=ref.value, reference_u=ref.u, chi2=ref.check.chi2,
                    chi2_dof=ref.check.dof, p_value=ref.check.p_value,
                    consistent=ref.check.passed, first_check_passed=result.first_check.passed,
                    excluded=tuple(entries[i].participant for i in result.excluded))
    else:
        if design.assigned_value is None or design.assigned_u is None:
            raise ValueError("an assigned-value comparison states its value and u")
        X, u_X = design.assigned_value, design.assigned_u
        d = x - X
        u_d = np.sqrt(u * u + u_X * u_X)
        U_d = DOE_K * u_d
        en = engine.en_numbers(x, k * u, X, DOE_K * u_X).value
        zeta = engine.zeta_scores(x, u, X, u_X).value
        z = [None] * len(entries) if design.sigma_pt is None else \
            [float(v) for v in engine.z_scores(x, X, design.sigma_pt).value]
        contributing = [False] * len(entries)
        head = dict(reference_value=X, reference_u=u_X, chi2=None, chi2_dof=None,
                    p_value=None, consistent=None, first_check_passed=None, excluded=())
    scores = tuple(
        ParticipantScore(entry=e, d=float(d[i]), u_d=float(u_d[i]), U_d=float(U_d[i]),
                         en=float(en[i]), zeta=float(zeta[i]), z=z[i],
                         contributing=contributing[i],
                         passed=bool(abs(float(en[i])) <= design.en_limit))
        for i, e in enumerate(entries))
    return Evaluation(design=design, participants=scores, **head)  # type: ignore[arg-type]


def failed_participations(evaluation: Evaluation) -> list[FailedParticipation]:
    """Each participant with |E_n| beyond the comparison's threshold whose standard is
    recorded, as (standard_id, E_n, comparison identifier), in the participants' order:
    what opens an event on the standard, as a failed check does."""
    return [FailedParticipation(p.entry.standard_id, p.en, evaluation.design.identifier)
            for p in evaluation.participants
            if not p.passed and p.entry.standard_id is not None]


__all__ = ["DOE_K", "Design", "Entry", "Evaluation", "FailedParticipation", "ParticipantScore",
           "evaluable", "evaluate", "failed_participations"]
