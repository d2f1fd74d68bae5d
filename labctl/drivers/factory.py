"""Configuration → transport + driver, and a whole bench from a TOML file.

The only place that parses a resource string. A simulator and the real instrument differ
only by the address::

    TCPIP0::192.168.1.20::5025::SOCKET      (a 34465A on the LAN)
    TCPIP0::127.0.0.1::40321::SOCKET        (its simulator)
    modbus-tcp://127.0.0.1:40322?unit=1     (a Modbus TCP device)

A bench configuration names, per role, the model, the resource and the timeout::

    [instruments.dmm]
    model = "34465A"
    resource = "TCPIP0::127.0.0.1::40321::SOCKET"
    timeout = 2.0            # s, optional (≤ 10 s for an instrument with an output)

    [retry]                  # optional, for every instrument
    attempts = 3
    deadline = 10.0
    backoff = 0.05
"""

from __future__ import annotations

import contextlib
import logging
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from labctl.drivers.base import SAFE_FAULTS, InstrumentBase
from labctl.drivers.fluke.f1594a import Fluke1594A
from labctl.drivers.fluke.f5522a import Fluke5522A
from labctl.drivers.generic.dry_block import DryBlockDB450
from labctl.drivers.generic.thp_sensor import Thp1Sensor
from labctl.drivers.keysight.k34465a import Keysight34465A
from labctl.drivers.modbus_device import ModbusInstrument
from labctl.drivers.retry import RetryPolicy
from labctl.drivers.roles import (
    UNSAFE_MARK,
    Calibrator,
    Dmm,
    EnvironmentSensor,
    TemperatureSource,
    Thermometer,
)
from labctl.drivers.scpi import ScpiInstrument
from labctl.drivers.transports.modbus import ModbusTcpTransport
from labctl.drivers.transports.visa import VisaTransport
from labctl.errors import ValidationError

_log = logging.getLogger(__name__)

#: Driver classes by model name (as ``*IDN?``/device identification reports it).
MODELS: dict[str, type[InstrumentBase]] = {
    "5522A": Fluke5522A,
    "34465A": Keysight34465A,
    "1594A": Fluke1594A,
    "THP-1": Thp1Sensor,
    "DB-450": DryBlockDB450,
}
#: What each bench role must be able to do.
ROLES: dict[str, type[Any]] = {
    "calibrator": Calibrator,
    "dmm": Dmm,
    "thermometer": Thermometer,
    "environment": EnvironmentSensor,
    "temperature_source": TemperatureSource,
}

_VISA_SOCKET = re.compile(r"^TCPIP(\d*)::([^:]+)::(\d+)::SOCKET$", re.IGNORECASE)


@dataclass(frozen=True)
class SocketAddress:
    """A raw-socket VISA resource ``TCPIP<board>::<host>::<port>::SOCKET``."""

    host: str
    port: int
    board: int = 0

    @property
    def resource(self) -> str:
        return f"TCPIP{self.board}::{self.host}::{self.port}::SOCKET"


@dataclass(frozen=True)
class ModbusAddress:
    """A Modbus TCP device ``modbus-tcp://<host>:<port>?unit=<id>`` (port 502, unit 1 default)."""

    host: str
    port: int = 502
    unit: int = 1

    @property
    def resource(self) -> str:
        return f"modbus-tcp://{self.host}:{self.port}?unit={self.unit}"


def parse_resource(resource: str) -> SocketAddress | ModbusAddress:
    """Parse a resource string; anything else → ``ValidationError`` saying what is accepted."""
    allowed = "TCPIP0::<host>::<port>::SOCKET or modbus-tcp://<host>:<port>?unit=<1…247>"
    if not isinstance(resource, str):
        raise ValidationError("resource", resource, allowed)
    text = resource.strip()
    match = _VISA_SOCKET.match(text)
    if match:
        board, host, port = match.groups()
        return SocketAddress(host=host, port=_port(resource, port), board=int(board or 0))
    if text.lower().startswith("modbus-tcp://"):
        parts = urlsplit(text)
        try:
            port = parts.port or 502
        except ValueError:
            raise ValidationError("resource", resource, allowed) from None
        query = parse_qs(parts.query)
        units = query.pop("unit", ["1"])
        if query or len(units) != 1 or not units[0].isdigit() or not parts.hostname:
            raise ValidationError("resource", resource, allowed)
        unit = int(units[0])
        if not 1 <= unit <= 247:
            raise ValidationError("resource unit", unit, "1 … 247")
        return ModbusAddress(host=parts.hostname, port=_port(resource, str(port)), unit=unit)
    raise ValidationError("resource", resource, allowed)


def _port(resource: str, text: str) -> int:
    port = int(text)
    if not 1 <= port <= 65535:
        raise ValidationError("resource port", port, "1 … 65535")
    return port


