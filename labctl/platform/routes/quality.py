"""Routes: intermediate checks of standards, their charts and events, return to service.

- ``POST /api/v1/stations/checks``: a station's completed check run, filed on the checked
  standard's chart (idempotent on the run id; a run rule or a failed En puts the standard
  under investigation, a check beyond tolerance quarantines it and flags the certificates
  since the last good check);
- ``GET /api/v1/standards/{identifier}/checks``: each point's series since the current
  calibration with limits, flags, En and the drift estimate, and the standard's events;
- ``GET /api/v1/quality-events``: the events of the caller's laboratories;
- ``POST /api/v1/standards/{identifier}/return-to-service``: with a verification, by a
  person other than the one who put it out of service.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import Field as PField

from labctl.errors import PermissionDeniedError
from labctl.platform import quality
from labctl.platform.documents.check_report import check_report_pdf
from labctl.platform.models.quality import (
    FiledChecks,
    QualityEventPublic,
    QualityEventStatus,
    ReturnToServiceIn,
    StandardChecks,
)
from labctl.platform.models.registry import IDENT_PATTERN
from labctl.platform.models.stations import RunResultIn, _In
from labctl.platform.routes.deps import (
    AUTHED,
    WRITE,
    PrincipalDep,
    ReadSessionDep,
    SessionDep,
    WriterDep,
)

router = APIRouter(prefix="/api/v1", tags=["quality"])


class StationCheckIn(_In):
    result: RunResultIn = PField(description="The completed check run as labctl's "
                                 "RunResult.to_dict() (its analysis of kind `check`)")


@router.post("/stations/checks", response_model=FiledChecks, status_code=201, responses=WRITE)
def post_checks(body: StationCheckIn, principal: WriterDep,
                session: SessionDep) -> FiledChecks:
    """A station's completed check run filed on the checked standard's control chart.

    403: not a station token, or a station of another laboratory; 404: the checked standard
    is not one its laboratory holds; 409: the standard is out of tolerance or retired, or
    the run id was filed with other values; 422: not a completed check run, or a value that
    is not finite, a u that is not > 0."""
    if principal.kind != "station" or principal.station_org_id is None:
        raise PermissionDeniedError("check.file", "only a station token may post a check run",
                                    rule="station")
    return quality.file_check_run(session, principal, laboratory_id=principal.station_org_id,
                                  result=body.result.to_run_result())


@router.get("/standards/{identifier}/checks", response_model=StandardChecks, responses=AUTHED)
def read_checks(identifier: Annotated[str, Path(pattern=IDENT_PATTERN)],
                principal: PrincipalDep, session: ReadSessionDep) -> StandardChecks:
    """Each point's checks since the current calibration: control limits, the rules that
    fired, En, tolerance, the drift fitted; and the standard's quality events.

    404: no such standard, or not one the caller's laboratory holds (staff and its
    stations read them)."""
    return quality.standard_checks(session, identifier, principal)


_PDF: dict[int | str, dict[str, Any]] = {200: {"content": {"application/pdf": {}},
               "description": "The check report (PDF): charts, checks, events, drift"}}


@router.get("/standards/{identifier}/checks.pdf", response_class=Response,
            responses={**AUTHED, **_PDF})
def read_check_report(identifier: Annotated[str, Path(pattern=IDENT_PATTERN)],
                      principal: PrincipalDep, session: ReadSessionDep) -> Response:
    """The check report of a standard as a PDF: each point's control chart and checks, the
    events and status changes they made, and the drift since the calibration with the budget
    term it supports. 404 as for the checks."""
    report = quality.check_report(session, identifier, principal, produced_by=principal.actor)
    return Response(check_report_pdf(report), media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="checks-{identifier}.pdf"'})


@router.get("/quality-events", response_model=list[QualityEventPublic], responses=AUTHED)
def list_events(principal: PrincipalDep, session: ReadSessionDep,
                standard: Annotated[str | None, Query(pattern=IDENT_PATTERN)] = None,
                status: QualityEventStatus | None = None,
                offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
                limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[QualityEventPublic]:
    """Quality events of the standards the caller's laboratories hold, newest first.

    404: a standard named that the caller's laboratory does not hold."""
    return quality.quality_events(session, principal, standard=standard, status=status,
                                  offset=offset, limit=limit)


@router.post("/standards/{identifier}/return-to-service",
             response_model=list[QualityEventPublic], responses=WRITE)
def return_to_service(identifier: Annotated[str, Path(pattern=IDENT_PATTERN)],
                      body: ReturnToServiceIn, principal: WriterDep,
                      session: SessionDep) -> list[QualityEventPublic]:
    """Return a quarantined or investigated standard to service with its verification; the
    events closed.

    403: not a reviewer or admin of the holder, or the person who put it out of service
    (`rule` separation); 404: no such standard, check or calibration; 409: the standard is
    not quarantined or under investigation; 422: no verification, or one recorded before
    the event or outside limits."""
    return quality.return_to_service(session, principal, identifier, body)
