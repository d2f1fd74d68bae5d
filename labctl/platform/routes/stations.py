"""Routes for stations: automated benches that authenticate with a station token.

- ``GET /api/v1/stations/register``: the register snapshot the station checks its standards
  and people against (``labctl run --register``), for working through a network outage.
- ``POST /api/v1/stations/runs``: a completed run, posted by the station (``labctl run
  --post``), becomes a draft certificate performed by the run's operator, with its points;
  idempotent on the run id, so a station that retries after a timeout never duplicates.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from labctl.errors import PermissionDeniedError
from labctl.platform import certificates
from labctl.platform.accounts.auth import Principal
from labctl.platform.models.certificates import CertificatePublic
from labctl.platform.models.org import Organisation
from labctl.platform.models.stations import RegisterSnapshotPublic, StationRunIn
from labctl.platform.routes.deps import WRITE, PrincipalDep, ReadSessionDep, SessionDep
from labctl.platform.stations.drafts import draft_from_run
from labctl.platform.stations.register import register_snapshot as export_register

router = APIRouter(prefix="/api/v1/stations", tags=["stations"])


def _station_org(session: Any, principal: Principal) -> Organisation:
    if principal.kind != "station" or principal.station_org_id is None:
        raise PermissionDeniedError("station", "only a station token may do this")
    org = session.get(Organisation, principal.station_org_id)
    assert org is not None
    return org  # type: ignore[no-any-return]


@router.get("/register", response_model=RegisterSnapshotPublic, responses=WRITE)
def register_snapshot(principal: PrincipalDep, session: ReadSessionDep
                      ) -> RegisterSnapshotPublic:
    """The station's laboratory: its standards (status, due date, certified errors) and who
    is authorised for which procedure, as of now."""
    org = _station_org(session, principal)
    return RegisterSnapshotPublic.of(export_register(session, org.code,
                                                     at=datetime.now(UTC)))


@router.post("/runs", response_model=CertificatePublic, status_code=201, responses=WRITE)
def post_run(body: StationRunIn, principal: PrincipalDep,
             session: SessionDep) -> CertificatePublic:
    """A completed run as a draft certificate (performed by its operator) with its points."""
    org = _station_org(session, principal)
    result = body.result.to_run_result()  # validated field by field by StationRunIn
    cert = draft_from_run(session, laboratory_code=org.code, result=result,
                          poster=principal, customer_name=body.customer_name,
                          customer_code=body.customer_code,
                          item_description=body.item_description, method=body.method,
                          location=body.location, decision_rule=body.decision_rule)
    return certificates.certificate_public(session, cert)
