"""Intermediate check of a multifunction calibrator (DC voltage) against a check-standard DMM."""
from labctl.procedures.dmm_calibrator_check.procedure import (
    CalibratorCheckParameters,
    CalibratorCheckPoint,
    DmmCalibratorCheck,
)

__all__ = ["CalibratorCheckParameters", "CalibratorCheckPoint", "DmmCalibratorCheck"]
