"""What procedures may ask of an instrument, by role, as ``typing.Protocol`` interfaces.

Procedures depend on these protocols only, never on a model's class, so a bench can swap a
Keysight 34465A for another DMM (or a simulator) without touching a procedure. Units are SI
plus °C and % RH, as everywhere in labctl; time is float seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Identity:
    """Who an instrument says it is (parsed ``*IDN?`` or Modbus device identification).

    Stored with every result so a reading can be traced to the serial number of the
    standard that produced it.
    """

    vendor: str
    model: str
    serial: str
    firmware: str


#: How every warning starts that an output may have been left live (run reasons, errors).
UNSAFE_MARK = "BENCH NOT CONFIRMED SAFE"


class SafeStatus(StrEnum):
    """What making an instrument safe achieved.

    ``confirmed``: its output was read back off (standby / heater off); ``no_output``: it has
    no output to switch off; ``unconfirmed``: it could not be read back off (hung, link down,
    or still live) — a person must switch it off by hand."""

    CONFIRMED = "confirmed"
    NO_OUTPUT = "no_output"
    UNCONFIRMED = "unconfirmed"


@dataclass(frozen=True)
class SafeState:
    """The outcome of :meth:`Instrument.ensure_safe` for one instrument.

    ``detail`` says in words what was done or what failed (the last error when unconfirmed).
    """

    resource: str
    status: SafeStatus
    detail: str

    @property
    def safe(self) -> bool:
        """Whether nothing is known to be left live on this instrument."""
        return self.status is not SafeStatus.UNCONFIRMED


@dataclass(frozen=True)
class EnvironmentReading:
    """One reading of the laboratory's air, in the units conditions are stated in.

    ``time`` is the timezone-aware UTC time the reading was taken; ``temperature`` in °C
    (−40 … 80), ``humidity`` relative humidity in % (0 … 100), ``pressure`` in Pa
    (50 000 … 110 000).
    """

    time: datetime
    temperature: float
    humidity: float
    pressure: float


@runtime_checkable
class Instrument(Protocol):
    """What every driver offers: identity, configuration record, safe state, lifetime."""

    @property
    def resource(self) -> str:
        """The address the instrument is reached at (VISA resource or ``modbus-tcp://``)."""
        ...

    def identify(self) -> Identity:
        """Ask the instrument who it is."""
        ...

    def snapshot(self) -> dict[str, object]:
        """The instrument's present configuration, to store with each result."""
        ...

    def make_safe(self) -> None:
        """Put the instrument into its safe state (outputs off, heater off)."""
        ...

    def ensure_safe(self) -> SafeState:
        """Make safe and confirm it by reading the output state back, with a bounded retry
        (reconnecting between attempts). Never raises for a link fault: the outcome says."""
        ...

    def close(self) -> None:
        """Make safe, then release the connection. Safe to call twice."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@runtime_checkable
class Calibrator(Instrument, Protocol):
    """A multifunction calibrator sourcing DC voltage and resistance."""

    def source_dc_voltage(self, volts: float) -> None:
        """Set the DC voltage output in V (does not switch the output on)."""
        ...

    def source_resistance(self, ohms: float) -> None:
        """Set the resistance output in Ω (does not switch the output on)."""
        ...

    def operate(self) -> None:
        """Connect the output to the terminals."""
        ...

    def standby(self) -> None:
        """Disconnect the output (the safe state)."""
        ...

    @property
    def output_enabled(self) -> bool:
        """Whether the output is in operate."""
        ...

    def output(self) -> tuple[float, str]:
        """The programmed output as (value in base unit, unit symbol ``"V"`` or ``"OHM"``)."""
        ...


@runtime_checkable
class Dmm(Instrument, Protocol):
    """A digital multimeter measuring DC voltage and 4-wire resistance."""

    def configure_dc_voltage(self, range: float | None = None, nplc: float = 10) -> None:
        """DC volts on ``range`` V (None = autorange), integrating ``nplc`` power-line cycles."""
        ...

    def configure_resistance_4w(self, range: float | None = None, nplc: float = 10) -> None:
        """4-wire Ω on ``range`` Ω (None = autorange), integrating ``nplc`` cycles."""
        ...

    def read(self) -> float:
        """Trigger and return one reading in the configured function's SI unit."""
        ...

    def read_many(self, count: int) -> npt.NDArray[np.float64]:
        """Trigger ``count`` readings (1 … 1 000 000) and return them as a float64 array."""
        ...

    @property
    def terminals(self) -> str:
        """The selected input terminals: ``"FRON"`` or ``"REAR"``."""
        ...

    @property
    def resolution(self) -> float:
        """The resolution of the present configuration, in its SI unit."""
        ...


@runtime_checkable
class AdjustableDmm(Dmm, Protocol):
    """A multimeter whose calibration can be adjusted remotely (as-found → adjust → as-left)."""

    def adjust(self, reference: float, *, security_code: str | None = None) -> None:
        """Adjust the present function and range so that the present input reads
        ``reference``: the offset near zero, else the gain."""
        ...


@runtime_checkable
class Thermometer(Instrument, Protocol):
    """A reference thermometer readout."""

    def measure(self, channel: int = 1) -> float:
        """The temperature of ``channel``'s probe in °C."""
        ...


@runtime_checkable
class EnvironmentSensor(Instrument, Protocol):
    """A room sensor for temperature, humidity and pressure."""

    def read(self) -> EnvironmentReading:
        """One reading; raises if any quantity lies outside its physical range."""
        ...


@runtime_checkable
class TemperatureSource(Instrument, Protocol):
    """A controlled temperature source (dry block, bath)."""

    @property
    def setpoint(self) -> float:
        """The control setpoint in °C."""
        ...

    @setpoint.setter
    def setpoint(self, value: float) -> None: ...

    def process_value(self) -> float:
        """The controller's own temperature reading in °C (not the true block temperature)."""
        ...

    def is_stable(self) -> bool:
        """Whether the controller reports the block settled at the setpoint."""
        ...

    def enable(self) -> None:
        """Switch control on (heat/cool towards the setpoint)."""
        ...

    def disable(self) -> None:
        """Switch control off (the safe state)."""
        ...
