"""The simulated calibration bench: five instruments, one shared physical state, real servers.

``SimulatedBench`` builds the device models (seeded, sharing one room, one clock and one
lock), and serves them on 127.0.0.1 from one background thread running one asyncio loop:
SCPI over raw TCP for the calibrator, the DMM and the thermometer readout; Modbus TCP for the
environment sensor and the dry block. Addresses are in ``bench.resources`` exactly as a lab's
configuration would hold them (docs/simulated-bench.md)::

    with SimulatedBench(seed=7, clock=ManualClock()) as bench:
        bench.resources["dmm"]                  # 'TCPIP0::127.0.0.1::40123::SOCKET'
        bench.instruments["dmm"].faults.latency = 0.05
        bench.room.excursion(delta=4.0)
        bench.clock.advance(600)
        bench.truth()["calibrator"]["errors"]   # what the calibration should find
        bench.set_drift("calibrator", rate=1e-11)  # the 5522A's gain: +1e-11 per s from now
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

from simulators.clock import Clock, RealClock
from simulators.devices.calibrator_5522a import Calibrator5522A, CalibratorTruth
from simulators.devices.dmm_34465a import Dmm34465A, DmmTruth
from simulators.devices.dry_block import DryBlockDB450, DryBlockTruth, PrtTruth
from simulators.devices.readout_1594a import Readout1594A, ReadoutTruth
from simulators.devices.thp_sensor import ThpSensor, ThpTruth
from simulators.drift import Drift
from simulators.faults import Faults
from simulators.modbus_server import UNIT_ID, ModbusDeviceServer
from simulators.physics import Stimulus, seeded_rng
from simulators.room import RoomProfile
from simulators.scpi_server import ScpiServer
from simulators.truth import as_dict, merge

#: Bench roles in a fixed order (``port_base + index`` when fixed ports are asked for).
ROLES: tuple[str, ...] = ("calibrator", "dmm", "thermometer", "environment", "temperature_source")
SCPI_ROLES = frozenset({"calibrator", "dmm", "thermometer"})
MODEL_NAMES = {
    "calibrator": "Fluke 5522A",
    "dmm": "Keysight 34465A",
    "thermometer": "Fluke 1594A",
    "environment": "THP-1",
    "temperature_source": "DB-450",
}
START_TIMEOUT = 10.0  # s: binding five sockets on loopback takes milliseconds
#: Roles whose standard can drift, and the true error the drift adds to (its unit).
DRIFT_ROLES: dict[str, str] = {
    "calibrator": "relative gain of every DC voltage range (1; rate per s)",
    "thermometer": "reference probe error (°C; rate in °C per s)",
    "temperature_source": "controller sensor error (°C; rate in °C per s)",
}


@dataclass
class SimulatedInstrument:
    """One instrument of the bench: its device model, server, faults and command log."""

    role: str
    model_name: str
    model: Any
    """The device model (state, physics, ``push_error`` for SCPI instruments, ``truth()``)."""
    faults: Faults
    commands: list[str] = field(default_factory=list)
    """Every command received, in order: SCPI commands as sent (``;``-split), Modbus
    requests as ``read_holding_registers 0 2`` style records."""
    port: int = 0
    host: str = "127.0.0.1"
    server: Any = None
    drift: Drift | None = None
    """The standard's drift (see :data:`DRIFT_ROLES`); ``None`` for a role that has none."""

    @property
    def protocol(self) -> Literal["scpi", "modbus"]:
        """Wire protocol of this instrument."""
        return "scpi" if self.role in SCPI_ROLES else "modbus"

    @property
    def resource(self) -> str:
        """Address as the drivers' factory takes it (empty until the bench is started)."""
        if not self.port:
            return ""
        if self.protocol == "scpi":
            return f"TCPIP0::{self.host}::{self.port}::SOCKET"
        return f"modbus-tcp://{self.host}:{self.port}?unit={UNIT_ID}"

    def truth(self) -> dict[str, Any]:
        """The instrument's true state and errors (plain dicts)."""
        return self.model.truth()  # type: ignore[no-any-return]


