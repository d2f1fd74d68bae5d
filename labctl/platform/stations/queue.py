"""Runs on benches behind station agents: the platform's side of ``labctl station serve``.

The platform never reaches a laboratory's bench; the bench's agent connects outward, announces
its bench (:func:`announce_bench`), and asks for work (:func:`claim_work`). Starting, stopping
and resuming a run through the API only writes rows (:func:`queue_start`,
:func:`request_stop`, :func:`queue_resume`): a run request in a queue the agent claims with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL (several API workers, several agents, no request
taken twice), and a stop flag the agent reads in the answer to its next progress post. The
agent runs the run with its own runner and journal and posts what it recorded
(:func:`post_progress`): events and points numbered as its journal numbers them, inserted
once whatever the number of retries, the run's status and, when it ends, its whole result.

So nothing about a run lives in an API worker's memory: any worker answers for any run, and an
agent that lost the platform for a while keeps measuring and posts the backlog later.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from labctl.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from labctl.platform import audit, notify
from labctl.platform.accounts.auth import Principal
from labctl.platform.db import insert_or_ignore
from labctl.platform.models.org import Organisation
from labctl.platform.models.runs import (
    Bench,
    BenchRun,
    RequestKind,
    RequestState,
    RunEventRow,
    RunPointRow,
    RunRequest,
)
from labctl.platform.models.stations import RunResultIn
from labctl.procedures.catalog import procedure_class
from labctl.procedures.results import RunEvent, RunResult
from labctl.quantities import TERMINAL_RUN_STATUSES, RunStatus

#: Statuses in which a run occupies its bench (queued for it, or being carried out there).
ACTIVE = frozenset({RunStatus.CREATED, RunStatus.RUNNING, RunStatus.HELD, RunStatus.STOPPING})


def _now() -> datetime:
    return datetime.now(UTC)


def run_key(run_id: str) -> str:
    """What waiters on a run's events wait on (:mod:`labctl.platform.notify`)."""
    return f"run:{run_id}"


def work_key(bench_name: str) -> str:
    """What an agent's long poll for work waits on."""
    return f"bench:{bench_name}"


# -- benches ---------------------------------------------------------------------------------


def station_of(session: Session, principal: Principal) -> Organisation:
    """The laboratory of a station token (anyone else: 403)."""
    if principal.kind != "station" or principal.station_org_id is None:
        raise PermissionDeniedError("station", "only a station token may do this")
    org = session.get(Organisation, principal.station_org_id)
    assert org is not None
    return org


def announce_bench(session: Session, principal: Principal, *, name: str, roles: Sequence[str],
                   description: str, simulated_time: bool) -> Bench:
    """The station's bench ``name`` as the platform knows it, made or updated (the same
    station announcing again after a restart); a name another station holds is a 409."""
    org = station_of(session, principal)
    bench = session.exec(select(Bench).where(Bench.name == name)).first()
    if bench is not None and bench.station_id != principal.id:
        raise ConflictError(f"bench name {name!r} is taken by another station",
                            reason="bench_name_taken", bench=name)
    if bench is None:
        assert org.id is not None
        bench = Bench(name=name, laboratory_id=org.id, station_id=principal.id)
    bench.roles = sorted(roles)
    bench.description = description
    bench.simulated_time = simulated_time
    bench.announced_at = bench.seen_at = _now()
    session.add(bench)
    audit.record(session, actor=principal.actor, action="bench.announce", entity_type="bench",
                 entity_id=name, organisation_id=org.id,
                 data={"roles": bench.roles, "simulated_time": simulated_time})
    session.commit()
    session.refresh(bench)
    return bench


def agent_bench(session: Session, name: str) -> Bench | None:
    return session.exec(select(Bench).where(Bench.name == name)).first()


