"""Routes: calibration runs on benches (on-line / remote metrology).

A bench is either the server's own (``LABCTL_BENCHES``: instruments attached to the machine
the server runs on, driven in a thread by :class:`RunManager`) or a laboratory's behind its
station agent (``labctl station serve``: the run is queued in the database and the agent
carries it out, :mod:`labctl.platform.stations.queue`). Every operation below works the same
on both; for an agent's bench nothing is kept in this process, so any API worker answers.

Start a run (a technician of the bench's laboratory, who becomes its operator), follow it as
server-sent events, stop or resume it, fetch its result (the journal's, the one the runner
returns), and turn a completed run into a draft certificate with its points posted
(idempotent on the run id) or, for a check run, file its checks on the checked standard's
control charts (``/runs/{run_id}/checks``).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict
from pydantic import Field as PField
from sqlmodel import Session

from labctl import quantities
from labctl.errors import ConflictError, NotFoundError
from labctl.platform import audit, certificates, quality
from labctl.platform.accounts import policy
from labctl.platform.accounts.auth import Principal, require_any_role, require_role
from labctl.platform.accounts.organisations import org_by_code
from labctl.platform.db import read_engine
from labctl.platform.models.base import Role
from labctl.platform.models.certificates import CertificatePublic
from labctl.platform.models.org import Organisation, User
from labctl.platform.models.quality import FiledChecks
from labctl.platform.models.runs import Bench, BenchRun
from labctl.platform.routes.deps import (
    AUTHED,
    WRITE,
    PrincipalDep,
    ReadSessionDep,
    SessionDep,
    WriterDep,
    get_engine,
)
from labctl.platform.stations import queue
from labctl.platform.stations.benches import TERMINAL, RunManager
from labctl.platform.stations.drafts import draft_from_run
from labctl.procedures.catalog import PROCEDURES
from labctl.procedures.runner import bench_unsafe

router = APIRouter(prefix="/api/v1", tags=["runs"])
STAFF = (Role.TECHNICIAN, Role.CHECKER, Role.APPROVER, Role.ADMIN)


class BenchPublic(BaseModel):
    name: str
    laboratory_code: str
    description: str
    roles: list[str]
    busy_with: str | None
    simulated_time: bool


class RunStart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    procedure: str = PField(examples=["dmm-dcv-direct"])
    parameters: dict[str, Any] = PField(default_factory=dict)
    dut: dict[str, str] = PField(description="manufacturer, model, serial_number, identifier")
    checker: str = PField(min_length=1, description="Username of the second person")


class RunStarted(BaseModel):
    run_id: str
    bench: str
    status_url: str
    events_url: str


class RunStatus(BaseModel):
    run_id: str
    bench: str
    procedure_id: str
    status: quantities.RunStatus
    reason: str
    bench_safe: bool = PField(description=(
        "False when an output could not be confirmed off when the run ended: the reason "
        "says which, and a person must switch it off by hand"))
    operator: str = PField(description="Who started the run")
    resumed_by: list[str] = PField(default_factory=list, description=(
        "Who resumed it, in order (each was authorised for the procedure)"))
    checker: str
    points_done: int
    points: list[dict[str, Any]]


class CertifyRun(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_name: str = PField(min_length=1, max_length=200)
    customer_code: str | None = None
    item_description: str = PField(min_length=1, max_length=300)
    method: str = PField(min_length=1, max_length=300)
    location: str = PField(min_length=1, max_length=300)
    decision_rule: str | None = PField(default=None, max_length=32, description=(
        "Accepted for compatibility: the certificate states the run's own decision rule; "
        "naming another is refused (422)"))


def _manager(request: Request) -> RunManager:
    manager: RunManager | None = getattr(request.app.state, "runs", None)
    if manager is None:
        raise NotFoundError("bench", "(this server has no benches)")
    return manager


def _lab_id(session: Any, manager: RunManager, bench: str) -> int:
    org = org_by_code(session, manager.bench(bench).laboratory_code)
    assert org.id is not None
    return org.id


def _username(session: Any, principal: Principal) -> str:
    user = session.get(User, principal.user_id) if principal.user_id else None
    if user is None:
        raise NotFoundError("user", principal.name)
    return str(user.username)


@router.get("/benches", response_model=list[BenchPublic], responses=AUTHED)
def list_benches(request: Request, principal: PrincipalDep,
                 session: ReadSessionDep) -> list[BenchPublic]:
    """The benches of the caller's laboratories (the server's own, then the agents')."""
    manager: RunManager | None = getattr(request.app.state, "runs", None)
    out = []
    for name, entry in (manager.benches.items() if manager is not None else ()):
        assert manager is not None
        lab = org_by_code(session, entry.laboratory_code)
        if principal.is_superuser or any(org == lab.id for org, _ in principal.roles):
            out.append(BenchPublic(name=name, laboratory_code=entry.laboratory_code,
                                   description=entry.description,
                                   roles=sorted(entry.config.instruments),
                                   busy_with=manager.busy(name),
                                   simulated_time=entry.simulated_time))
    labs = None if principal.is_superuser else {org for org, _ in principal.roles}
    for bench in queue.lab_benches(session, labs):
        holder = session.get(Organisation, bench.laboratory_id)
        assert holder is not None
        out.append(BenchPublic(name=bench.name, laboratory_code=holder.code,
                               description=bench.description, roles=bench.roles,
                               busy_with=queue.busy_with(session, bench),
                               simulated_time=bench.simulated_time))
    return out


