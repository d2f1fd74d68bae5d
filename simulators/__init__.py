"""A simulated calibration bench: real SCPI and Modbus TCP servers on 127.0.0.1.

This package never imports labctl: the simulators are written from the instruments'
manuals, not from labctl's drivers, so a driver mistake cannot be mirrored here.

Layout: ``clock`` (time), ``room`` (the lab's scriptable conditions), ``physics`` and
``truth`` (shared helpers and true-error records), ``drift`` (a standard's drift between
calibrations), ``scpi``/``registers`` (protocol-neutral device cores), ``devices/`` (one
model per instrument), ``scpi_server``/``modbus_server``
(the network side), ``bench`` (everything wired together), ``__main__`` (the CLI).
The contract with the drivers is docs/simulated-bench.md.
"""

from simulators.bench import SimulatedBench, SimulatedInstrument
from simulators.clock import Clock, ManualClock, RealClock
from simulators.drift import Drift
from simulators.faults import Faults
from simulators.room import RoomConditions, RoomProfile

__all__ = [
    "Clock",
    "Drift",
    "Faults",
    "ManualClock",
    "RealClock",
    "RoomConditions",
    "RoomProfile",
    "SimulatedBench",
    "SimulatedInstrument",
]