def lab_benches(session: Session, laboratory_ids: set[int] | None) -> list[Bench]:
    """Agents' benches of these laboratories (``None``: all), by name."""
    query = select(Bench).order_by(col(Bench.name))
    if laboratory_ids is not None:
        query = query.where(col(Bench.laboratory_id).in_(laboratory_ids))
    return list(session.exec(query))


def busy_with(session: Session, bench: Bench) -> str | None:
    """The run occupying the bench: queued for it or being carried out there."""
    row = session.exec(select(BenchRun.run_id).where(
        BenchRun.bench_id == bench.id,
        col(BenchRun.status).in_([s.value for s in ACTIVE]))).first()
    if row is not None:
        return row
    return session.exec(select(RunRequest.run_id).where(
        RunRequest.bench_id == bench.id, RunRequest.state != RequestState.DONE)).first()


# -- what the API does -------------------------------------------------------------------------


def queue_start(session: Session, bench: Bench, *, procedure_id: str,
                parameters: Mapping[str, Any], dut: Mapping[str, str], operator: str,
                checker: str, run_id: str) -> BenchRun:
    """A new run on an agent's bench: on record (``created``) with its request queued; the
    caller audits and commits. Parameters are checked here, as an embedded bench checks
    them, so a bad one is a 422 before anything is queued."""
    cls = procedure_class(procedure_id)
    for name in cls.FILE_PARAMETERS:  # no path on the laboratory's computer from a client
        if name in parameters:
            raise ValidationError(
                f"parameters.{name}", parameters[name],
                "not settable over the API: the procedure's own reviewed point table "
                "is used (select points with its other parameters, e.g. ranges)")
    procedure = cls.from_parameters(dict(parameters))
    assert bench.id is not None
    current = busy_with(session, bench)
    if current:
        raise ConflictError(f"bench {bench.name} is busy with run {current}",
                            reason="bench_busy", bench=bench.name, run=current)
    run = BenchRun(run_id=run_id, bench_id=bench.id, laboratory_id=bench.laboratory_id,
                   procedure_id=procedure.info.id, parameters=procedure.parameters_dict(),
                   dut=dict(dut), operator=operator, checker=checker,
                   status=RunStatus.CREATED)
    session.add(run)
    session.flush()
    session.add(RunRequest(run_id=run_id, bench_id=bench.id, kind=RequestKind.START))
    notify.publish(session, work_key(bench.name))
    return run


def queue_resume(session: Session, run: BenchRun, *, resumed_by: str) -> None:
    """Ask the bench's agent to carry a paused (or failed) run on; the caller audits and
    commits. A completed run, or one still active, is a 409."""
    status = RunStatus(run.status)
    if status == RunStatus.COMPLETED:
        raise ConflictError(f"run {run.run_id} is completed", reason="run_state",
                            run=run.run_id, status="completed")
    bench = session.get(Bench, run.bench_id)
    assert bench is not None
    current = busy_with(session, bench)
    if current:
        raise ConflictError(f"bench {bench.name} is busy with run {current}",
                            reason="bench_busy", bench=bench.name, run=current)
    run.stop_requested = False
    session.add(run)
    session.add(RunRequest(run_id=run.run_id, bench_id=run.bench_id, kind=RequestKind.RESUME,
                           resumed_by=resumed_by))
    notify.publish(session, work_key(bench.name))
    notify.publish(session, run_key(run.run_id))


def request_stop(session: Session, run: BenchRun) -> None:
    """Pause the run at the next safe moment: the agent reads the flag in the answer to its
    next post (within a second while it runs). A run whose request no agent took yet is
    paused at once, nothing having been measured. Not active: 409. The caller commits."""
    open_request = session.exec(select(RunRequest).where(
        RunRequest.run_id == run.run_id, RunRequest.state != RequestState.DONE)).first()
    if open_request is not None and open_request.state == RequestState.QUEUED:
        open_request.state, open_request.done_at = RequestState.DONE, _now()
        session.add(open_request)
        if RunStatus(run.status) not in TERMINAL_RUN_STATUSES:
            run.status, run.reason = RunStatus.PAUSED, "stopped before the bench took it"
        run.updated_at = _now()
        session.add(run)
        notify.publish(session, run_key(run.run_id))
        return
    if RunStatus(run.status) not in ACTIVE and open_request is None:
        raise ConflictError(f"run {run.run_id} is not running", reason="run_state",
                            run=run.run_id, status="not running")
    run.stop_requested = True
    session.add(run)


