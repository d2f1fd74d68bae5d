"""Routes for stations: automated benches that authenticate with a station token.

- ``GET /api/v1/stations/register``: the register snapshot the station checks its standards
  and people against (``labctl run --register``), for working through a network outage.
- ``POST /api/v1/stations/runs``: a completed run, posted by the station (``labctl run
  --post``), becomes a draft certificate performed by the run's operator, with its points;
  idempotent on the run id, so a station that retries after a timeout never duplicates.
- The station agent (``labctl station serve``, :mod:`labctl.platform.stations.queue`):
  ``PUT /api/v1/stations/benches/{name}`` announces its bench, ``GET
  …/benches/{name}/work?wait=S`` waits up to S seconds for a run request (long poll, 204 when
  none came), ``POST /api/v1/stations/bench-runs/{run_id}/progress`` posts what its journal
  recorded (idempotent) and answers whether a stop was asked for.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict
from pydantic import Field as PField
from sqlmodel import Session

from labctl.platform import certificates
from labctl.platform.accounts.auth import Principal
from labctl.platform.models.certificates import CertificatePublic
from labctl.platform.models.org import Organisation
from labctl.platform.models.stations import RegisterSnapshotPublic, StationRunIn
from labctl.platform.routes.deps import (
    WRITE,
    PrincipalDep,
    ReadSessionDep,
    SessionDep,
    WriterDep,
    get_engine,
)
from labctl.platform.stations import queue
from labctl.platform.stations.drafts import draft_from_run
from labctl.platform.stations.register import register_snapshot as export_register
from labctl.quantities import RunStatus

router = APIRouter(prefix="/api/v1/stations", tags=["stations"])


@router.get("/register", response_model=RegisterSnapshotPublic, responses=WRITE)
def register_snapshot(principal: PrincipalDep, session: ReadSessionDep
                      ) -> RegisterSnapshotPublic:
    """The station's laboratory: its standards (status, due date, certified errors) and who
    is authorised for which procedure, as of now."""
    org = queue.station_of(session, principal)
    return RegisterSnapshotPublic.of(export_register(session, org.code,
                                                     at=datetime.now(UTC)))


@router.post("/runs", response_model=CertificatePublic, status_code=201, responses=WRITE)
def post_run(body: StationRunIn, principal: WriterDep,
             session: SessionDep) -> CertificatePublic:
    """A completed run as a draft certificate (performed by its operator) with its points."""
    org = queue.station_of(session, principal)
    result = body.result.to_run_result()  # validated field by field by StationRunIn
    cert = draft_from_run(session, laboratory_code=org.code, result=result,
                          poster=principal, customer_name=body.customer_name,
                          customer_code=body.customer_code,
                          item_description=body.item_description, method=body.method,
                          location=body.location, decision_rule=body.decision_rule)
    return certificates.certificate_public(session, cert)


# -- the station agent -------------------------------------------------------------------------

BENCH_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
#: Longest wait a long poll for work may ask for, s (proxies close idle requests at 60 s).
MAX_WAIT = 30.0
#: How often a waiting long poll looks at the queue without being woken, s.
LOOK_EVERY = 5.0


class BenchAnnounce(BaseModel):
    model_config = ConfigDict(extra="forbid")
    roles: list[Annotated[str, PField(pattern=r"^[a-z][a-z0-9_]{0,31}$")]] = PField(
        max_length=32, description="The bench's instrument roles (calibrator, dmm, …)")
    description: str = PField(default="", max_length=300)
    simulated_time: bool = False


class BenchAnnounced(BaseModel):
    name: str
    laboratory_code: str
    roles: list[str]


class WorkOut(BaseModel):
    request_id: int
    kind: str = PField(description="start | resume")
    run_id: str
    procedure_id: str
    parameters: dict[str, Any]
    dut: dict[str, str]
    operator: str
    checker: str
    resumed_by: str


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seq: int = PField(ge=0, le=1_000_000)
    kind: str = PField(min_length=1, max_length=32)
    data: dict[str, Any] = PField(description="RunEvent.to_dict()")


class PointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seq: int = PField(ge=0, le=100_000)
    key: str = PField(min_length=1, max_length=200)
    data: dict[str, Any] = PField(description="PointResult.to_dict()")


class ProgressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: RunStatus
    reason: str = PField(default="", max_length=4000)
    events: list[EventIn] = PField(default_factory=list, max_length=500)
    points: list[PointIn] = PField(default_factory=list, max_length=500)
    result: dict[str, Any] | None = PField(default=None, description=(
        "RunResult.to_dict() once the run has ended (status completed, paused, aborted, "
        "refused or failed)"))


class ProgressOut(BaseModel):
    run_id: str
    events_stored: int
    points_stored: int
    status: RunStatus
    stop_requested: bool


@router.put("/benches/{name}", response_model=BenchAnnounced, responses=WRITE)
def announce_bench(name: Annotated[str, Path(pattern=BENCH_NAME)], body: BenchAnnounce,
                   principal: WriterDep, session: SessionDep) -> BenchAnnounced:
    """The station agent's bench (made, or updated when the agent starts again); a name
    another station holds is a 409."""
    bench = queue.announce_bench(session, principal, name=name, roles=body.roles,
                                 description=body.description,
                                 simulated_time=body.simulated_time)
    org = session.get(Organisation, bench.laboratory_id)
    assert org is not None
    return BenchAnnounced(name=bench.name, laboratory_code=org.code, roles=bench.roles)


def _claim(engine: Any, principal: Principal, name: str) -> queue.Work | None:
    with Session(engine, expire_on_commit=False) as session:
        return queue.claim_work(session, principal, name)


@router.get("/benches/{name}/work", response_model=WorkOut, responses={
    **WRITE, 204: {"description": "No run request came within the wait"}})
async def next_work(name: str, request: Request, principal: PrincipalDep,
                    wait: Annotated[float, Query(ge=0, le=MAX_WAIT, allow_inf_nan=False)] = 20.0
                    ) -> Any:
    """The next run request for the station's bench, claimed for it: a request it claimed
    before and did not finish comes again (the agent restarted). Waits up to ``wait`` s."""
    engine = get_engine(request)
    deadline = time.monotonic() + wait
    while True:
        work = await asyncio.to_thread(_claim, engine, principal, name)
        if work is not None:
            return WorkOut(**work.to_dict())
        left = deadline - time.monotonic()
        if left <= 0 or await request.is_disconnected():
            return Response(status_code=204)
        # woken by a new request for the bench (any worker), else a look every few s
        await request.app.state.listener.wait(queue.work_key(name), min(LOOK_EVERY, left))


@router.post("/bench-runs/{run_id}/progress", response_model=ProgressOut, responses=WRITE)
def post_progress(run_id: str, body: ProgressIn, principal: WriterDep,
                  session: SessionDep) -> ProgressOut:
    """What the agent's journal recorded of a run: events and points not yet posted (those
    already on record are skipped), the status and, once ended, the whole result."""
    progress = queue.post_progress(
        session, principal, run_id, events=[e.model_dump() for e in body.events],
        points=[p.model_dump() for p in body.points], status=body.status,
        reason=body.reason, result=body.result)
    return ProgressOut(**progress.to_dict())
