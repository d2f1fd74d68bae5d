"""``/staff/stations`` (administrators): the stations of the organisations they
administer, a new station (its token shown once, on the answer to the form, never again),
the register snapshot a station works from (``stations.register.register_snapshot``, what
``GET /api/v1/stations/register`` serves the station itself), and revoking its tokens. Each
goes through ``accounts.organisations`` (the API's calls: administrators of the station's
organisation or above)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError as PydanticValidationError
from sqlmodel import Session, col, select

from labctl.errors import PermissionDeniedError, ValidationError
from labctl.platform.accounts import organisations
from labctl.platform.accounts.auth import Principal, has_role
from labctl.platform.models.base import Role
from labctl.platform.models.org import Organisation, StationCreate
from labctl.platform.models.stations import RegisterSnapshotPublic
from labctl.platform.pages.render import N_, render
from labctl.platform.pages.session import CsrfDep, PageUserDep
from labctl.platform.pages.staff.common import done, staff_principal
from labctl.platform.routes.deps import ReadSessionDep, RowId, SessionDep
from labctl.platform.stations.register import register_snapshot

router = APIRouter()


def _administered(session: Session, principal: Principal) -> list[Organisation]:
    """The organisations where the person may create stations (the rule of
    ``organisations.create_station``)."""
    return [o for o in session.exec(select(Organisation).order_by(col(Organisation.code))).all()
            if o.id is not None and has_role(session, principal, Role.ADMIN, o.id)]


@router.get("/staff/stations")
def stations_page(request: Request, user: PageUserDep, session: ReadSessionDep,
                  done_: Annotated[str, Query(alias="done", max_length=16)] = "",
                  station: Annotated[str, Query(max_length=100)] = "") -> Response:
    principal = staff_principal(user)
    orgs = _administered(session, principal)
    if not orgs:
        raise PermissionDeniedError("stations", "only an administrator of the laboratory manages "
                                    "stations")
    return render(request, "staff/stations.html", {
        "stations": organisations.list_stations(session, principal),
        "orgs": orgs, "done": done_, "station": station, "token": None},
        title=N_("Stations"))


@router.post("/staff/stations", dependencies=[CsrfDep])
def create(request: Request, user: PageUserDep, session: SessionDep,
           organisation: Annotated[str, Form(max_length=32)],
           name: Annotated[str, Form(max_length=100)],
           valid_days: Annotated[int, Form(ge=1, le=730)] = 365) -> Response:
    principal = staff_principal(user)
    try:
        data = StationCreate(name=name.strip(), valid_days=valid_days)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        raise ValidationError(".".join(str(p) for p in first["loc"]), first.get("input"),
                              first["msg"]) from None
    token = organisations.create_station(session, principal=principal,
                                         organisation_code=organisation, data=data)
    response = render(request, "staff/stations.html", {
        "stations": organisations.list_stations(session, principal),
        "orgs": _administered(session, principal), "done": "created",
        "station": token.name, "token": token}, title=N_("Stations"), status_code=201)
    response.headers["Cache-Control"] = "no-store"  # the token is on this page only
    return response


@router.get("/staff/stations/{station_id}/register.json")
def snapshot(station_id: RowId, user: PageUserDep, session: ReadSessionDep) -> Response:
    """The register snapshot of the station's laboratory, as of now, to copy to a station
    that works off-line (``labctl run --register FILE``)."""
    principal = staff_principal(user)
    station = organisations.administered_station(session, principal, station_id,
                                                 action="station.register")
    org = session.get(Organisation, station.organisation_id)
    assert org is not None
    now = datetime.now(UTC)
    body = RegisterSnapshotPublic.of(register_snapshot(session, org.code, at=now))
    name = f"register-{org.code}-{now:%Y%m%dT%H%M%SZ}.json"
    return Response(json.dumps(body.model_dump(mode="json"), indent=1),
                    media_type="application/json", headers={
                        "Content-Disposition": f'attachment; filename="{name}"',
                        "Cache-Control": "no-store"})


@router.post("/staff/stations/{station_id}/revoke", dependencies=[CsrfDep])
def revoke(station_id: RowId, user: PageUserDep, session: SessionDep) -> Response:
    principal = staff_principal(user)
    station = organisations.administered_station(session, principal, station_id,
                                                 action="station.revoke_tokens")
    organisations.revoke_station_tokens(session, principal=principal, station_id=station_id)
    return done("/staff/stations", done="revoked", station=station.name)