# -- what the agent does ---------------------------------------------------------------------


@dataclass(frozen=True)
class Work:
    """A run request as the agent receives it."""

    request_id: int
    kind: RequestKind
    run_id: str
    procedure_id: str
    parameters: dict[str, Any]
    dut: dict[str, str]
    operator: str
    checker: str
    resumed_by: str

    def to_dict(self) -> dict[str, Any]:
        return {"request_id": self.request_id, "kind": self.kind.value, "run_id": self.run_id,
                "procedure_id": self.procedure_id, "parameters": self.parameters,
                "dut": self.dut, "operator": self.operator, "checker": self.checker,
                "resumed_by": self.resumed_by}


def _own_bench(session: Session, principal: Principal, name: str) -> Bench:
    station_of(session, principal)
    bench = agent_bench(session, name)
    if bench is None or bench.station_id != principal.id:
        raise NotFoundError("bench", name)  # another station's bench is not even named
    return bench


def claim_work(session: Session, principal: Principal, bench_name: str) -> Work | None:
    """The next request for the station's bench, claimed (committed); ``None`` if none.

    A request the station claimed before and has not finished (the agent restarted) comes
    first, again: the agent's journal tells it whether to start or resume. Then the oldest
    queued one, locked with ``SKIP LOCKED`` so two workers never hand out the same request."""
    bench = _own_bench(session, principal, bench_name)
    request = session.exec(select(RunRequest).where(
        RunRequest.bench_id == bench.id, RunRequest.state == RequestState.CLAIMED
    ).order_by(col(RunRequest.id))).first()
    if request is None:
        request = session.exec(select(RunRequest).where(
            RunRequest.bench_id == bench.id, RunRequest.state == RequestState.QUEUED
        ).order_by(col(RunRequest.id)).limit(1).with_for_update(skip_locked=True)).first()
        if request is not None:
            request.state, request.claimed_at = RequestState.CLAIMED, _now()
            session.add(request)
    bench.seen_at = _now()
    session.add(bench)
    work = None
    if request is not None:
        run = session.get(BenchRun, request.run_id)
        assert run is not None and request.id is not None
        work = Work(request.id, RequestKind(request.kind), run.run_id, run.procedure_id,
                    dict(run.parameters), dict(run.dut), run.operator, run.checker,
                    request.resumed_by)
    session.commit()
    return work


@dataclass(frozen=True)
class Progress:
    """What the platform holds of a run after a post, and whether a stop was asked for."""

    run_id: str
    events_stored: int  # events 0 … events_stored - 1 are on record
    points_stored: int
    status: RunStatus
    stop_requested: bool

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "events_stored": self.events_stored,
                "points_stored": self.points_stored, "status": self.status.value,
                "stop_requested": self.stop_requested}