@router.post("/benches/{bench}/runs", response_model=RunStarted, status_code=202,
             responses=WRITE)
def start_run(bench: str, body: RunStart, request: Request, principal: WriterDep,
              session: SessionDep) -> RunStarted:
    """Start a calibration on the bench; the caller (a technician there) is its operator.

    Preconditions (standards, authorisation, checker, room) are the runner's: a refused run
    shows as status ``refused`` with the reason."""
    agent = queue.agent_bench(session, bench)
    if agent is not None:
        lab = session.get(Organisation, agent.laboratory_id)
        assert lab is not None
        require_role(session, principal, Role.TECHNICIAN, agent.laboratory_id,
                     action="run.start")
        operator = _username(session, principal)
        policy.run_people(session, lab, operator=operator, checker=body.checker, field="body")
        run_id = uuid.uuid4().hex
        queue.queue_start(session, agent, procedure_id=body.procedure,
                          parameters=body.parameters, dut=body.dut, operator=operator,
                          checker=body.checker, run_id=run_id)
        audit.record(session, actor=principal.actor, action="run.start", entity_type="run",
                     entity_id=run_id, organisation_id=agent.laboratory_id,
                     data={"bench": bench, "procedure": body.procedure, "agent": True,
                           "parameters": body.parameters, "checker": body.checker})
        session.commit()
        return RunStarted(run_id=run_id, bench=bench, status_url=f"/api/v1/runs/{run_id}",
                          events_url=f"/api/v1/runs/{run_id}/events")
    manager = _manager(request)
    lab = org_by_code(session, manager.bench(bench).laboratory_code)
    require_role(session, principal, Role.TECHNICIAN, _lab_id(session, manager, bench),
                 action="run.start")
    policy.run_people(session, lab, operator=_username(session, principal),
                      checker=body.checker, field="body")
    run_id = manager.start(bench, procedure_id=body.procedure, parameters=body.parameters,
                           dut=body.dut, operator=_username(session, principal),
                           checker=body.checker)
    audit.record(session, actor=principal.actor, action="run.start", entity_type="run",
                 entity_id=run_id, organisation_id=_lab_id(session, manager, bench),
                 data={"bench": bench, "procedure": body.procedure,
                       "parameters": body.parameters, "checker": body.checker})
    session.commit()
    return RunStarted(run_id=run_id, bench=bench, status_url=f"/api/v1/runs/{run_id}",
                      events_url=f"/api/v1/runs/{run_id}/events")


