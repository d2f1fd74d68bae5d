"""Routes: the public registry search and the entry / review / status workflow.

This module does not postpone its annotations (no ``from __future__ import annotations``):
:func:`add_review_routes` builds each entry type's routes in a function, and FastAPI reads
their parameters' annotations, which name that function's locals.
"""

import dataclasses
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from labctl.platform import registry
from labctl.platform.models.base import StandardKind, StandardStatus
from labctl.platform.models.certificates import ReasonIn
from labctl.platform.models.registry import (
    CalibrationPublic,
    CapabilityCreate,
    CapabilityPublic,
    CorrectionCreate,
    CorrectionPublic,
    EntryUpdate,
    ExternalCalibrationCreate,
    Page,
    ReviewDecision,
    StandardCreate,
    StandardPublic,
)
from labctl.platform.routes.deps import (
    PUBLIC,
    PUBLIC_OPT,
    WRITE,
    OptionalPrincipalDep,
    ReadSessionDep,
    RowId,
    SessionDep,
    WriterDep,
)

router = APIRouter(prefix="/api/v1")

NUM = {"allow_inf_nan": False, "max_digits": 40}


def search_filters(
    domain: Annotated[str | None, Query(max_length=64, description="Technical domain")] = None,
    quantity: Annotated[str | None, Query(max_length=100, examples=["DC voltage"])] = None,
    unit: Annotated[str | None, Query(max_length=16, examples=["V"])] = None,
    value: Annotated[Decimal | None, Query(description="A value the range must cover",
                                           **NUM)] = None,
    max_uncertainty: Annotated[Decimal | None, Query(
        ge=0, description="Largest acceptable expanded uncertainty at `value`, in the unit",
        **NUM)] = None,
    max_relative_uncertainty: Annotated[Decimal | None, Query(
        ge=0, description="Largest acceptable relative expanded uncertainty (5 µV/V = 5e-6)",
        **NUM)] = None,
    organisation: Annotated[str | None, Query(max_length=32)] = None,
    region: Annotated[str | None, Query(max_length=100)] = None,
    q: Annotated[str | None, Query(
        max_length=200, description="Free text: every word (up to 8) must occur in the entry's "
        "text, in any case and anywhere in a word ('5522' finds '5522A')")] = None,
    sort: Annotated[Literal["uncertainty", "organisation", "range", "identifier", "newest"],
                    Query()] = "uncertainty",
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=registry.MAX_PAGE)] = 50,
) -> registry.SearchFilters:
    return registry.SearchFilters(
        domain=domain, quantity=quantity, unit=unit, value=value,
        max_uncertainty=max_uncertainty, max_relative_uncertainty=max_relative_uncertainty,
        organisation=organisation, region=region, q=q, sort=sort, offset=offset, limit=limit,
    )


FiltersDep = Annotated[registry.SearchFilters, Depends(search_filters)]
#: A database id: 32-bit on PostgreSQL, so larger values are refused before any query.
CmcId = RowId


def _standard_key(identifier: str) -> str:
    """A standard's key in its paths: its identifier."""
    return identifier


def _cmc_key(cmc_id: CmcId) -> int:
    """A CMC's key in its paths: its id."""
    return cmc_id


def add_review_routes(router: APIRouter, entry: registry.ReviewedEntry[Any, Any, Any],
                      path: str, key: Callable[..., Any], *, noun: str, holder: str) -> None:
    """The read, edit, revise, submit and review routes of one type of registry entry, at
    ``path`` (``key``: the dependency that reads the entry's key from it), named
    ``<action>_<entity>`` (their OpenAPI operation ids follow from the names); ``noun`` and
    ``holder`` word their descriptions."""
    Key = Annotated[Any, Depends(key)]
    view = entry.public
    opts: dict[str, Any] = {"response_model": entry.public_model, "tags": ["registry"]}

    def read(key: Key, session: ReadSessionDep, principal: OptionalPrincipalDep) -> Any:
        return view(session, entry.visible(session, key, principal))

    def update(key: Key, body: EntryUpdate, principal: WriterDep, session: SessionDep) -> Any:
        return view(session, registry.update_entry(session, principal=principal, entry=entry,
                                                   key=key, data=body))

    def revise(key: Key, body: ReasonIn, principal: WriterDep, session: SessionDep) -> Any:
        return view(session, registry.revise_entry(session, principal=principal, entry=entry,
                                                   key=key, reason=body.reason))

    def submit(key: Key, principal: WriterDep, session: SessionDep) -> Any:
        return view(session, registry.submit_entry(session, principal=principal, entry=entry,
                                                   key=key))

    def review(key: Key, body: ReviewDecision, principal: WriterDep,
               session: SessionDep) -> Any:
        return view(session, registry.review_entry(session, principal=principal, entry=entry,
                                                   key=key, decision=body))

    name = entry.entity
    router.get(path, name=f"read_{name}", responses=PUBLIC_OPT,
               description=f"A published {noun} (drafts only for people of the {holder}).",
               **opts)(read)
    router.patch(path, name=f"update_{name}", responses=WRITE,
                 description=f"Edit a draft {noun} (data entry of the {holder}), with the "
                 "reason.", **opts)(update)
    router.post(f"{path}/revise", name=f"revise_{name}", responses=WRITE,
                description=f"Take a published {noun} back to draft for changes (it needs a "
                "new review).", **opts)(revise)
    router.post(f"{path}/submit", name=f"submit_{name}", responses=WRITE,
                description=f"Send a draft {noun} to review (data entry of the {holder}).",
                **opts)(submit)
    router.post(f"{path}/review", name=f"review_{name}", responses=WRITE,
                description=f"Publish or send back a submitted {noun} (a reviewer who did not "
                "enter it).", **opts)(review)


