"""Intermediate check of a dry block's indication against the reference PRT and its readout."""
from labctl.procedures.prt_dry_block_check.procedure import (
    DryBlockCheckParameters,
    DryBlockCheckPoint,
    PrtDryBlockCheck,
)

__all__ = ["DryBlockCheckParameters", "DryBlockCheckPoint", "PrtDryBlockCheck"]