def _agent_run(session: Any, principal: Principal, run_id: str) -> BenchRun | None:
    """The run if it is on an agent's bench (after the read rule), else ``None``."""
    run = queue.agent_run(session, run_id)
    if run is not None:
        require_any_role(session, principal, STAFF, run.laboratory_id, action="run.read")
    return run


def org_code(session: Any, organisation_id: int) -> str:
    org = session.get(Organisation, organisation_id)
    assert org is not None
    return str(org.code)


def _agent_bench_name(session: Any, run: BenchRun) -> str:
    bench = session.get(Bench, run.bench_id)
    assert bench is not None
    return str(bench.name)


def _readable(request: Request, session: Any, principal: Principal, run_id: str
              ) -> tuple[RunManager, str]:
    if getattr(request.app.state, "runs", None) is None:
        raise NotFoundError("run", run_id)
    manager = _manager(request)
    bench = manager.bench_of(run_id)
    require_any_role(session, principal, STAFF, _lab_id(session, manager, bench),
                     action="run.read")
    return manager, bench


@router.get("/runs/{run_id}", response_model=RunStatus, responses=AUTHED)
def run_status(run_id: str, request: Request, principal: PrincipalDep,
               session: ReadSessionDep) -> RunStatus:
    """Where a run stands, with every point committed so far."""
    agent = _agent_run(session, principal, run_id)
    if agent is not None:
        resumers = [str(e.data["resumed_by"]) for _, e in queue.run_events(session, run_id)
                    if e.kind == "resumed_run" and e.data.get("resumed_by")]
        return RunStatus(run_id=run_id, bench=_agent_bench_name(session, agent),
                         procedure_id=agent.procedure_id,
                         status=quantities.RunStatus(agent.status),
                         reason=agent.reason, bench_safe=not bench_unsafe(agent.reason),
                         operator=agent.operator, resumed_by=resumers, checker=agent.checker,
                         points_done=agent.points_done,
                         points=queue.run_points(session, run_id))
    manager, bench = _readable(request, session, principal, run_id)
    status, reason = manager.status(run_id)
    record = manager.journal(bench).load_run(run_id)
    resumers = [str(e.data["resumed_by"]) for e in record.events
                if e.kind == "resumed_run" and e.data.get("resumed_by")]
    return RunStatus(run_id=run_id, bench=bench, procedure_id=record.procedure_id,
                     status=status, reason=reason, bench_safe=not bench_unsafe(reason),
                     operator=record.operator, resumed_by=resumers,
                     checker=record.checker, points_done=len(record.points),
                     points=[p.to_dict() for p in record.points])


@router.get("/runs/{run_id}/result", responses=AUTHED)
def run_result(run_id: str, request: Request, principal: PrincipalDep,
               session: ReadSessionDep) -> dict[str, Any]:
    """The run's result as its journal holds it (``RunResult.to_dict()``: points, room
    conditions, standards used, instruments, analysis such as a fitted curve, events): what
    a certificate is drafted from, and what ``labctl run --json`` writes for a local run.
    On an agent's bench: as the agent posted it when the run ended (409 before)."""
    agent = _agent_run(session, principal, run_id)
    if agent is not None:
        return queue.stored_result(agent).to_dict()
    manager, _ = _readable(request, session, principal, run_id)
    return manager.result(run_id).to_dict()


@router.get("/runs/{run_id}/events", responses=AUTHED,
            response_class=StreamingResponse,
            description="Server-sent events (text/event-stream): one `event:` per run event "
                        "with its JSON; `Last-Event-ID` continues after a reconnect. The "
                        "stream ends after completed, paused, aborted, refused or failed.")
async def run_events(run_id: str, request: Request, principal: PrincipalDep,
                     session: ReadSessionDep,
                     last_event_id: Annotated[str | None, Header()] = None
                     ) -> StreamingResponse:
    after = int(last_event_id) if last_event_id and last_event_id.isdigit() else -1
    if _agent_run(session, principal, run_id) is not None:
        return StreamingResponse(_agent_events(request, run_id, after),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})
    manager, bench = _readable(request, session, principal, run_id)

    async def stream() -> AsyncIterator[str]:
        nonlocal after
        while True:
            batch = await asyncio.to_thread(manager.events, run_id, after)
            for seq, event in batch:
                after = seq
                yield (f"id: {seq}\nevent: {event.kind}\n"
                       f"data: {json.dumps(event.to_dict())}\n\n")
            status, _ = await asyncio.to_thread(manager.status, run_id)
            if status in TERMINAL and not await asyncio.to_thread(
                    manager.events, run_id, after) and manager.busy(bench) != run_id:
                return
            if await request.is_disconnected():
                return
            await asyncio.sleep(0.2)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})


