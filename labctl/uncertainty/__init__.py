"""GUM uncertainty engine (JCGM 100, 101, 106; EA-4/02 rounding). Pure numpy/scipy."""

from labctl.uncertainty.reporting import RoundedResult, round_result, round_uncertainty

__all__ = ["RoundedResult", "round_result", "round_uncertainty"]