@router.get("/standards", response_model=Page[StandardPublic], tags=["registry"],
            responses=PUBLIC)
def search_standards(filters: FiltersDep, session: ReadSessionDep,
                     kind: StandardKind | None = None,
                     status: StandardStatus | None = None) -> Page[StandardPublic]:
    """Search published measurement standards (public, no login)."""
    f = dataclasses.replace(filters, kind=kind, status=status)
    return registry.search_standards(session, f)


@router.post("/standards", response_model=StandardPublic, status_code=201, tags=["registry"],
             responses=WRITE)
def create_standard(body: StandardCreate, principal: WriterDep,
                    session: SessionDep) -> StandardPublic:
    """Enter a standard (data entry of the holder); it starts as a draft."""
    row = registry.create_standard(session, principal=principal, data=body)
    return registry.standard_public(session, row)


add_review_routes(router, registry.STANDARD, "/standards/{identifier}", _standard_key,
                  noun="standard", holder="holder")


@router.post("/standards/{identifier}/calibrations", response_model=CalibrationPublic,
             status_code=201, tags=["registry"], responses=WRITE)
def add_calibration(identifier: str, body: ExternalCalibrationCreate, principal: WriterDep,
                    session: SessionDep) -> CalibrationPublic:
    """Record a calibration certificate issued for the standard outside the platform (data
    entry of the holder); it counts once another person reviewed it (``…/review``)."""
    cal = registry.add_external_calibration(session, principal=principal,
                                            identifier=identifier, data=body)
    return registry.calibration_public(cal)


@router.get("/standards/{identifier}/calibrations", response_model=list[CalibrationPublic],
            tags=["registry"], responses=PUBLIC_OPT)
def read_calibrations(identifier: str, session: ReadSessionDep,
                      principal: OptionalPrincipalDep) -> list[CalibrationPublic]:
    """The standard's calibrations (those waiting for review: its holder's people only)."""
    return registry.list_calibrations(session, standard=registry.visible_standard(
        session, identifier, principal), principal=principal)


@router.post("/standards/{identifier}/calibrations/{calibration_id}/review",
             response_model=CalibrationPublic, tags=["registry"], responses=WRITE)
def review_calibration(identifier: str, calibration_id: RowId, body: ReviewDecision,
                       principal: WriterDep, session: SessionDep) -> CalibrationPublic:
    """Publish or reject a recorded external calibration (a reviewer who did not record it)."""
    return registry.calibration_public(registry.review_calibration(
        session, principal=principal, identifier=identifier, calibration_id=calibration_id,
        decision=body))


@router.post("/standards/{identifier}/corrections", response_model=list[CorrectionPublic],
             status_code=201, tags=["registry"], responses=WRITE)
def add_correction(identifier: str, body: CorrectionCreate, principal: WriterDep,
                   session: SessionDep) -> list[CorrectionPublic]:
    """Add a correction factor; the value it replaces is kept as superseded."""
    registry.add_correction(session, principal=principal, identifier=identifier, data=body)
    return registry.list_corrections(session, standard=registry.standard_by_identifier(
        session, identifier))


@router.get("/standards/{identifier}/corrections", response_model=list[CorrectionPublic],
            tags=["registry"], responses=PUBLIC_OPT)
def read_corrections(identifier: str, session: ReadSessionDep,
                     principal: OptionalPrincipalDep) -> list[CorrectionPublic]:
    """Every correction of the standard, superseded ones included."""
    return registry.list_corrections(session, standard=registry.visible_standard(
        session, identifier, principal))


@router.get("/capabilities", response_model=Page[CapabilityPublic], tags=["registry"],
            responses=PUBLIC)
def search_capabilities(filters: FiltersDep, session: ReadSessionDep) -> Page[CapabilityPublic]:
    """Search published CMCs (public): e.g. who calibrates 10 V DC with U <= 5 µV/V."""
    return registry.search_capabilities(session, filters)


@router.post("/capabilities", response_model=CapabilityPublic, status_code=201,
             tags=["registry"], responses=WRITE)
def create_capability(body: CapabilityCreate, principal: WriterDep,
                      session: SessionDep) -> CapabilityPublic:
    """Enter a CMC (data entry of the laboratory); it starts as a draft."""
    return registry.capability_public(session, registry.create_capability(
        session, principal=principal, data=body))


add_review_routes(router, registry.CAPABILITY, "/capabilities/{cmc_id}", _cmc_key,
                  noun="CMC", holder="laboratory")
