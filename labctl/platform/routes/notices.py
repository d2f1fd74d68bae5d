"""Routes: a laboratory's status labels (PDF) and the caller's due notices."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import Field as PField

from labctl.platform import notices
from labctl.platform.db import utcnow
from labctl.platform.documents.labels import DEFAULT_LAYOUT, LAYOUTS
from labctl.platform.models.notices import NoticePublic
from labctl.platform.models.org import CODE_PATTERN
from labctl.platform.models.registry import IDENT_PATTERN
from labctl.platform.notices.labels import MAX_IDENTIFIERS, LabelStatus
from labctl.platform.routes.deps import (
    AUTHED,
    PrincipalDep,
    ReadSessionDep,
    Responses,
    SettingsDep,
)

router = APIRouter(prefix="/api/v1")

_PDF: Responses = {200: {"content": {"application/pdf": {}},
                         "description": "Sheets of status labels (A4)"}}
Identifier = Annotated[str, PField(pattern=IDENT_PATTERN)]


@router.get("/laboratories/{code}/labels.pdf", response_class=Response, tags=["standards"],
            responses={**AUTHED, **_PDF})
def laboratory_labels(
    code: Annotated[str, Path(pattern=CODE_PATTERN)],
    principal: PrincipalDep, session: ReadSessionDep, settings: SettingsDep,
    identifier: Annotated[list[Identifier], Query(
        max_length=MAX_IDENTIFIERS,
        description="Only these standards (repeat the parameter); an identifier the "
        "laboratory does not hold is a 404 naming it")] = [],  # noqa: B006 (FastAPI copies it)
    status: Annotated[list[LabelStatus], Query(
        description="Only standards in these statuses (overdue: past the due date)")] = [],  # noqa: B006
    layout: Annotated[str, Query(pattern="^(" + "|".join(LAYOUTS) + ")$",
                                 description="Label sheet: " + ", ".join(
                                     f"{k} ({v.columns}×{v.rows} of {v.width}×{v.height} mm)"
                                     for k, v in LAYOUTS.items()))] = DEFAULT_LAYOUT,
) -> Response:
    """Status labels of the laboratory's standards (its staff): identifier, name, status,
    calibrated on, due, restrictions, laboratory, and a QR code to the standard's public
    page; an item not to be used says so in red words."""
    pdf = notices.laboratory_labels(
        session, principal=principal, laboratory_code=code,
        filters=notices.LabelFilters(identifiers=list(identifier),
                                     statuses=[s.value for s in status], layout=layout),
        today=utcnow().date(), public_url=settings.public_url)
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="labels-{code}.pdf"'})


@router.get("/notices", response_model=list[NoticePublic], tags=["notices"],
            responses=AUTHED)
def my_notices(principal: PrincipalDep, session: ReadSessionDep,
               limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[NoticePublic]:
    """The caller's own due notices (standards due soon or overdue), newest first."""
    return [notices.notice_public(session, n)
            for n in notices.notices_for(session, principal, limit=limit)]
