"""The procedures this labctl knows, by id (journaled runs name their procedure by id)."""

from __future__ import annotations

from labctl.errors import NotFoundError
from labctl.procedures.base import Procedure
from labctl.procedures.dmm_calibrator_check import DmmCalibratorCheck
from labctl.procedures.dmm_dc_voltage import DmmDcVoltage
from labctl.procedures.prt_comparison import PrtComparison
from labctl.procedures.prt_dry_block_check import PrtDryBlockCheck

PROCEDURES: dict[str, type[Procedure]] = {
    DmmDcVoltage.info.id: DmmDcVoltage,
    PrtComparison.info.id: PrtComparison,
    DmmCalibratorCheck.info.id: DmmCalibratorCheck,
    PrtDryBlockCheck.info.id: PrtDryBlockCheck,
}


def procedure_class(procedure_id: str) -> type[Procedure]:
    """The procedure class for ``procedure_id`` (raises NotFoundError naming the known ones)."""
    try:
        return PROCEDURES[procedure_id]
    except KeyError:
        raise NotFoundError("procedure", f"{procedure_id} (known: {', '.join(PROCEDURES)})"
                            ) from None
