"""The ledger of national primary standards (``/ledger``): each with its status, holder and
the holder's CMCs in its quantity: the tops of every traceability chain on the platform."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from labctl.platform import registry
from labctl.platform.models.base import StandardKind
from labctl.platform.pages.public import view
from labctl.platform.pages.render import N_, render
from labctl.platform.routes.deps import ReadSessionDep

router = APIRouter()
PAGE = 50


@router.get("/ledger")
def ledger(request: Request, session: ReadSessionDep,
           page: Annotated[int, Query(ge=1, le=10_000)] = 1) -> Response:
    found = registry.search_standards(session, registry.SearchFilters(
        kind=StandardKind.NATIONAL_PRIMARY, sort="organisation", offset=(page - 1) * PAGE,
        limit=PAGE))
    cmcs: dict[tuple[str, str], list[Any]] = {}
    for s in found.items:
        key = (s.organisation_code, s.quantity)
        if key not in cmcs:
            cmcs[key] = registry.search_capabilities(session, registry.SearchFilters(
                organisation=s.organisation_code, quantity=s.quantity, sort="range",
                limit=registry.MAX_PAGE)).items
    return render(request, "public/ledger.html", {
        "found": found, "cmcs": cmcs, "view": view, "page_no": page,
        "pages": max(1, -(-found.total // PAGE)),
    }, title=N_("National primary standards"))
