"""Calibration benches attached to this platform server, and runs on them through the API.

For on-line / remote metrology a server may own benches: instruments physically attached to
the machine it runs on, described by bench configuration files and listed in a benches file
(``LABCTL_BENCHES``)::

    [benches.bench-1]
    laboratory = "ACAL"            # the laboratory that owns it (its register, its people)
    config = "bench-1.toml"        # the bench configuration (roles → model, resource)
    journal = "bench-1.journal.sqlite"   # optional; relative paths are beside this file

A technician of that laboratory starts a run (``POST /api/v1/benches/{name}/runs``), follows
it (``GET /api/v1/runs/{id}/events``, server-sent events) and fetches its results; the run
itself is the same :class:`~labctl.procedures.runner.Runner` the command line uses, with the
platform as its register and the bench's own journal, in a background thread. One run per
bench at a time.
"""

from __future__ import annotations

import logging
import threading
import tomllib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from labctl.drivers.factory import BenchConfig, open_bench
from labctl.errors import ConflictError, LabctlError, NotFoundError, ValidationError
from labctl.platform.stations.seam import EmbeddedStation
from labctl.procedures.catalog import PROCEDURES, procedure_class
from labctl.procedures.clock import Clock, ManualClock, SystemClock
from labctl.procedures.journal import SqliteJournal
from labctl.procedures.results import RunEvent, RunResult
from labctl.procedures.runner import Runner, create_run
from labctl.quantities import TERMINAL_RUN_STATUSES, RunStatus

TERMINAL = TERMINAL_RUN_STATUSES
log = logging.getLogger(__name__)


@dataclass
class BenchEntry:
    """One bench the server may run calibrations on.

    ``clock``: real time by default; a simulated bench started by ``labctl serve --sim-bench``
    shares a manual clock with its simulator (simulated time, the runner alone moves it).
    """

    name: str
    laboratory_code: str
    config: BenchConfig
    journal_path: Path
    clock: Clock = field(default_factory=SystemClock)
    description: str = ""

    @property
    def simulated_time(self) -> bool:
        return isinstance(self.clock, ManualClock)


def load_benches(path: str | Path) -> dict[str, BenchEntry]:
    """Benches from a benches file (see the module docstring)."""
    path = Path(path)
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    section = data.get("benches")
    if not isinstance(section, Mapping) or not section:
        raise ValidationError(f"{path.name}: benches", section, "a [benches.<name>] table")
    out: dict[str, BenchEntry] = {}
    for name, entry in section.items():
        if not isinstance(entry, Mapping) or not {"laboratory", "config"} <= set(entry):
            raise ValidationError(f"{path.name}: benches.{name}", entry,
                                  "laboratory and config (and optionally journal)")
        config = path.parent / entry["config"]
        journal = path.parent / entry.get("journal", f"{name}.journal.sqlite")
        out[name] = BenchEntry(name, entry["laboratory"], BenchConfig.load(config), journal,
                               description=entry.get("description", ""))
    return out


@dataclass
class _Active:
    run_id: str
    bench: str
    thread: threading.Thread
    runner: Any = None
    error: str = ""
    stop_requested: bool = False  # a stop that came before the runner existed
    result: RunResult | None = None  # what the runner returned

#: How long a new start or resume waits for the previous run's thread to finish closing the
#: bench (outputs made safe, links closed) once that run is on record as ended, s.
CLOSE_WAIT = 30.0