def _insert_ignoring(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    session.execute(insert_or_ignore(session, model).values(rows).on_conflict_do_nothing())


def _count(session: Session, model: Any, run_id: str) -> int:
    return int(session.execute(sa.select(sa.func.count()).select_from(model).where(
        model.run_id == run_id)).scalar_one())


def post_progress(session: Session, principal: Principal, run_id: str, *,
                  events: Sequence[Mapping[str, Any]], points: Sequence[Mapping[str, Any]],
                  status: RunStatus, reason: str, result: Mapping[str, Any] | None) -> Progress:
    """Store what the agent's journal recorded of a run on the station's bench.

    ``events`` and ``points``: ``{"seq", ...}`` as the journal numbers them; those already on
    record are skipped, so a retry inserts nothing twice. ``status``/``reason``: as journaled.
    ``result``: the whole ``RunResult.to_dict()`` once the run has ended (checked field by
    field as a posted run is when completed). The run's end is audited once per end."""
    station_of(session, principal)
    run = session.get(BenchRun, run_id)
    bench = session.get(Bench, run.bench_id) if run is not None else None
    if run is None or bench is None or bench.station_id != principal.id:
        raise NotFoundError("run", run_id)
    if result is not None:
        if not status.terminal:
            raise ValidationError("result", "(a result)", "only for an ended run (status "
                                  "completed, paused, aborted, refused or failed)")
        if result.get("run_id") != run_id or result.get("status") != status.value:
            raise ValidationError("result.run_id", result.get("run_id"),
                                  f"this run ({run_id}) with status {status.value}")
        if status == RunStatus.COMPLETED:
            RunResultIn.model_validate(dict(result))  # a 422 naming the field
        else:
            RunResult.from_dict(dict(result))
    _insert_ignoring(session, RunEventRow, [
        {"run_id": run_id, "seq": int(e["seq"]), "kind": str(e["kind"]),
         "data": dict(e["data"])} for e in events])
    _insert_ignoring(session, RunPointRow, [
        {"run_id": run_id, "seq": int(p["seq"]), "key": str(p["key"]),
         "data": dict(p["data"])} for p in points])
    was = RunStatus(run.status)
    run.points_done = _count(session, RunPointRow, run_id)
    run.status, run.reason, run.updated_at = status, reason, _now()
    if result is not None:
        run.result = dict(result)
    bench.seen_at = _now()
    ended = status.terminal and (not was.terminal or was != status)
    if status.terminal:
        run.stop_requested = False
        for request in session.exec(select(RunRequest).where(
                RunRequest.run_id == run_id, RunRequest.state == RequestState.CLAIMED)):
            request.state, request.done_at = RequestState.DONE, _now()
            session.add(request)
    session.add(run)
    session.add(bench)
    notify.publish(session, run_key(run_id))
    if ended:
        audit.record(session, actor=principal.actor, action="run.ended", entity_type="run",
                     entity_id=run_id, organisation_id=run.laboratory_id,
                     data={"bench": bench.name, "status": status.value, "reason": reason,
                           "points": run.points_done})
    session.commit()
    return Progress(run_id, _count(session, RunEventRow, run_id), run.points_done,
                    RunStatus(run.status), run.stop_requested)


# -- reading ---------------------------------------------------------------------------------


def agent_run(session: Session, run_id: str) -> BenchRun | None:
    return session.get(BenchRun, run_id)


def run_events(session: Session, run_id: str, after: int = -1) -> list[tuple[int, RunEvent]]:
    """The run's events numbered from 0, those after ``after`` (the SSE replay source)."""
    rows = session.exec(select(RunEventRow).where(
        RunEventRow.run_id == run_id, RunEventRow.seq > after).order_by(col(RunEventRow.seq)))
    return [(row.seq, RunEvent.from_dict(row.data)) for row in rows]


def run_points(session: Session, run_id: str) -> list[dict[str, Any]]:
    rows = session.exec(select(RunPointRow).where(RunPointRow.run_id == run_id)
                        .order_by(col(RunPointRow.seq)))
    return [row.data for row in rows]


def open_request(session: Session, run_id: str) -> bool:
    """Whether a request for the run is still waiting or being carried out."""
    return session.exec(select(RunRequest.id).where(
        RunRequest.run_id == run_id, RunRequest.state != RequestState.DONE)).first() is not None


def stored_result(run: BenchRun) -> RunResult:
    """The run's result as its agent posted it when it last ended (409 before)."""
    if run.result is None:
        raise ConflictError(f"run {run.run_id} is {run.status}: its result is posted by the "
                            "bench's agent when it ends", reason="run_state", run=run.run_id,
                            status=run.status)
    return RunResult.from_dict(run.result)
