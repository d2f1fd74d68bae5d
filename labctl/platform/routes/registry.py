"""Routes: the public registry search and the entry / review / status workflow."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Annotated, Literal

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
    PrincipalDep,
    ReadSessionDep,
    RowId,
    SessionDep,
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
def create_standard(body: StandardCreate, principal: PrincipalDep,
                    session: SessionDep) -> StandardPublic:
    """Enter a standard (data entry of the holder); it starts as a draft."""
    row = registry.create_standard(session, principal=principal, data=body)
    return registry.standard_public(session, row)


@router.get("/standards/{identifier}", response_model=StandardPublic, tags=["registry"],
            responses=PUBLIC_OPT)
def read_standard(identifier: str, session: ReadSessionDep,
                  principal: OptionalPrincipalDep) -> StandardPublic:
    """A published standard (drafts only for people of the holder)."""
    return registry.standard_public(session, registry.visible_standard(session, identifier,
                                                                        principal))


@router.patch("/standards/{identifier}", response_model=StandardPublic, tags=["registry"],
              responses=WRITE)
def update_standard(identifier: str, body: EntryUpdate, principal: PrincipalDep,
                    session: SessionDep) -> StandardPublic:
    """Edit a draft standard (data entry of the holder), with the reason."""
    return registry.standard_public(session, registry.update_standard(
        session, principal=principal, identifier=identifier, data=body))


@router.post("/standards/{identifier}/revise", response_model=StandardPublic,
             tags=["registry"], responses=WRITE)
def revise_standard(identifier: str, body: ReasonIn, principal: PrincipalDep,
                    session: SessionDep) -> StandardPublic:
    """Take a published standard back to draft for changes (it needs a new review)."""
    return registry.standard_public(session, registry.revise_standard(
        session, principal=principal, identifier=identifier, reason=body.reason))


@router.post("/standards/{identifier}/submit", response_model=StandardPublic,
             tags=["registry"], responses=WRITE)
def submit_standard(identifier: str, principal: PrincipalDep,
                    session: SessionDep) -> StandardPublic:
    """Send a draft to review (data entry)."""
    return registry.standard_public(session, registry.submit_standard(
        session, principal=principal, identifier=identifier))


@router.post("/standards/{identifier}/review", response_model=StandardPublic,
             tags=["registry"], responses=WRITE)
def review_standard(identifier: str, body: ReviewDecision, principal: PrincipalDep,
                    session: SessionDep) -> StandardPublic:
    """Publish or send back a submitted standard (a reviewer who did not enter it)."""
    return registry.standard_public(session, registry.review_standard(
        session, principal=principal, identifier=identifier, decision=body))


@router.post("/standards/{identifier}/calibrations", response_model=CalibrationPublic,
             status_code=201, tags=["registry"], responses=WRITE)
def add_calibration(identifier: str, body: ExternalCalibrationCreate, principal: PrincipalDep,
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
                       principal: PrincipalDep, session: SessionDep) -> CalibrationPublic:
    """Publish or reject a recorded external calibration (a reviewer who did not record it)."""
    return registry.calibration_public(registry.review_calibration(
        session, principal=principal, identifier=identifier, calibration_id=calibration_id,
        decision=body))


@router.post("/standards/{identifier}/corrections", response_model=list[CorrectionPublic],
             status_code=201, tags=["registry"], responses=WRITE)
def add_correction(identifier: str, body: CorrectionCreate, principal: PrincipalDep,
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
def create_capability(body: CapabilityCreate, principal: PrincipalDep,
                      session: SessionDep) -> CapabilityPublic:
    """Enter a CMC (data entry of the laboratory); it starts as a draft."""
    return registry.capability_public(session, registry.create_capability(
        session, principal=principal, data=body))


@router.get("/capabilities/{cmc_id}", response_model=CapabilityPublic, tags=["registry"],
            responses=PUBLIC_OPT)
def read_capability(cmc_id: CmcId, session: ReadSessionDep,
                    principal: OptionalPrincipalDep) -> CapabilityPublic:
    """A published CMC (drafts only for people of the laboratory)."""
    return registry.capability_public(session, registry.visible_capability(session, cmc_id,
                                                                            principal))


@router.patch("/capabilities/{cmc_id}", response_model=CapabilityPublic, tags=["registry"],
              responses=WRITE)
def update_capability(cmc_id: CmcId, body: EntryUpdate, principal: PrincipalDep,
                      session: SessionDep) -> CapabilityPublic:
    """Edit a draft CMC (data entry of the laboratory), with the reason."""
    return registry.capability_public(session, registry.update_capability(
        session, principal=principal, cmc_id=cmc_id, data=body))


@router.post("/capabilities/{cmc_id}/revise", response_model=CapabilityPublic,
             tags=["registry"], responses=WRITE)
def revise_capability(cmc_id: CmcId, body: ReasonIn, principal: PrincipalDep,
                      session: SessionDep) -> CapabilityPublic:
    """Take a published CMC back to draft for changes (it needs a new review)."""
    return registry.capability_public(session, registry.revise_capability(
        session, principal=principal, cmc_id=cmc_id, reason=body.reason))


@router.post("/capabilities/{cmc_id}/submit", response_model=CapabilityPublic,
             tags=["registry"], responses=WRITE)
def submit_capability(cmc_id: CmcId, principal: PrincipalDep,
                      session: SessionDep) -> CapabilityPublic:
    """Send a draft CMC to review."""
    return registry.capability_public(session, registry.submit_capability(
        session, principal=principal, cmc_id=cmc_id))


@router.post("/capabilities/{cmc_id}/review", response_model=CapabilityPublic,
             tags=["registry"], responses=WRITE)
def review_capability(cmc_id: CmcId, body: ReviewDecision, principal: PrincipalDep,
                      session: SessionDep) -> CapabilityPublic:
    """Publish or send back a submitted CMC (a reviewer who did not enter it)."""
    return registry.capability_public(session, registry.review_capability(
        session, principal=principal, cmc_id=cmc_id, decision=body))