def resolve_model(name: str) -> str:
    """The :data:`MODELS` key for a model as people write it: ``"34465A"``, ``"34465a"``,
    ``"Keysight 34465A"``, ``"Fluke 5522A"`` (the vendor word is optional)."""
    allowed = "one of " + ", ".join(MODELS) + " (optionally after the vendor's name)"
    if not isinstance(name, str) or not name.strip():
        raise ValidationError("model", name, allowed)
    by_upper = {key.upper(): key for key in MODELS}
    words = name.strip().upper().split()
    for candidate in (" ".join(words), words[-1]):
        if candidate in by_upper:
            return by_upper[candidate]
    raise ValidationError("model", name, allowed)


#: What opening an instrument may fail with when it is unreachable or hung.
OPEN_FAULTS: tuple[type[Exception], ...] = (*SAFE_FAULTS, OSError)

#: Longest reply timeout, s, for an instrument with an output (calibrator, dry block): making
#: it safe takes at most about 2 × SAFE_ATTEMPTS such waits when it hangs.
OUTPUT_TIMEOUT_MAX = 10.0


@dataclass(frozen=True)
class InstrumentConfig:
    """How to reach one instrument: ``model`` (a key of :data:`MODELS`), ``resource``,
    ``timeout`` in s per reply, terminations (SCPI only)."""

    model: str
    resource: str
    timeout: float = 2.0
    write_termination: str = "\n"
    read_termination: str = "\n"
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        object.__setattr__(self, "model", resolve_model(self.model))
        address = parse_resource(self.resource)
        wants_modbus = issubclass(MODELS[self.model], ModbusInstrument)
        if wants_modbus != isinstance(address, ModbusAddress):
            kind = "modbus-tcp://…" if wants_modbus else "TCPIP0::…::SOCKET"
            raise ValidationError(f"resource of {self.model}", self.resource, f"a {kind} address")
        if isinstance(self.timeout, bool) or not isinstance(self.timeout, int | float) or not (
            0 < self.timeout <= 3600
        ):
            raise ValidationError("timeout", self.timeout, "seconds, 0 < timeout ≤ 3600")
        if MODELS[self.model].has_output and self.timeout > OUTPUT_TIMEOUT_MAX:
            # Its replies are immediate; a long timeout would only hold its safe state.
            raise ValidationError(f"timeout of {self.model}", self.timeout,
                                  f"seconds, 0 < timeout ≤ {OUTPUT_TIMEOUT_MAX:g} for an "
                                  "instrument with an output (its safe state must not wait)")
        if not isinstance(self.retry, RetryPolicy):
            raise ValidationError("retry", self.retry, "a RetryPolicy")


def open_instrument(config: InstrumentConfig, *, check_identity: bool = True) -> InstrumentBase:
    """Connect and return the driver for ``config``.

    With ``check_identity`` the instrument must identify as the configured model (a wrong
    address is caught before anything is sourced). SCPI instruments get ``*CLS`` so stale
    queue entries are not blamed on the first command. On any failure the link is closed.
    """
    address = parse_resource(config.resource)
    driver_class = MODELS[config.model]
    driver: InstrumentBase
    if isinstance(address, ModbusAddress):
        modbus = ModbusTcpTransport(address.host, address.port, unit=address.unit,
                                    timeout=config.timeout)
        modbus.open()
        driver = cast(Callable[..., InstrumentBase], driver_class)(modbus, retry=config.retry)
    else:
        visa = VisaTransport(address.resource, timeout=config.timeout,
                             write_termination=config.write_termination,
                             read_termination=config.read_termination)
        visa.open()
        driver = cast(Callable[..., InstrumentBase], driver_class)(visa, retry=config.retry)
    try:
        if isinstance(driver, ScpiInstrument):
            driver.clear_status()
        if check_identity:
            ident = driver.identify()
            if ident.model.upper() != driver_class.model.upper():
                raise ValidationError(f"instrument at {config.resource}", ident.model,
                                      f"model {driver_class.model} as configured")
    except BaseException:
        driver.transport.close()  # not close(): never command an instrument we do not know
        raise
    return driver


@dataclass(frozen=True)
class BenchConfig:
    """Instruments by role (``calibrator``, ``dmm``, ``thermometer``, ``environment``,
    ``temperature_source``, or any other name for extra instruments)."""

    instruments: Mapping[str, InstrumentConfig]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> BenchConfig:
        """From parsed TOML (see the module docstring for the layout)."""
        section = data.get("instruments")
        if not isinstance(section, Mapping) or not section:
            raise ValidationError("instruments", section, "a table of roles")
        unknown = set(data) - {"instruments", "retry"}
        if unknown:
            raise ValidationError("bench configuration", sorted(unknown),
                                  "only [instruments.<role>] and [retry]")
        retry = RetryPolicy(**data.get("retry", {}))
        instruments: dict[str, InstrumentConfig] = {}
        for role, entry in section.items():
            if not isinstance(entry, Mapping):
                raise ValidationError(f"instruments.{role}", entry, "a table")
            extra = set(entry) - {"model", "resource", "timeout", "write_termination",
                                  "read_termination"}
            if extra or "model" not in entry or "resource" not in entry:
                raise ValidationError(f"instruments.{role}", dict(entry),
                                      "model, resource, optional timeout and terminations")
            instruments[role] = InstrumentConfig(retry=retry, **entry)
        return cls(instruments)

    @classmethod
    def load(cls, path: str | Path) -> BenchConfig:
        """From a TOML file."""
        with open(path, "rb") as handle:
            return cls.from_mapping(tomllib.load(handle))

    @classmethod
    def loads(cls, text: str) -> BenchConfig:
        """From TOML text."""
        return cls.from_mapping(tomllib.loads(text))


