"""The ledger of national primary standards (``/ledger``): each with its status, holder and
the holder's CMCs in its quantity: the tops of every traceability chain on the platform."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from labctl.platform import registry
from labctl.platform.models.base import StandardKind
from labctl.platform.pages.public import view
from labctl.platform.pages.render import N_, page_count, render
from labctl.platform.routes.deps import ReadSessionDep

router = APIRouter()
PAGE = 50


@router.get("/ledger")
def ledger(request: Request, session: ReadSessionDep,
           page_asked: Annotated[str, Query(alias="page", max_length=12)] = "1") -> Response:
    # a page number that is not one (an edited link) is the first page, not an error
    page = int(page_asked) if page_asked.isdigit() and 1 <= int(page_asked) <= 10_000 else 1
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
        "pages": page_count(found.total, PAGE),
    }, title=N_("National primary standards"))
