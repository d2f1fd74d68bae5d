"""Every way a run ends leaves every output of the bench safe, whatever the procedure does.

A deliberately careless procedure (its own safe state does nothing) switches the calibrator
and the dry block on, then ends in a defect or an interrupt; the runner itself must put every
output of the bench off, confirm it by read-back and record the run's end.
"""

from __future__ import annotations

import numpy as np
import pytest

from labctl.drivers.roles import Calibrator, TemperatureSource
from labctl.procedures.base import RunContext
from labctl.procedures.dmm_dc_voltage import DcvParameters, DmmDcVoltage
from tests.procedures.chain import CHECKER, OPERATOR
from tests.safety._bench import SEED


class Careless(DmmDcVoltage):
    """Leaves outputs live and ends with ``ending`` at its second point."""

    ending: BaseException = RuntimeError("a defect in the procedure")

    def execute(self, ctx: RunContext) -> None:
        cal: Calibrator = ctx.instrument("calibrator", Calibrator)
        block: TemperatureSource = ctx.instrument("temperature_source", TemperatureSource)
        for n, point in enumerate(ctx.points(self.test_points())):
            cal.source_dc_voltage(point.nominal)
            cal.operate()
            block.setpoint = 150.0
            block.enable()
            if n == 1:
                raise self.ending
            ctx.sleep(1.0)
            ctx.commit(self.evaluate(point, np.array([point.nominal] * 2),
                                     1e-6, ctx.standards["calibrator"]))

    def make_safe(self, ctx: RunContext) -> None:
        """Careless: does nothing."""


def _dut(st):
    return {"manufacturer": "Keysight Technologies", "model": "34465A",
            "serial_number": st.truth["dmm"]["serial"]}


def _outputs(st) -> tuple[bool, int]:
    return (st.sim.truth()["calibrator"]["operate"],
            st.sim.instruments["temperature_source"].model.control)


@pytest.mark.timeout(120)
def test_a_defect_in_a_procedure_fails_the_run_with_the_bench_safe(station_factory):
    st = station_factory(seed=SEED)
    with pytest.raises(RuntimeError, match="a defect"):
        st.runner.run(Careless(DcvParameters(ranges=(10.0,))), dut=_dut(st),
                      operator=OPERATOR, checker=CHECKER)
    assert _outputs(st) == (False, 0)
    run = st.journal.runs()[-1]
    status, reason = st.journal.status(run["run_id"])
    assert status == "failed" and "a defect" in reason
    final = st.journal.load_run(run["run_id"]).events[-1]
    assert final.kind == "failed"
    assert final.data["safe_state"] == {"calibrator": "confirmed", "dmm": "no_output",
                                        "thermometer": "no_output", "environment": "no_output",
                                        "temperature_source": "confirmed"}


@pytest.mark.timeout(120)
def test_an_interrupt_mid_point_pauses_the_run_with_the_bench_safe(station_factory):
    st = station_factory(seed=SEED)
    careless = Careless(DcvParameters(ranges=(10.0,)))
    careless.ending = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        st.runner.run(careless, dut=_dut(st), operator=OPERATOR, checker=CHECKER)
    assert _outputs(st) == (False, 0)
    run = st.journal.runs()[-1]
    assert st.journal.status(run["run_id"]) == ("paused", "interrupted by the operator")
