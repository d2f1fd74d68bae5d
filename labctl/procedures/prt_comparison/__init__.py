"""PRT calibration by comparison in a dry block, with a Callendar–Van Dusen fit."""
from labctl.procedures.prt_comparison.procedure import (
    PrtComparison,
    PrtParameters,
    PrtPoint,
    cvd_resistance,
    cvd_temperature,
    fit_cvd,
)

__all__ = ["PrtComparison", "PrtParameters", "PrtPoint", "cvd_resistance", "cvd_temperature",
           "fit_cvd"]