def _agent_batch(engine: Any, run_id: str, after: int
                 ) -> tuple[list[tuple[int, Any]], bool]:
    """Events after ``after`` and whether the run is over (ended, nothing queued for it)."""
    with Session(read_engine(engine)) as session:
        batch = queue.run_events(session, run_id, after)
        run = queue.agent_run(session, run_id)
        assert run is not None
        over = (quantities.RunStatus(run.status).terminal
                and not queue.open_request(session, run_id))
        return batch, over


async def _agent_events(request: Request, run_id: str, after: int) -> AsyncIterator[str]:
    """An agent's run as server-sent events from the database (any worker can serve it;
    ``Last-Event-ID`` replays from the table)."""
    engine = get_engine(request)
    while True:
        batch, over = await asyncio.to_thread(_agent_batch, engine, run_id, after)
        for seq, event in batch:
            after = seq
            yield (f"id: {seq}\nevent: {event.kind}\n"
                   f"data: {json.dumps(event.to_dict())}\n\n")
        if over and not batch:
            return
        if await request.is_disconnected():
            return
        if not batch:  # woken by the agent's next post (any worker), else a look every 2 s
            await request.app.state.listener.wait(queue.run_key(run_id), 2.0)


@router.post("/runs/{run_id}/stop", status_code=202, responses=WRITE)
def stop_run(run_id: str, request: Request, principal: WriterDep,
             session: SessionDep) -> dict[str, str]:
    """Pause the run at the next safe moment (bench made safe; resumable)."""
    agent = _agent_run(session, principal, run_id)
    if agent is not None:
        require_role(session, principal, Role.TECHNICIAN, agent.laboratory_id,
                     action="run.stop")
        queue.request_stop(session, agent)
        audit.record(session, actor=principal.actor, action="run.stop", entity_type="run",
                     entity_id=run_id, organisation_id=agent.laboratory_id,
                     data={"bench": _agent_bench_name(session, agent)})
        session.commit()
        return {"run_id": run_id, "status": quantities.RunStatus.STOPPING}
    manager, bench = _readable(request, session, principal, run_id)
    lab_id = _lab_id(session, manager, bench)
    require_role(session, principal, Role.TECHNICIAN, lab_id, action="run.stop")
    manager.stop(run_id)
    audit.record(session, actor=principal.actor, action="run.stop", entity_type="run",
                 entity_id=run_id, organisation_id=lab_id, data={"bench": bench})
    session.commit()
    return {"run_id": run_id, "status": quantities.RunStatus.STOPPING}


@router.post("/runs/{run_id}/resume", response_model=RunStarted, status_code=202,
             responses=WRITE)
