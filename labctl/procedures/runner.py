"""The runner: carries a procedure out and owns every cross-cutting duty.

- **Preconditions** before any output is applied: each standard registered, in service, in date,
  its corrections from its current certificate; the operator authorised for the procedure; a
  different person named as checker; the room in limits for the settle time. A failure refuses
  the run with the reason (on record).
- **Environment** sampled for the whole run; a breach during a point invalidates that point, the
  bench is made safe and the run holds until conditions are back in limits for the settle time,
  then the point is measured again — or the run aborts after the hold timeout.
- **Journal**: each completed point is committed before the next starts; a run stopped at any
  moment resumes from the next point (``resume``), nothing lost, nothing measured twice.
- **Safety**: every output of the bench is put in its safe state, confirmed by reading it
  back (``Instrument.ensure_safe``: bounded retry with reconnect), when a run or a resume
  opens the bench — before any check or wait — and on every way out: refusal, fault, stop,
  interrupt, defect, end. An output that cannot be confirmed off refuses or pauses the run
  with a reason starting ``BENCH NOT CONFIRMED SAFE: switch … off by hand``, stored in the
  journal; the final event records each instrument's safe state.
- **Faults** beyond the drivers' bounded retries leave the point unmeasured, the bench safe and
  the run paused with the reason; Ctrl-C (and, from ``labctl run``, SIGTERM/SIGHUP) does the
  same, at any moment including the room's settle.
- **Events** (started, point_started, point_done, point_invalidated, hold, resume, paused,
  aborted, completed) go to the journal and to listeners (CLI progress, API streams).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from labctl.drivers.roles import UNSAFE_MARK, SafeState, SafeStatus
from labctl.errors import (
    BenchNotSafeError,
    InstrumentFault,
    NotFoundError,
    PreconditionError,
    ProcedureError,
    RunAbortedError,
    RunCancelledError,
)
from labctl.procedures.base import Procedure, RunContext
from labctl.procedures.clock import Clock, SystemClock
from labctl.procedures.environment import EnvironmentMonitor, EnvironmentSample, RoomSensor
from labctl.procedures.interfaces import Journal, RegisteredStandard, RunRecord, StandardsRegister
from labctl.procedures.results import PointResult, RunEvent, RunResult
from labctl.quantities import RunStatus

log = logging.getLogger(__name__)

#: Errors that mean "the instrument could not do it": the run pauses, it does not crash.
INSTRUMENT_FAULTS = (InstrumentFault,)

IN_SERVICE = "in_service"
#: a standard whose checks signalled: the runner warns and goes on (quarantined: refused)
UNDER_INVESTIGATION = "under_investigation"


def create_run(journal: Journal, clock: Clock, procedure: Procedure, *,
               dut: Mapping[str, str], operator: str, checker: str,
               run_id: str | None = None) -> RunRecord:
    """Journal a new run of ``procedure`` (status ``created``); nothing is measured yet.

    An API puts a run on record this way before its thread starts, so that whatever happens
    next (even failing to open the bench) is on record too."""
    record = RunRecord(
        run_id=run_id or uuid.uuid4().hex,
        procedure_id=procedure.info.id,
        procedure_version=procedure.info.version,
        parameters=procedure.parameters_dict(),
        dut=dict(dut),
        operator=operator,
        checker=checker,
        status=RunStatus.CREATED,
        created=clock.utcnow(),
    )
    journal.create_run(record)
    return record


class Runner:
    """Runs procedures on one bench of instruments.

    ``instruments`` maps the procedure's role names to open drivers; ``register`` answers for
    standards and personnel; ``journal`` stores runs durably. ``clock`` is the run's time
    (real by default). ``sample_interval`` (s) is the environment sampling period;
    ``background_sampling`` keeps sampling in a thread while the runner waits on instruments
    (turn it off with a manual clock, where time moves only when the runner sleeps).
    ``listeners`` get every run event; ``sample_listeners`` every room sample (live display).
    """

    def __init__(
        self,
        *,
        instruments: Mapping[str, Any],
        register: StandardsRegister,
        journal: Journal,
        clock: Clock | None = None,
        sample_interval: float = 1.0,
        background_sampling: bool = True,
        listeners: Sequence[Callable[[RunEvent], None]] = (),
        sample_listeners: Sequence[Callable[[EnvironmentSample], None]] = (),
    ) -> None:
        self.instruments = dict(instruments)
        self.register = register
        self.journal = journal
        self.clock = clock or SystemClock()
        self.sample_interval = sample_interval
        self.background_sampling = background_sampling
        self.listeners = list(listeners)
        self.sample_listeners = list(sample_listeners)
        self._stop_requested = threading.Event()
        self.safe_state: dict[str, str] = {}
        #: True while outputs are being made safe: a caller that turns signals into
        #: exceptions (``labctl run``) defers them then, so nothing interrupts that path.
        self.in_safe_path = False

    # -- public --------------------------------------------------------------------------

    def create(self, procedure: Procedure, *, dut: Mapping[str, str], operator: str,
               checker: str, run_id: str | None = None) -> RunRecord:
        """Journal a new run (status ``created``) without starting it."""
        return create_run(self.journal, self.clock, procedure, dut=dut, operator=operator,
                          checker=checker, run_id=run_id)

    def run(self, procedure: Procedure, *, dut: Mapping[str, str], operator: str, checker: str,
            run_id: str | None = None) -> RunResult:
        """Start a new run of ``procedure`` and carry it to its end (or a pause)."""
        opening = self.make_bench_safe()  # before anything else, even before the record
        record = self.create(procedure, dut=dut, operator=operator, checker=checker,
                             run_id=run_id)
        return self._carry_out(record, procedure, opening=opening)

    def start_created(self, run_id: str, procedure: Procedure) -> RunResult:
        """Carry out a run journaled by :meth:`create` (an API starts runs this way: the run
        is on record before its thread starts, so an early failure is on record too)."""
        opening = self.make_bench_safe()
        record = self.journal.load_run(run_id)
        if record.status != RunStatus.CREATED:
            raise _with_unsafe(PreconditionError(
                "run_started", f"run {run_id} is {record.status}"), opening)
        return self._carry_out(record, procedure, opening=opening)

    def resume(self, run_id: str, catalog: Mapping[str, type[Procedure]], *,
               resumed_by: str = "") -> RunResult:
        """Continue a journaled run from its next unmeasured point.

        ``resumed_by``: who carries the rest out (default: the run's operator); they must be
        authorised for the procedure and not be the checker, and are recorded in the
        ``resumed_run`` event. The run's operator stays the one who started it."""
        opening = self.make_bench_safe()  # a killed run may have left an output live
        record = self.journal.load_run(run_id)
        if record.status == RunStatus.COMPLETED:
            raise _with_unsafe(PreconditionError(
                "run_completed", f"run {run_id} is already completed"), opening)
        cls = catalog.get(record.procedure_id)
        if cls is None:
            raise NotFoundError("procedure", record.procedure_id)
        if cls.info.version != record.procedure_version:
            raise _with_unsafe(PreconditionError(
                "procedure_changed",
                f"run {run_id} was started with {record.procedure_id} version "
                f"{record.procedure_version}; this labctl has version {cls.info.version}"),
                opening)
        procedure = cls.from_parameters(record.parameters)
        return self._carry_out(record, procedure, opening=opening,
                               resumed_by=resumed_by.strip() or record.operator)

    def request_stop(self) -> None:
        """Ask the current run to pause at the next safe moment (thread-safe)."""
        self._stop_requested.set()

    def make_bench_safe(self) -> list[tuple[str, SafeState]]:
        """Every instrument of the bench to its safe state, confirmed by read-back where the
        instrument allows it; the (role, outcome) pairs that could NOT be confirmed. Every
        outcome is kept in :attr:`safe_state` (role → status) for the run's record."""
        unsafe: list[tuple[str, SafeState]] = []
        self.safe_state = {}
        outer, self.in_safe_path = self.in_safe_path, True
        try:
            self._make_each_safe(unsafe)
        finally:
            self.in_safe_path = outer
        return unsafe

    def _make_each_safe(self, unsafe: list[tuple[str, SafeState]]) -> None:
        for role, inst in self.instruments.items():
            ensure = getattr(inst, "ensure_safe", None)
            if ensure is None:
                continue
            try:
                outcome = ensure()
            except Exception as exc:  # safety must be attempted for every output; go on
                log.exception("making %s safe failed", role)
                outcome = SafeState(str(getattr(inst, "resource", role)),
                                    SafeStatus.UNCONFIRMED, f"making it safe failed: {exc!r}")
            self.safe_state[role] = outcome.status.value
            if not outcome.safe:
                unsafe.append((role, outcome))

    # -- the run -------------------------------------------------------------------------

    def _carry_out(self, record: RunRecord, procedure: Procedure, *,
                   opening: list[tuple[str, SafeState]], resumed_by: str = "") -> RunResult:
        """The run from its checks to its end; the bench is made safe on every way out and
        the journal always ends in a final status with its reason. A stop asked for at any
        moment before (even while the bench was being opened) pauses it."""
        ctx: _Context | None = None
        status, reason = RunStatus.COMPLETED, ""
        interrupted: BaseException | None = None
        refused: PreconditionError | None = None
        failure: Exception | None = None
        data: dict[str, Any] = {}
        try:
            if opening:
                raise PreconditionError("bench_not_safe", unsafe_words(opening))
            ctx = _Context(self, record, procedure, performer=resumed_by or record.operator)
            ctx.check_preconditions()
            self.journal.record_standards(record.run_id, [
                dataclasses.asdict(s) | {"role": r} for r, s in ctx.standards.items()])
            started: dict[str, Any] = {"standards": [s.id for s in ctx.standards.values()]}
            if resumed_by:
                started["resumed_by"] = ctx.performer
            ctx.emit("resumed_run" if resumed_by or ctx.done else "started",
                     f"{procedure.info.id} {procedure.info.version}"
                     + (f", resumed by {ctx.performer}" if resumed_by else ""),
                     data=started)
            self.journal.set_status(record.run_id, RunStatus.RUNNING)
            procedure.setup(ctx)
            procedure.execute(ctx)
            missing = [p.key for p in procedure.test_points() if p.key not in ctx.done]
            if missing:
                raise ProcedureError(f"{procedure.info.id} ended without measuring {missing}")
        except PreconditionError as exc:  # the checks, or found by the procedure's setup
            status, reason, refused = RunStatus.REFUSED, str(exc), exc
            data["rule"] = exc.rule
        except RunAbortedError as exc:
            status, reason = RunStatus.ABORTED, exc.reason
        except BenchNotSafeError as exc:
            status, reason = RunStatus.PAUSED, str(exc)
        except INSTRUMENT_FAULTS as exc:
            status, reason = RunStatus.PAUSED, f"instrument fault: {exc}"
        except RunCancelledError:
            status, reason = RunStatus.PAUSED, "stopped on request"
        except KeyboardInterrupt as exc:
            status, interrupted = RunStatus.PAUSED, exc
            reason = getattr(exc, "reason", "") or "interrupted by the operator"
        except Exception as exc:  # a defect: on record, bench safe, then raised
            status, reason, failure = RunStatus.FAILED, f"{type(exc).__name__}: {exc}", exc
            log.exception("run %s failed", record.run_id)
        finally:
            unsafe = self._safe_end(ctx)
        if unsafe and UNSAFE_MARK not in reason:
            reason = f"{reason}; {unsafe_words(unsafe)}" if reason else unsafe_words(unsafe)
            data["unsafe"] = {role: dataclasses.asdict(o) for role, o in unsafe}
        elif opening:
            data["unsafe"] = {role: dataclasses.asdict(o) for role, o in opening}
        data["safe_state"] = dict(self.safe_state)
        if status == RunStatus.COMPLETED and ctx is not None:
            points = self.journal.load_run(record.run_id).points
            data["analysis"] = procedure.analyse(points, ctx)
            self.journal.record_analysis(record.run_id, data["analysis"])
        if ctx is not None:
            ctx.flush_samples()
            ctx.close_monitor()
        self.journal.set_status(record.run_id, status, reason)
        self._emit(record.run_id, status, reason, data=data)
        self._stop_requested.clear()  # this runner may carry out another run
        if refused is not None:
            raise _with_unsafe(refused, unsafe, reason=reason)
        if failure is not None:
            raise failure
        if ctx is None and interrupted is not None:  # before the run had begun
            raise interrupted
        self._record_instruments(record.run_id, ctx.identities if ctx else {},
                                 skip={role for role, _ in unsafe})
        result = self.journal.result(record.run_id)
        if interrupted is not None:
            raise interrupted
        return result

    def _record_instruments(self, run_id: str, identities: Mapping[str, Any], *,
                            skip: set[str] | frozenset[str]) -> None:
        """Each instrument's identity and snapshot into the journal, for the run's result;
        instruments in ``skip`` (not answering) are not asked for a snapshot, so a hung one
        does not hold the end of the run."""
        instruments: dict[str, dict[str, Any]] = {}
        for role, inst in self.instruments.items():
            entry: dict[str, Any] = {}
            ident = identities.get(role)
            if ident is not None:
                entry["identity"] = (dataclasses.asdict(ident) if dataclasses.is_dataclass(
                    ident) and not isinstance(ident, type) else dict(vars(ident)))
            if role in skip:
                entry["snapshot_error"] = "not read: the instrument was not answering"
                instruments[role] = entry
                continue
            try:
                entry["snapshot"] = inst.snapshot()
            except INSTRUMENT_FAULTS as exc:
                entry["snapshot_error"] = str(exc)
            instruments[role] = entry
        self.journal.record_instruments(run_id, instruments)

    def _safe_end(self, ctx: _Context | None) -> list[tuple[str, SafeState]]:
        """The procedure's own teardown, then every output of the bench confirmed safe."""
        outer, self.in_safe_path = self.in_safe_path, True
        try:
            if ctx is not None:
                ctx.safe_teardown()
            return self.make_bench_safe()
        finally:
            self.in_safe_path = outer

    def _emit(self, run_id: str, kind: str, message: str = "", *,
              point_key: str | None = None, data: dict[str, Any] | None = None) -> None:
        event = RunEvent(kind=kind, time=self.clock.utcnow(), message=message,
                         point_key=point_key, data=data or {})
        self.journal.record_event(run_id, event)
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:  # a broken display must never stop a calibration
                log.exception("run event listener failed")


def unsafe_words(unsafe: Sequence[tuple[str, SafeState]]) -> str:
    """The warning, in words a technician acts on, for outputs not confirmed safe."""
    parts = [f"{role} ({o.resource}): {o.detail}" for role, o in unsafe]
    return (f"{UNSAFE_MARK}: switch {' and '.join(r for r, _ in unsafe)} off by hand now — "
            + "; ".join(parts))


def bench_unsafe(reason: str) -> bool:
    """Whether a run's reason says an output may have been left live."""
    return UNSAFE_MARK in reason


def _with_unsafe(exc: PreconditionError, unsafe: Sequence[tuple[str, SafeState]], *,
                 reason: str | None = None) -> PreconditionError:
    """``exc``, its message extended by the unsafe-bench warning when there is one."""
    if not unsafe and reason is None:
        return exc
    message = reason if reason is not None else f"{exc}; {unsafe_words(unsafe)}"
    if message == str(exc):
        return exc
    out = PreconditionError(exc.rule, message, **exc.details)
    out.__cause__ = exc
    return out


class _Context(RunContext):
    """The runner's side of a run, handed to the procedure as its ``RunContext``."""

    def __init__(self, runner: Runner, record: RunRecord, procedure: Procedure, *,
                 performer: str) -> None:
        self.runner = runner
        self.performer = performer
        self.record = record
        self.procedure = procedure
        self.run_id = record.run_id
        self.clock = runner.clock
        self.journal = runner.journal
        self.standards: dict[str, RegisteredStandard] = {}
        self.identities: dict[str, Any] = {}
        self.done: set[str] = {p.key for p in record.points}
        self.started = self.clock.utcnow()
        self._t_start = self.clock.now()
        self._pending: list[EnvironmentSample] = []
        self._pending_lock = threading.Lock()
        self._current: tuple[str, float, datetime] | None = None
        self._committed = False
        self._invalid = False
        info = procedure.info
        self.monitor = EnvironmentMonitor(
            self.instrument(info.environment_role, RoomSensor),
            info.environment, self.clock, interval=runner.sample_interval,
            on_sample=self._on_sample,
        )
        if runner.background_sampling:
            self.monitor.start()

    # -- RunContext ------------------------------------------------------------------------

    def instrument(self, role: str, interface: Any) -> Any:
        try:
            inst = self.runner.instruments[role]
        except KeyError:
            raise PreconditionError(
                "instrument_missing",
                f"{self.procedure.info.id} needs a {role!r} instrument; the bench has "
                + ", ".join(sorted(self.runner.instruments))) from None
        return inst

    def points(self, table: Sequence[Any]) -> Iterator[Any]:
        for row in table:
            if row.key in self.done:
                continue
            while True:
                self.await_conditions()
                self._check_stop()
                self._current = (row.key, self.clock.now(), self.clock.utcnow())
                self._committed = self._invalid = False
                self.emit("point_started", row.key, point_key=row.key)
                yield row
                if self._invalid:
                    continue
                if not self._committed:
                    raise ProcedureError(f"{self.procedure.info.id} did not commit {row.key!r}")
                break

    def commit(self, result: PointResult) -> None:
        if self._current is None or self._current[0] != result.key:
            raise ProcedureError(f"commit of {result.key!r} outside its point")
        key, t0, utc0 = self._current
        self.monitor.sample_now()  # the conditions at the end of the point, not a stale sample
        t1 = self.clock.now()
        breaches = self.monitor.breaches_between(t0, t1)
        if breaches:
            self._invalid = True
            why = "; ".join(dict.fromkeys(b.describe() for b in breaches))
            self.emit("point_invalidated", f"{key}: {why}", point_key=key,
                      data={"measured_value": result.measured_value, "error": result.error})
            self.flush_samples()
            return
        conditions = self.monitor.summary(t0, t1).quantities
        result = dataclasses.replace(result, started=utc0, finished=self.clock.utcnow(),
                                     conditions=conditions)
        self.flush_samples()
        self.journal.record_point(self.run_id, result)
        self.done.add(key)
        self._committed = True
        self.emit("point_done", key, point_key=key,
                  data={"error": result.error, "U": result.U, "conformity": result.conformity})

    def is_done(self, key: str) -> bool:
        return key in self.done

    def sleep(self, seconds: float) -> None:
        """Wait on the run clock, sampling the room as time passes."""
        end = self.clock.now() + seconds
        while True:
            remaining = end - self.clock.now()
            if remaining <= 0:
                break
            self.clock.sleep(min(remaining, self.monitor.interval))
            self.monitor.poll()
            self._check_stop()

    def now(self) -> datetime:
        return self.clock.utcnow()

    def room(self) -> EnvironmentSample | None:
        return self.monitor.latest()

    def log(self, message: str) -> None:
        self.emit("log", message)

    # -- runner duties -------------------------------------------------------------------------

    def emit(self, kind: str, message: str = "", *, point_key: str | None = None,
             data: dict[str, Any] | None = None) -> None:
        self.runner._emit(self.run_id, kind, message, point_key=point_key, data=data)

    def check_preconditions(self) -> None:
        info = self.procedure.info
        at = self.clock.utcnow()
        op, checker = self.performer.strip(), self.record.checker.strip()
        if not op:
            raise PreconditionError("operator_missing", "an operator must be named")
        if not checker:
            raise PreconditionError("checker_missing", "a second person must be named as checker")
        if checker == op:
            raise PreconditionError("checker_is_operator",
                                    f"checker {checker!r} is the operator: two people are needed")
        if not self.runner.register.is_authorised(person=op, procedure_id=info.id, at=at):
            raise PreconditionError("operator_not_authorised",
                                    f"{op!r} is not authorised for {info.id} on {at.date()}")
        for role, spec in info.roles.items():
            inst = self.instrument(role, spec.interface)
            if role == info.environment_role:
                continue
            ident = inst.identify()
            self.identities[role] = ident
            if spec.kind == "dut":
                self._check_dut(role, ident)
            if spec.kind == "standard":
                self.standards[role] = self._check_standard(role, ident, at)
        self._check_environment()

    def _check_dut(self, role: str, ident: Any) -> None:
        expected = self.record.dut.get("serial_number")
        if expected and expected != ident.serial:
            raise PreconditionError(
                "dut_mismatch", f"the {role} on the bench has serial {ident.serial!r}, the run "
                f"is for serial {expected!r}")

    def _check_standard(self, role: str, ident: Any, at: datetime) -> RegisteredStandard:
        try:
            std = self.runner.register.find_standard(
                manufacturer=ident.vendor, model=ident.model, serial_number=ident.serial, at=at)
        except NotFoundError:
            raise PreconditionError(
                "standard_not_registered",
                f"{role}: {ident.vendor} {ident.model} serial {ident.serial} is not in the "
                "registry of standards") from None
        name = f"{role} {std.id} ({std.manufacturer} {std.model} s/n {std.serial_number})"
        if std.status == UNDER_INVESTIGATION:
            # a check signalled: still usable, but the technician must know (and the journal
            # keeps it with the run, for the reverse impact if the standard is then found bad)
            self.emit("warning", f"{name} is under investigation: a check of it signalled; "
                      "its results may be reviewed if it is found out of tolerance",
                      data={"standard": std.id, "status": std.status})
        elif std.status != IN_SERVICE:
            raise PreconditionError("standard_not_in_service",
                                    f"{name} is {std.status.replace('_', ' ')}",
                                    standard=std.id, status=std.status)
        if std.due_date is None or std.due_date < at.date():
            raise PreconditionError("standard_expired",
                                    f"{name} was due for calibration on {std.due_date}",
                                    standard=std.id, due=str(std.due_date))
        if not std.certificate_number:
            raise PreconditionError("standard_without_certificate", f"{name} has no certificate")
        stale = [c for c in std.corrections
                 if c.certificate_number and c.certificate_number != std.certificate_number]
        if stale:
            raise PreconditionError(
                "corrections_not_current",
                f"{name}: correction {stale[0].parameter} of {stale[0].range_label} comes from "
                f"certificate {stale[0].certificate_number}, not the current "
                f"{std.certificate_number}", standard=std.id)
        return std

    def _check_environment(self) -> None:
        limits = self.procedure.info.environment
        t0 = self.clock.now()
        self.monitor.sample_now()
        while self.clock.now() - t0 < limits.settle_time:
            if self.monitor.breaches:
                break
            self.sleep(min(self.monitor.interval, limits.settle_time))
        if self.monitor.breaches:
            why = self.monitor.breaches[-1].describe()
            raise PreconditionError("environment_out_of_limits",
                                    f"room conditions not in limits for the settle time: {why}")

    def await_conditions(self) -> None:
        """Return when the room is settled; hold (bench safe) while it is not."""
        self.monitor.poll()
        if self.monitor.settled():
            return
        limits = self.procedure.info.environment
        breaches = self.monitor.breaches
        reason = breaches[-1].describe() if breaches else "conditions not yet settled"
        self.emit("hold", reason)
        self.journal.set_status(self.run_id, RunStatus.HELD, reason)
        self._make_safe()
        t_hold = self.clock.now()
        while not self.monitor.settled():
            if self.clock.now() - t_hold > limits.hold_timeout:
                self.flush_samples()
                raise RunAbortedError(
                    self.run_id, f"conditions did not recover within {limits.hold_timeout:g} s "
                    f"({reason})")
            self.sleep(self.monitor.interval)
        self.flush_samples()
        held = self.clock.now() - t_hold
        self.emit("resume", f"conditions in limits for {limits.settle_time:g} s after a "
                  f"{held:.0f} s hold", data={"held_seconds": held})
        self.journal.set_status(self.run_id, RunStatus.RUNNING)

    def _check_stop(self) -> None:
        if self.runner._stop_requested.is_set():
            raise RunCancelledError("stop requested")

    def _make_safe(self) -> None:
        try:
            self.procedure.make_safe(self)
        except Exception:  # safety must be attempted for every output; report, go on
            log.exception("the procedure's safe state failed; checking every output")
        unsafe = self.runner.make_bench_safe()
        if unsafe:
            raise BenchNotSafeError(unsafe_words(unsafe))

    def safe_teardown(self) -> None:
        """The procedure's teardown; the runner then confirms every output safe itself."""
        try:
            self.procedure.teardown(self)
        except Exception:
            log.exception("procedure teardown failed; the runner makes every output safe")

    def _on_sample(self, sample: EnvironmentSample) -> None:
        with self._pending_lock:
            self._pending.append(sample)
        for listener in self.runner.sample_listeners:
            try:
                listener(sample)
            except Exception:  # a broken display must never stop a calibration
                log.exception("sample listener failed")

    def flush_samples(self) -> None:
        with self._pending_lock:
            batch, self._pending = self._pending, []
        if batch:
            self.journal.record_samples(self.run_id, batch)

    def close_monitor(self) -> None:
        self.monitor.stop()
