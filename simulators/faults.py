"""Faults a test can switch on an instrument at run time (from any thread).

Each attribute is read by the server at every request, so flipping one takes effect at the
next command. Plain attribute assignment is atomic in CPython, which is all the cross-thread
safety a test needs here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

#: Modbus exception codes a real device may answer with (Modbus spec §7).
MODBUS_EXCEPTION_CODES = frozenset({1, 2, 3, 4, 5, 6, 8, 10, 11})


@dataclass
class Faults:
    """Switchable faults of one simulated instrument (all off by default).

    - ``latency``: extra delay before each reply, s (≥ 0); added to the bench's global latency.
    - ``no_reply``: the instrument hangs: requests are recorded but neither executed nor
      answered, so the client times out.
    - ``drop_connection``: the server closes the connection when the next request arrives
      (every request, while set).
    - ``garble``: replies are corrupted on the wire (printable noise for SCPI, flipped
      bytes in the PDU for Modbus).
    - ``modbus_exception``: every Modbus request is answered with this exception code
      (1 … 11); ``None`` for normal answers. Ignored by SCPI instruments.
    - ``out_of_range``: readings outside the physical range, as a broken sensor reports
      (DMM: overload ``+9.9E+37``; readout: −300 °C; THP-1: −999.9 °C, −99.9 %, 0 hPa;
      DB-450 process value: 999.9 °C).
    - ``stuck_output``: the output cannot be switched off (a welded output relay, a heater
      controller that ignores the command): the calibrator accepts ``STBY`` but stays in
      operate, the DB-450 accepts control = 0 but keeps controlling. Only a read-back of the
      output state shows it.
    """

    latency: float = 0.0
    no_reply: bool = False
    drop_connection: bool = False
    garble: bool = False
    modbus_exception: int | None = None
    out_of_range: bool = False
    stuck_output: bool = False

    def __setattr__(self, name: str, value: object) -> None:
        if name == "latency" and not (
            isinstance(value, int | float) and math.isfinite(value) and value >= 0
        ):
            raise ValueError(f"faults.latency={value!r} is not allowed: expected a delay ≥ 0 s")
        if name == "modbus_exception" and value is not None and value not in MODBUS_EXCEPTION_CODES:
            raise ValueError(
                f"faults.modbus_exception={value!r} is not allowed: expected None or one of "
                f"{sorted(MODBUS_EXCEPTION_CODES)}"
            )
        if name in {"no_reply", "drop_connection", "garble", "out_of_range",
                    "stuck_output"} and not isinstance(
            value, bool
        ):
            raise ValueError(f"faults.{name}={value!r} is not allowed: expected True or False")
        super().__setattr__(name, value)

    def clear(self) -> None:
        """Switch every fault off."""
        for f in fields(self):
            setattr(self, f.name, f.default)