def resume_run(run_id: str, request: Request, principal: WriterDep,
               session: SessionDep) -> RunStarted:
    """Continue a paused run from its next unmeasured point.

    The caller carries the rest out: a technician of the bench's laboratory authorised for
    the procedure today (403 otherwise, nothing changed) and not the run's checker. The run's
    operator stays who started it; the caller is recorded as who resumed it (journal event
    ``resumed_run``, ``resumed_by`` in the run's status, and the audit)."""
    agent = _agent_run(session, principal, run_id)
    if agent is not None:
        name = _agent_bench_name(session, agent)
        username = _username(session, principal)
        quantity = PROCEDURES[agent.procedure_id].info.quantity if (
            agent.procedure_id in PROCEDURES) else ""
        policy.may_resume_run(session, principal, agent.laboratory_id,
                              procedure=agent.procedure_id, quantity=quantity,
                              checker=agent.checker, on=datetime.now(UTC).date())
        queue.queue_resume(session, agent, resumed_by=username)
        audit.record(session, actor=principal.actor, action="run.resume", entity_type="run",
                     entity_id=run_id, organisation_id=agent.laboratory_id,
                     data={"bench": name, "operator": agent.operator, "resumed_by": username,
                           "points_done": agent.points_done})
        session.commit()
        return RunStarted(run_id=run_id, bench=name, status_url=f"/api/v1/runs/{run_id}",
                          events_url=f"/api/v1/runs/{run_id}/events")
    manager, bench = _readable(request, session, principal, run_id)
    lab_id = _lab_id(session, manager, bench)
    username = _username(session, principal)
    record = manager.journal(bench).load_run(run_id)
    quantity = PROCEDURES[record.procedure_id].info.quantity if (
        record.procedure_id in PROCEDURES) else ""
    policy.may_resume_run(session, principal, lab_id, procedure=record.procedure_id,
                          quantity=quantity, checker=record.checker,
                          on=manager.bench(bench).clock.utcnow().date())
    audit.record(session, actor=principal.actor, action="run.resume", entity_type="run",
                 entity_id=run_id, organisation_id=lab_id,
                 data={"bench": bench, "operator": record.operator, "resumed_by": username,
                       "points_done": len(record.points)})
    manager.resume(run_id, resumed_by=username)  # a 409 here rolls the audit event back
    session.commit()
    return RunStarted(run_id=run_id, bench=bench, status_url=f"/api/v1/runs/{run_id}",
                      events_url=f"/api/v1/runs/{run_id}/events")


@router.post("/runs/{run_id}/certificate", response_model=CertificatePublic,
             status_code=201, responses=WRITE)
def certify_run(run_id: str, body: CertifyRun, request: Request, principal: WriterDep,
                session: SessionDep) -> CertificatePublic:
    """A completed run as a draft certificate with its points posted (idempotent on the run
    id: posting the same run again answers the stored result)."""
    agent = _agent_run(session, principal, run_id)
    if agent is not None:
        lab_code = org_code(session, agent.laboratory_id)
        status, reason = quantities.RunStatus(agent.status), agent.reason
    else:
        manager, bench = _readable(request, session, principal, run_id)
        status, reason = manager.status(run_id)
        lab_code = manager.bench(bench).laboratory_code
    if status != quantities.RunStatus.COMPLETED:
        raise ConflictError(f"run {run_id} is {status} ({reason}); only a completed run is "
                            "certified")
    result = queue.stored_result(agent) if agent is not None else manager.result(run_id)
    cert = draft_from_run(session, laboratory_code=lab_code, result=result, poster=principal,
                          customer_name=body.customer_name, customer_code=body.customer_code,
                          item_description=body.item_description, method=body.method,
                          location=body.location, decision_rule=body.decision_rule)
    return certificates.certificate_public(session, cert)



@router.post("/runs/{run_id}/checks", response_model=FiledChecks, status_code=201,
             responses=WRITE)
def file_run_checks(run_id: str, request: Request, principal: WriterDep,
                    session: SessionDep) -> FiledChecks:
    """A completed check run of this server's bench filed on the checked standard's control
    charts (a technician of the bench's laboratory; idempotent on the run id). 409: the run
    is not completed, or the standard is out of tolerance or retired; 422: not a check run
    (a calibration run is drafted as a certificate instead)."""
    agent = _agent_run(session, principal, run_id)
    if agent is not None:
        lab_id, status, reason = agent.laboratory_id, agent.status, agent.reason
    else:
        manager, bench = _readable(request, session, principal, run_id)
        status, reason = manager.status(run_id)
        lab_id = _lab_id(session, manager, bench)
    if status != quantities.RunStatus.COMPLETED:
        raise ConflictError(f"run {run_id} is {status} ({reason}); only a completed check run "
                            "is filed")
    result = queue.stored_result(agent) if agent is not None else manager.result(run_id)
    return quality.file_check_run(session, principal, laboratory_id=lab_id, result=result)
