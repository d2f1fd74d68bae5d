"""DMM DC voltage calibration by direct comparison."""
from labctl.procedures.dmm_dc_voltage.procedure import DcvParameters, DcvPoint, DmmDcVoltage

__all__ = ["DcvParameters", "DcvPoint", "DmmDcVoltage"]
