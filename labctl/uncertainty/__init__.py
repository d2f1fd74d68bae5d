"""GUM uncertainty engine (JCGM 100, 101, 106; EA-4/02 rounding). Pure numpy/scipy.

Arrays in, arrays out: one call evaluates N measurement points. Modules follow the GUM's words:

- :mod:`~labctl.uncertainty.distributions` — input PDFs (JCGM 101 clause 6)
- :mod:`~labctl.uncertainty.propagation` — :func:`gum`, the law of propagation (JCGM 100 5)
- :mod:`~labctl.uncertainty.montecarlo` — :func:`mcm`, adaptive Monte Carlo (JCGM 101 7, 8)
- :mod:`~labctl.uncertainty.leastsquares` — :func:`curve_fit`, calibration curves (GUM H.3)
- :mod:`~labctl.uncertainty.typea` — Type A evaluation from readings (GUM 4.2, 5.2.3)
- :mod:`~labctl.uncertainty.reporting` — :func:`round_result` (EA-4/02, ILAC-P14)
- :mod:`~labctl.uncertainty.conformity` — :func:`decide`, :func:`decide_reported` on
  reported values (JCGM 106, ILAC-G8)
- :mod:`~labctl.uncertainty.control` — :func:`evaluate_checks`, intermediate checks of a
  standard: individuals / moving-range chart (ISO 7870-2), run rules, En, tolerance, drift
- :mod:`~labctl.uncertainty.comparison` — :func:`evaluate_comparison`: reference value,
  consistency check, largest consistent subset and degrees of equivalence of a comparison
  (Cox 2002, 2007); power-moderated and arithmetic means with their degrees of equivalence
  (Pommé & Keightley 2015); En, z and zeta scores (ISO 13528)
"""

from labctl.uncertainty.comparison import (
    ArithmeticMean,
    ComparisonResult,
    ConsistencyCheck,
    ConsistentSubset,
    DegreesOfEquivalence,
    PairwiseDegreesOfEquivalence,
    PowerModeratedMean,
    Scores,
    Verdict,
    WeightedMean,
    arithmetic_mean,
    degrees_of_equivalence,
    en_numbers,
    evaluate_comparison,
    largest_consistent_subset,
    linear_degrees_of_equivalence,
    pairwise_degrees_of_equivalence,
    power_moderated_mean,
    weighted_mean,
    z_scores,
    zeta_scores,
)
from labctl.uncertainty.conformity import (
    Decision,
    DecisionRule,
    Outcome,
    ReportedDecision,
    decide,
    decide_reported,
    probability_of_conformance,
    stated_limit,
    test_uncertainty_ratio,
)
from labctl.uncertainty.control import (
    CheckEvaluation,
    CheckOutcome,
    ControlLimits,
    DriftChoice,
    DriftFit,
    DriftSource,
    RunRule,
    allowance_term,
    beyond_tolerance,
    choose_drift,
    choose_drift_term,
    drift_fit,
    drift_term,
    evaluate_checks,
    individuals_chart,
    run_rules,
)
from labctl.uncertainty.distributions import (
    Arcsine,
    Constant,
    CurvilinearTrapezoid,
    Distribution,
    Exponential,
    Gamma,
    Normal,
    Rectangular,
    StudentT,
    Trapezoidal,
    Triangular,
    dof_from_reliability,
)
from labctl.uncertainty.leastsquares import CurveFit, curve_fit
from labctl.uncertainty.montecarlo import (
    MonteCarloResult,
    Validation,
    mcm,
    numerical_tolerance,
    validate_gum,
)
from labctl.uncertainty.propagation import (
    Budget,
    BudgetRow,
    GumResult,
    coverage_factor,
    gum,
    welch_satterthwaite,
)
from labctl.uncertainty.reporting import (
    RoundedResult,
    exact_decimal,
    round_result,
    round_to_place,
    round_uncertainty,
)
from labctl.uncertainty.typea import TypeA, type_a, type_a_joint

__all__ = [
    "Arcsine",
    "ArithmeticMean",
    "Budget",
    "BudgetRow",
    "CheckEvaluation",
    "CheckOutcome",
    "ComparisonResult",
    "ConsistencyCheck",
    "ConsistentSubset",
    "Constant",
    "ControlLimits",
    "CurveFit",
    "CurvilinearTrapezoid",
    "Decision",
    "DecisionRule",
    "DegreesOfEquivalence",
    "Distribution",
    "DriftChoice",
    "DriftFit",
    "DriftSource",
    "Exponential",
    "Gamma",
    "GumResult",
    "MonteCarloResult",
    "Normal",
    "Outcome",
    "PairwiseDegreesOfEquivalence",
    "PowerModeratedMean",
    "Rectangular",
    "ReportedDecision",
    "RoundedResult",
    "RunRule",
    "Scores",
    "StudentT",
    "Trapezoidal",
    "Triangular",
    "TypeA",
    "Validation",
    "Verdict",
    "WeightedMean",
    "allowance_term",
    "arithmetic_mean",
    "beyond_tolerance",
    "choose_drift",
    "choose_drift_term",
    "coverage_factor",
    "curve_fit",
    "decide",
    "decide_reported",
    "degrees_of_equivalence",
    "dof_from_reliability",
    "drift_fit",
    "drift_term",
    "en_numbers",
    "evaluate_checks",
    "evaluate_comparison",
    "exact_decimal",
    "gum",
    "individuals_chart",
    "largest_consistent_subset",
    "linear_degrees_of_equivalence",
    "mcm",
    "numerical_tolerance",
    "pairwise_degrees_of_equivalence",
    "power_moderated_mean",
    "probability_of_conformance",
    "round_result",
    "round_to_place",
    "round_uncertainty",
    "run_rules",
    "stated_limit",
    "test_uncertainty_ratio",
    "type_a",
    "type_a_joint",
    "validate_gum",
    "weighted_mean",
    "welch_satterthwaite",
    "z_scores",
    "zeta_scores",
]