class Bench(Mapping[str, InstrumentBase]):
    """Open drivers by role, with typed accessors for the standard roles."""

    def __init__(self, drivers: Mapping[str, InstrumentBase]) -> None:
        self._drivers = dict(drivers)

    def __getitem__(self, role: str) -> InstrumentBase:
        try:
            return self._drivers[role]
        except KeyError:
            raise ValidationError("role", role, "one of " + ", ".join(self._drivers)) from None

    def __contains__(self, role: object) -> bool:
        return role in self._drivers

    def get(self, role: str, default: Any = None) -> Any:  # Mapping.get expects a KeyError
        return self._drivers.get(role, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._drivers)

    def __len__(self) -> int:
        return len(self._drivers)

    def role(self, role: str, protocol: Any) -> Any:
        """The driver for ``role``, checked to implement ``protocol``."""
        driver = self[role]
        if not isinstance(driver, protocol):
            raise ValidationError(role, type(driver).__name__, f"a {protocol.__name__}")
        return driver

    @property
    def calibrator(self) -> Calibrator:
        return cast(Calibrator, self.role("calibrator", Calibrator))

    @property
    def dmm(self) -> Dmm:
        return cast(Dmm, self.role("dmm", Dmm))

    @property
    def thermometer(self) -> Thermometer:
        return cast(Thermometer, self.role("thermometer", Thermometer))

    @property
    def environment(self) -> EnvironmentSensor:
        return cast(EnvironmentSensor, self.role("environment", EnvironmentSensor))

    @property
    def temperature_source(self) -> TemperatureSource:
        return cast(TemperatureSource, self.role("temperature_source", TemperatureSource))

    def snapshot(self) -> dict[str, dict[str, object]]:
        """Every instrument's snapshot by role."""
        return {role: driver.snapshot() for role, driver in self._drivers.items()}


@contextlib.contextmanager
def open_bench(
    config: BenchConfig | Mapping[str, Any] | str | Path, *, check_identity: bool = True
) -> Iterator[Bench]:
    """Open every instrument of a bench; on leaving, make each safe and close it.

    ``config`` is a :class:`BenchConfig`, parsed TOML, or a path to a TOML file. If one
    instrument cannot be opened, those already open are made safe and closed before the
    error propagates. Leaving the block closes all, in reverse order, even if one fails.
    """
    if isinstance(config, str | Path):
        bench_config = BenchConfig.load(config)
    elif isinstance(config, BenchConfig):
        bench_config = config
    else:
        bench_config = BenchConfig.from_mapping(config)
    with contextlib.ExitStack() as stack:
        drivers: dict[str, InstrumentBase] = {}
        for role, instrument in bench_config.instruments.items():
            try:
                driver = open_instrument(instrument, check_identity=check_identity)
            except OPEN_FAULTS as exc:
                if MODELS[instrument.model].has_output:  # it may be live, nobody can tell
                    exc.add_note(f"{UNSAFE_MARK}: switch {role} off by hand now — "
                                 f"{instrument.resource} could not be reached, so its "
                                 "output state is unknown")
                raise
            stack.enter_context(driver)
            expected = ROLES.get(role)
            if expected is not None and not isinstance(driver, expected):
                raise ValidationError(f"instruments.{role}.model", instrument.model,
                                      f"a model that is a {expected.__name__}")
            drivers[role] = driver
        yield Bench(drivers)


__all__ = [
    "MODELS",
    "Bench",
    "BenchConfig",
    "InstrumentConfig",
    "ModbusAddress",
    "SocketAddress",
    "open_bench",
    "open_instrument",
    "parse_resource",
    "resolve_model",
]



def _conforms(
    calibrator: Fluke5522A,
    dmm: Keysight34465A,
    thermometer: Fluke1594A,
    environment: Thp1Sensor,
    temperature_source: DryBlockDB450,
) -> tuple[Calibrator, Dmm, Thermometer, EnvironmentSensor, TemperatureSource]:
    """Never called: mypy checks here that every driver satisfies its role's protocol."""
    return calibrator, dmm, thermometer, environment, temperature_source
