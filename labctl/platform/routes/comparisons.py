"""Routes: comparisons — key, supplementary and interlaboratory comparisons and proficiency
tests (thin: each calls one service of :mod:`labctl.platform.comparisons`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from labctl.platform import comparisons, quality
from labctl.platform.comparisons.records import MAX_LIMIT
from labctl.platform.models.comparisons import (
    IDENTIFIER_PATTERN,
    ComparisonCreate,
    ComparisonPublic,
    ComparisonStatus,
    ComparisonSummary,
    Page,
    PublishIn,
    ResultIn,
    StatusIn,
)
from labctl.platform.routes.deps import (
    PUBLIC_OPT,
    WRITE,
    OptionalPrincipalDep,
    ReadSessionDep,
    SessionDep,
    WriterDep,
)

router = APIRouter(prefix="/api/v1")

IdentifierPath = Annotated[str, Path(pattern=IDENTIFIER_PATTERN, max_length=64,
                                     description="e.g. CCEM-K4, PT-2026-DCV-01")]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
@router.post("/comparisons", response_model=ComparisonPublic, status_code=201,
             tags=["comparisons"], responses=WRITE)
def create_comparison(body: ComparisonCreate, principal: WriterDep,
                      session: SessionDep) -> ComparisonPublic:
    """Create a comparison (an approver, reviewer or admin of the pilot, or of a
    national-level organisation). 404: unknown pilot; 409: the identifier exists."""
    row = comparisons.create_comparison(session, principal=principal, data=body)
    return comparisons.comparison_public(session, row, principal)


@router.get("/comparisons", response_model=Page[ComparisonSummary], tags=["comparisons"],
            responses=PUBLIC_OPT)
def list_comparisons(session: ReadSessionDep, principal: OptionalPrincipalDep,
                     status: ComparisonStatus | None = None, offset: Offset = 0,
                     limit: Limit = 50) -> Page[ComparisonSummary]:
    """Published comparisons (public) and, for staff of a pilot or a participant, theirs;
    newest first."""
    return comparisons.list_comparisons(session, principal=principal, status=status,
                                        offset=offset, limit=limit)


@router.get("/comparisons/{identifier}", response_model=ComparisonPublic,
            tags=["comparisons"], responses=PUBLIC_OPT)
def read_comparison(identifier: IdentifierPath, session: ReadSessionDep,
                    principal: OptionalPrincipalDep) -> ComparisonPublic:
    """A comparison with every participant's result and its evaluation: reference value
    and u, chi-squared check, participants left out, degrees of equivalence with U (k = 2),
    E_n, ζ (and z for a proficiency test with σ_pt). Public once published; before, the
    pilot's staff (everything) and the participants' staff (their own results, no
    evaluation) only; anyone else: 404."""
    row = comparisons.comparison_by_identifier(session, principal, identifier)
    return comparisons.comparison_public(session, row, principal)


@router.post("/comparisons/{identifier}/results", response_model=ComparisonPublic,
             tags=["comparisons"], responses=WRITE)
def enter_result(identifier: IdentifierPath, body: ResultIn, principal: WriterDep,
                 session: SessionDep) -> ComparisonPublic:
    """Enter or replace a participant's result (its own staff or the pilot's; 403 for
    another organisation). 409 once the comparison is closed or published; 422 for a
    value or u out of bounds, or a standard the participant does not hold."""
    comparisons.enter_result(session, principal=principal, identifier=identifier, data=body)
    row = comparisons.comparison_by_identifier(session, principal, identifier)
    return comparisons.comparison_public(session, row, principal)


@router.post("/comparisons/{identifier}/status", response_model=ComparisonPublic,
             tags=["comparisons"], responses=WRITE)
def set_status(identifier: IdentifierPath, body: StatusIn, principal: WriterDep,
               session: SessionDep) -> ComparisonPublic:
    """Open a planned comparison or close it to entries (the pilot's staff); 409 from a
    state it does not follow."""
    row = comparisons.set_status(session, principal=principal, identifier=identifier,
                                 data=body)
    return comparisons.comparison_public(session, row, principal)


@router.post("/comparisons/{identifier}/publish", response_model=ComparisonPublic,
             tags=["comparisons"], responses=WRITE)
def publish(identifier: IdentifierPath, body: PublishIn, principal: WriterDep,
            session: SessionDep) -> ComparisonPublic:
    """Publish the evaluation (the pilot's staff; 403 for a person who entered results);
    results are locked from then on. 409: published already, or too few results."""
    row, _failures = comparisons.publish_comparison(
        session, principal=principal, identifier=identifier, data=body,
        on_failed=quality.open_comparison_events)
    return comparisons.comparison_public(session, row, principal)