class RunManager:
    """Starts runs on the server's benches in background threads and answers for them."""

    def __init__(self, engine: Engine, benches: Mapping[str, BenchEntry]) -> None:
        self.engine = engine
        self.benches = dict(benches)
        self._lock = threading.Lock()
        self._active: dict[str, _Active] = {}  # by bench name
        self._run_bench: dict[str, str] = {}  # run id → bench name
        self._journals: dict[str, SqliteJournal] = {}

    def bench(self, name: str) -> BenchEntry:
        try:
            return self.benches[name]
        except KeyError:
            raise NotFoundError("bench", name) from None

    def journal(self, bench: str) -> SqliteJournal:
        with self._lock:
            if bench not in self._journals:
                self._journals[bench] = SqliteJournal(self.bench(bench).journal_path)
            return self._journals[bench]

    def busy(self, bench: str) -> str | None:
        """The run id running on ``bench``, if any."""
        with self._lock:
            active = self._active.get(bench)
            return active.run_id if active and active.thread.is_alive() else None

    def bench_of(self, run_id: str) -> str:
        """Which bench a run is on (runs started before a restart: found in the journals)."""
        with self._lock:
            if run_id in self._run_bench:
                return self._run_bench[run_id]
        for name in self.benches:
            try:
                self.journal(name).status(run_id)
            except NotFoundError:
                continue
            with self._lock:
                self._run_bench[run_id] = name
            return name
        raise NotFoundError("run", run_id)

    def start(self, bench: str, *, procedure_id: str, parameters: Mapping[str, Any],
              dut: Mapping[str, str], operator: str, checker: str) -> str:
        """Start a new run in the background; returns its id at once."""
        entry = self.bench(bench)
        cls = procedure_class(procedure_id)
        for name in cls.FILE_PARAMETERS:  # no server path is ever opened for a client
            if name in parameters:
                raise ValidationError(
                    f"parameters.{name}", parameters[name],
                    "not settable over the API: the procedure's own reviewed point table "
                    "is used (select points with its other parameters, e.g. ranges)")
        procedure = cls.from_parameters(dict(parameters))  # bad parameters fail here, 422
        run_id = uuid.uuid4().hex
        if self.busy(bench):
            raise ConflictError(f"bench {bench} is busy with run {self.busy(bench)}",
                                reason="bench_busy", bench=bench, run=self.busy(bench))
        # On record before the thread starts: whatever happens next is on record too.
        create_run(self.journal(bench), entry.clock, procedure, dut=dut, operator=operator,
                   checker=checker, run_id=run_id)

        def job(runner_holder: _Active) -> Any:
            return self._runner(entry, runner_holder).start_created(run_id, procedure)

        self._launch(entry, run_id, job)
        return run_id

    def resume(self, run_id: str, *, resumed_by: str) -> str:
        """Continue a paused run on its bench in the background; ``resumed_by`` carries the
        rest out (checked by the runner as an operator is, and recorded in the journal)."""
        bench = self.bench_of(run_id)
        entry = self.bench(bench)
        status, _ = self.journal(bench).status(run_id)
        if status == RunStatus.COMPLETED:
            raise ConflictError(f"run {run_id} is completed", reason="run_state", run=run_id,
                                status="completed")

        def job(runner_holder: _Active) -> Any:
            return self._runner(entry, runner_holder).resume(run_id, PROCEDURES,
                                                             resumed_by=resumed_by)

        self._launch(entry, run_id, job)
        return run_id

    def stop(self, run_id: str) -> None:
        """Ask a running run to pause at the next safe moment."""
        bench = self.bench_of(run_id)
        with self._lock:
            active = self._active.get(bench)
        if active is None or active.run_id != run_id or not active.thread.is_alive():
            raise ConflictError(f"run {run_id} is not running", reason="run_state", run=run_id,
                                status="not running")
        active.stop_requested = True  # seen by a runner not yet made (bench still opening)
        if active.runner is not None:
            active.runner.request_stop()

    def wait(self, run_id: str, timeout: float | None = None) -> RunResult | None:
        """Block until the run's thread ends (tests, shutdown); what the runner returned
        (``None``: still running, or it ended without a result: refused, failed)."""
        bench = self.bench_of(run_id)
        with self._lock:
            active = self._active.get(bench)
        if active is None or active.run_id != run_id:
            return None
        active.thread.join(timeout)
        return None if active.thread.is_alive() else active.result

    def result(self, run_id: str) -> RunResult:
        """The run's result as its journal holds it (see
        :meth:`~labctl.procedures.journal.SqliteJournal.result`)."""
        return self.journal(self.bench_of(run_id)).result(run_id)

    def status(self, run_id: str) -> tuple[RunStatus, str]:
        """(status, reason) as journaled (a started run is journaled before it runs)."""
        return self.journal(self.bench_of(run_id)).status(run_id)

    def events(self, run_id: str, after: int = -1) -> list[tuple[int, RunEvent]]:
        """The run's events numbered from 0, those after ``after``."""
        record = self.journal(self.bench_of(run_id)).load_run(run_id)
        return [(i, e) for i, e in enumerate(record.events) if i > after]

    def close(self) -> None:
        with self._lock:
            actives = list(self._active.values())
        for active in actives:
            if active.runner is not None:
                active.runner.request_stop()
            active.thread.join(timeout=30)
        with self._lock:
            for journal in self._journals.values():
                journal.close()
            self._journals.clear()

    # -- internals -----------------------------------------------------------------------------

    def _runner(self, entry: BenchEntry, holder: _Active) -> _RunnerOnBench:
        return _RunnerOnBench(self, entry, holder)

    def _launch(self, entry: BenchEntry, run_id: str, job: Any) -> None:
        with self._lock:
            current = self._active.get(entry.name)
        if current is not None and current.thread.is_alive() and self._ended(current):
            # On record as ended, still closing the bench (making it safe): wait for that.
            current.thread.join(CLOSE_WAIT)
        with self._lock:
            current = self._active.get(entry.name)
            if current is not None and current.thread.is_alive():
                raise ConflictError(f"bench {entry.name} is busy with run {current.run_id}",
                                    reason="bench_busy", bench=entry.name, run=current.run_id)
            holder = _Active(run_id, entry.name, threading.Thread())
            thread = threading.Thread(target=self._guard, args=(holder, job), daemon=True,
                                      name=f"run-{run_id[:8]}")
            holder.thread = thread
            self._active[entry.name] = holder
            self._run_bench[run_id] = entry.name
        thread.start()

    def _ended(self, active: _Active) -> bool:
        try:
            status, _ = self.journal(active.bench).status(active.run_id)
        except NotFoundError:
            return False
        return status in TERMINAL

    def _guard(self, holder: _Active, job: Any) -> None:
        try:
            holder.result = job(holder)
        except Exception as exc:  # refused, or a fault outside the runner: on record
            if not isinstance(exc, LabctlError) or not getattr(exc, "rule", None):
                log.exception("run %s on %s failed", holder.run_id, holder.bench)
            # Notes carry what a person must know (an output that may be live): kept.
            holder.error = "; ".join([str(exc), *getattr(exc, "__notes__", ())])
            journal = self.journal(holder.bench)
            try:
                status, _ = journal.status(holder.run_id)
            except NotFoundError:
                return
            if status not in TERMINAL:
                journal.record_event(holder.run_id, RunEvent(RunStatus.FAILED, datetime.now(UTC),
                                                             holder.error))
                journal.set_status(holder.run_id, RunStatus.FAILED, holder.error)


class _RunnerOnBench:
    """Opens the bench's drivers for one run and hands the runner to the manager (stop)."""

    def __init__(self, manager: RunManager, entry: BenchEntry, holder: _Active) -> None:
        self.manager, self.entry, self.holder = manager, entry, holder

    def _go(self, call: Any) -> Any:
        register = EmbeddedStation(self.manager.engine, self.entry.laboratory_code).register()
        with open_bench(self.entry.config) as bench:
            runner = Runner(instruments=dict(bench), register=register,
                            journal=self.manager.journal(self.entry.name),
                            clock=self.entry.clock,
                            background_sampling=not self.entry.simulated_time,
                            sample_interval=10.0 if self.entry.simulated_time else 5.0)
            self.holder.runner = runner
            if self.holder.stop_requested:
                runner.request_stop()
            return call(runner)

    def run(self, procedure: Any, **kw: Any) -> Any:
        return self._go(lambda r: r.run(procedure, **kw))

    def resume(self, run_id: str, catalog: Any, *, resumed_by: str) -> Any:
        return self._go(lambda r: r.resume(run_id, catalog, resumed_by=resumed_by))

    def start_created(self, run_id: str, procedure: Any) -> Any:
        return self._go(lambda r: r.start_created(run_id, procedure))