class SimulatedBench:
    """A complete simulated calibration bench (context manager; ``start``/``stop`` idempotent).

    ``seed`` (int ≥ 0) fixes every true error and every noise stream; each instrument draws
    from its own generator derived from (seed, role). ``clock`` defaults to a RealClock; tests
    pass a ManualClock. Options (all keyword-only):

    - ``host`` (default ``"127.0.0.1"``), ``ports`` ({role: port}) or ``port_base`` (roles get
      ``port_base + i`` in :data:`ROLES` order); default: port 0 (the OS picks).
    - ``latency``: global delay before every reply, s, added to each instrument's own.
    - ``room``: initial conditions, ``{"temperature": °C, "humidity": %, "pressure": Pa}``.
    - ``terminals``: the DMM's FRONT/REAR switch at start, ``"FRON"`` (default) or ``"REAR"``.
    - ``drift``: ``{role: {"rate": …, "step": …, "step_at": …}}`` for the roles of
      :data:`DRIFT_ROLES`, applied from the clock's time at construction (see
      :meth:`set_drift`).
    - ``calibrator_truth``, ``dmm_truth``, ``readout_truth``, ``prt_truth``,
      ``dry_block_truth``, ``environment_truth``: explicit true errors, as the truth record or
      a mapping of the fields to override (the rest is drawn from the seed), e.g.
      ``dmm_truth={"dcv": {10.0: {"gain": 3e-6, "offset": 2e-6}}}``.
    """

    def __init__(
        self,
        seed: int = 0,
        clock: Clock | None = None,
        *,
        host: str = "127.0.0.1",
        ports: Mapping[str, int] | None = None,
        port_base: int | None = None,
        latency: float = 0.0,
        room: Mapping[str, float] | None = None,
        terminals: str = "FRON",
        calibrator_truth: CalibratorTruth | Mapping[str, Any] | None = None,
        dmm_truth: DmmTruth | Mapping[str, Any] | None = None,
        readout_truth: ReadoutTruth | Mapping[str, Any] | None = None,
        prt_truth: PrtTruth | Mapping[str, Any] | None = None,
        dry_block_truth: DryBlockTruth | Mapping[str, Any] | None = None,
        environment_truth: ThpTruth | Mapping[str, Any] | None = None,
        drift: Mapping[str, Mapping[str, float]] | None = None,
    ) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"bench seed={seed!r} is not allowed: expected an int ≥ 0")
        self.seed = seed
        self.clock: Clock = clock if clock is not None else RealClock()
        self.host = host
        self.latency = latency
        self._ports = self._port_plan(ports, port_base)
        room_options = dict(room or {})
        unknown = set(room_options) - {"temperature", "humidity", "pressure"}
        if unknown:
            raise ValueError(
                f"bench room option {sorted(unknown)} is not allowed: expected temperature, "
                "humidity, pressure"
            )
        self.room = RoomProfile(self.clock, **room_options)
        self.lock = threading.RLock()

        def room_temperature(t: float) -> float:
            return self.room.at(t).temperature

        calibrator = Calibrator5522A(seeded_rng(seed, "calibrator"), calibrator_truth, self.lock,
                                     self.clock)
        block = DryBlockDB450(
            seeded_rng(seed, "temperature_source"), self.clock, room_temperature,
            dry_block_truth, self.lock,
        )
        self.prt: PrtTruth = merge(PrtTruth.draw(seeded_rng(seed, "prt")), prt_truth, "prt_truth")

        def prt_terminals(t: float) -> Stimulus:
            return Stimulus("OHM", self.prt.resistance(block.test_well_temperature(t)))

        dmm = Dmm34465A(
            seeded_rng(seed, "dmm"), self.clock, front=calibrator.output, rear=prt_terminals,
            room_temperature=room_temperature, truth=dmm_truth, lock=self.lock,
        )
        dmm.set_terminals(terminals)
        readout = Readout1594A(
            seeded_rng(seed, "thermometer"), self.clock, block.true_temperature, readout_truth,
            self.lock,
        )
        environment = ThpSensor(
            seeded_rng(seed, "environment"), self.clock, self.room, environment_truth, self.lock
        )
        models: dict[str, Any] = {
            "calibrator": calibrator,
            "dmm": dmm,
            "thermometer": readout,
            "environment": environment,
            "temperature_source": block,
        }
        self.instruments: dict[str, SimulatedInstrument] = {
            role: SimulatedInstrument(
                role=role, model_name=MODEL_NAMES[role], model=models[role],
                faults=models[role].faults, host=host,
                drift=getattr(models[role], "drift", None),
            )
            for role in ROLES
        }
        for role, settings in (drift or {}).items():
            if not isinstance(settings, Mapping):
                raise ValueError(f"bench drift[{role!r}]={settings!r} is not allowed: expected "
                                 "a mapping of rate, step, step_at")
            unknown = set(settings) - {"rate", "step", "step_at"}
            if unknown:
                raise ValueError(f"bench drift[{role!r}] option {sorted(unknown)} is not "
                                 "allowed: expected rate, step, step_at")
            self.set_drift(role, **settings)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._state_lock = threading.Lock()

    # --- configuration ------------------------------------------------------------------

    @staticmethod
    def _port_plan(ports: Mapping[str, int] | None, port_base: int | None) -> dict[str, int]:
        if ports is not None and port_base is not None:
            raise ValueError("bench ports and port_base are not allowed together: give one")
        plan = {role: 0 for role in ROLES}
        if port_base is not None:
            if not (isinstance(port_base, int) and 1 <= port_base <= 65535 - len(ROLES)):
                raise ValueError(
                    f"bench port_base={port_base!r} is not allowed: expected 1 … "
                    f"{65535 - len(ROLES)}"
                )
            plan = {role: port_base + i for i, role in enumerate(ROLES)}
        for role, port in (ports or {}).items():
            if role not in plan:
                raise ValueError(f"bench ports[{role!r}] is not allowed: expected one of {ROLES}")
            if not (isinstance(port, int) and 0 <= port <= 65535):
                raise ValueError(
                    f"bench ports[{role!r}]={port!r} is not allowed: expected 0 … 65535"
                )
            plan[role] = port
        return plan

    @property
    def latency(self) -> float:
        """Global delay before every reply of every instrument, s (≥ 0)."""
        return self._latency

    @latency.setter
    def latency(self, value: float) -> None:
        if not (isinstance(value, int | float) and value >= 0 and value != float("inf")):
            raise ValueError(f"bench latency={value!r} is not allowed: expected a delay ≥ 0 s")
        self._latency = float(value)

    @property
    def resources(self) -> dict[str, str]:
        """Role → resource string (VISA for SCPI, ``modbus-tcp://`` for Modbus)."""
        return {role: inst.resource for role, inst in self.instruments.items()}

    @property
    def running(self) -> bool:
        """True between a successful ``start()`` and ``stop()``."""
        return self._thread is not None

    def set_dmm_terminals(self, terminals: str) -> None:
        """Flip the DMM's front-panel switch: ``"FRON"`` (calibrator) or ``"REAR"`` (PRT)."""
        self.instruments["dmm"].model.set_terminals(terminals)

    def set_drift(self, role: str, *, rate: float | None = None, step: float | None = None,
                  step_at: float | None = None) -> None:
        """Make the standard in ``role`` drift from the clock's now on (any thread, any time).

        ``rate`` per simulated second and ``step`` (at ``step_at`` s, default now) are in the
        unit :data:`DRIFT_ROLES` names: relative for the calibrator (``rate=1e-11`` is
        1 ppm in 1e5 s), °C for the readout's probe and the dry block's sensor. What the
        drift has accumulated so far is kept (a new rate bends the line, it does not jump).
        """
        inst = self.instruments.get(role)
        if inst is None or inst.drift is None:
            raise ValueError(f"bench drift role={role!r} is not allowed: expected one of "
                             f"{sorted(DRIFT_ROLES)}")
        with self.lock:
            inst.drift.set(now=self.clock.now(), rate=rate, step=step, step_at=step_at)

    def truth(self) -> dict[str, Any]:
        """Everything a test may check a measurement against, at the clock's now."""
        with self.lock:
            now = self.clock.now()
            conditions = self.room.at(now)
            block = self.instruments["temperature_source"].model
            t_block = block.test_well_temperature()
            return {
                "seed": self.seed,
                "time": now,
                "room": as_dict(conditions),
                "prt": {**as_dict(self.prt), "temperature": t_block,
                        "resistance": self.prt.resistance(t_block)},
                **{role: inst.truth() for role, inst in self.instruments.items()},
            }

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> SimulatedBench:
        """Start every server; returns when all are listening (no-op if already running)."""
        with self._state_lock:
            if self._thread is not None:
                return self
            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=self._run_loop, args=(loop,), name=f"simulated-bench-{self.seed}",
                daemon=True,
            )
            thread.start()
            self._loop, self._thread = loop, thread
            future = asyncio.run_coroutine_threadsafe(self._start_servers(), loop)
            try:
                future.result(timeout=START_TIMEOUT)
            except BaseException:
                self._shutdown()
                raise
        return self

    def stop(self) -> None:
        """Stop every server, close every connection, end the thread (no-op if stopped)."""
        with self._state_lock:
            self._shutdown()

    def _shutdown(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            if not loop.is_closed():
                future = asyncio.run_coroutine_threadsafe(self._stop_servers(), loop)
                future.result(timeout=START_TIMEOUT)
        finally:
            if not loop.is_closed():
                loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=START_TIMEOUT)
            self._loop = self._thread = None
            for inst in self.instruments.values():
                inst.port = 0
                inst.server = None

    def __enter__(self) -> SimulatedBench:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @staticmethod
    def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
            # Whatever is still pending (a request sleeping in a latency fault) is cancelled
            # and awaited, so closing the loop destroys no pending task.
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    def _global_latency(self) -> float:
        return self._latency

    async def _start_servers(self) -> None:
        for role in ROLES:
            inst = self.instruments[role]
            port = self._ports[role]
            server: ScpiServer | ModbusDeviceServer
            if inst.protocol == "scpi":
                server = ScpiServer(inst.model, inst.faults, inst.commands, self.host, port,
                                    self._global_latency)
            else:
                server = ModbusDeviceServer(inst.model, inst.commands, self.host, port,
                                            self._global_latency)
            inst.server = server
            try:
                await server.start()
            except (OSError, RuntimeError) as err:
                inst.server = None
                raise OSError(
                    f"simulated {role} could not listen on {self.host}:{port}: {err}"
                ) from err
            inst.port = server.port

    async def _stop_servers(self) -> None:
        for inst in self.instruments.values():
            if inst.server is not None:
                await inst.server.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"SimulatedBench(seed={self.seed}, {state}, clock={self.clock!r})"
