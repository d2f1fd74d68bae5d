"""A page per published standard, CMC and organisation: scope, CMCs, the place in the
national hierarchy (national → provincial → laboratory), status and calibration validity.

Entries are read through the registry's ``visible_*`` functions, as the JSON routes read them:
a draft exists only for people of its organisation; anyone else gets the same 404 as for an
identifier that does not exist.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from sqlmodel import Session, col, select

from labctl.errors import NotFoundError
from labctl.platform import desk, registry
from labctl.platform.accounts import organisations
from labctl.platform.models.org import Organisation
from labctl.platform.models.registry import StandardCalibration
from labctl.platform.pages.forms import DIMENSIONS
from labctl.platform.pages.public import view
from labctl.platform.pages.public.comparisons import KIND as COMPARISON_KIND
from labctl.platform.pages.public.comparisons import standard_comparisons
from labctl.platform.pages.render import N_, render
from labctl.platform.pages.session import OptionalPageUserDep
from labctl.platform.routes.deps import ReadSessionDep

router = APIRouter()

#: The largest database id (32-bit on PostgreSQL, as the API's ``RowId``).
MAX_ID = 2**31 - 1
MAX_LISTED = registry.MAX_PAGE


def hierarchy(session: Session, org: Organisation) -> list[Organisation]:
    """``org`` and the organisations above it, the national institute first."""
    chain = [org]
    while chain[-1].parent_id is not None and len(chain) < 16:
        parent = session.get(Organisation, chain[-1].parent_id)
        if parent is None:
            break
        chain.append(parent)
    return list(reversed(chain))


def _filters(**kw: Any) -> registry.SearchFilters:
    return registry.SearchFilters(limit=MAX_LISTED, sort="identifier", **kw)


@router.get("/standards/{identifier}")
def standard_page(request: Request, identifier: Annotated[str, Path(max_length=64)],
                  session: ReadSessionDep, user: OptionalPageUserDep) -> Response:
    std = registry.visible_standard(session, identifier, user.principal if user else None)
    s = registry.standard_public(session, std)
    org = organisations.org_by_code(session, s.organisation_code)
    cal = session.get(StandardCalibration, std.current_calibration_id) \
        if std.current_calibration_id else None
    today = datetime.now(UTC).date()
    cmcs = registry.search_capabilities(session, _filters(organisation=s.organisation_code,
                                                          quantity=s.quantity))
    return render(request, "public/standard.html", {
        "s": s, "path": hierarchy(session, org), "view": view,
        "validity": None if s.kind.value == "national_primary" else view.validity(s.due_date,
                                                                                   today),
        "on_platform": bool(cal and cal.certificate_id), "cmcs": cmcs.items,
        "comparisons": standard_comparisons(session, std.id) if std.id else [],
        "COMPARISON_KIND": COMPARISON_KIND,
    }, title=N_("Measurement standard"))


@router.get("/capabilities/{cmc_id}")
def capability_page(request: Request, cmc_id: Annotated[str, Path(max_length=20)],
                    session: ReadSessionDep, user: OptionalPageUserDep) -> Response:
    # an id that cannot exist is the same "not found" as one that does not
    if not cmc_id.isdigit() or not 1 <= int(cmc_id) <= MAX_ID:
        raise NotFoundError("capability", cmc_id)
    row = registry.visible_capability(session, int(cmc_id), user.principal if user else None)
    c = registry.capability_public(session, row)
    org = organisations.org_by_code(session, c.organisation_code)
    standards = registry.search_standards(session, _filters(organisation=c.organisation_code,
                                                            quantity=c.quantity))
    return render(request, "public/capability.html", {
        "c": c, "path": hierarchy(session, org), "view": view, "standards": standards.items,
    }, title=N_("Calibration and measurement capability"))


def evaluation_for(session: Session, org: Organisation) -> dict[str, Any] | None:
    """The organisation's public evaluation summary, or None (none yet).

    The shape the template reads: ``{"count": int, "dimensions": [{"name": str (English,
    translated in the template), "mean": float, "distribution": [n1, n2, n3, n4, n5]}]}``
    (``distribution``: how many ratings of 1 … 5), from the service desk's
    :func:`~labctl.platform.desk.laboratory_rating`.
    """
    rating = desk.laboratory_rating(session, org.code)
    if not rating.count:
        return None
    return {"count": rating.count, "dimensions": [
        {"name": DIMENSIONS[str(d.dimension)], "mean": float(d.mean or 0),
         "distribution": d.distribution} for d in rating.dimensions]}


@router.get("/organisations/{code}")
def organisation_page(request: Request, code: Annotated[str, Path(max_length=32)],
                      session: ReadSessionDep) -> Response:
    org = organisations.org_by_code(session, code)
    public = organisations.organisation_public(session, org)
    below = session.exec(select(Organisation).where(Organisation.parent_id == org.id)
                         .order_by(col(Organisation.code))).all()
    standards = registry.search_standards(session, _filters(organisation=org.code))
    cmcs = registry.search_capabilities(session, _filters(organisation=org.code))
    return render(request, "public/organisation.html", {
        "org": org, "o": public, "path": hierarchy(session, org), "below": below,
        "view": view, "standards": standards, "cmcs": cmcs,
        "evaluation": evaluation_for(session, org),
    }, title=N_("Organisation"))


