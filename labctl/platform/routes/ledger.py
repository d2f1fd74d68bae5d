"""Routes: the primary-standards ledger — the public ledger and its report (JSON and CSV),
the holder's edits of a record and its components, and their history (thin: each calls one
service of :mod:`labctl.platform.registry.ledger`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from labctl.platform.models.ledger import (
    ComponentIn,
    ComponentPublic,
    HistoryEntry,
    LedgerAggregates,
    LedgerEntry,
    ProfileIn,
)
from labctl.platform.models.registry import Page
from labctl.platform.registry import ledger
from labctl.platform.routes.deps import (
    AUTHED,
    PUBLIC_OPT,
    R422,
    WRITE,
    OptionalPrincipalDep,
    PrincipalDep,
    ReadSessionDep,
    RowId,
    SessionDep,
    WriterDep,
)

router = APIRouter(prefix="/api/v1", tags=["ledger"])

Identifier = Annotated[str, Path(min_length=1, max_length=64,
                                 description="The national primary standard's identifier")]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=ledger.MAX_LIMIT)]
CSV_NAME = "primary-standards-ledger.csv"


@router.get("/ledger", response_model=Page[LedgerEntry], responses=R422)
def list_ledger(session: ReadSessionDep, offset: Offset = 0,
                limit: Limit = 50) -> Page[LedgerEntry]:
    """The published national primary standards by holder and identifier, each with its
    ledger record (area, status, self-reliance class, risks, actions) and core components
    (`domain` … `components` empty until the holder enters the record)."""
    return ledger.ledger_entries(session, offset=offset, limit=limit)


@router.get("/ledger/aggregates", response_model=LedgerAggregates, responses=R422)
def read_aggregates(session: ReadSessionDep) -> LedgerAggregates:
    """The report's table: per metrology area the standards fully, partly and not
    self-reliant and suspended (exclusive columns: a suspended standard counts only as
    suspended), counts and % of the row; the total row (% of all); the imported core
    components with and without a domestic alternative."""
    return ledger.ledger_aggregates(session)


@router.get("/ledger/aggregates.csv", response_class=Response, responses={
    **R422, 200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                  "description": "The report's table as CSV (UTF-8, CRLF; cells a "
                                 "spreadsheet would read as a formula start with `'`)"}})
def read_aggregates_csv(session: ReadSessionDep) -> Response:
    """The report's table as a CSV file to download (the JSON route's figures)."""
    return Response(ledger.aggregates_csv(ledger.ledger_aggregates(session)),
                    media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{CSV_NAME}"'})


@router.get("/ledger/{identifier}", response_model=LedgerEntry, responses=PUBLIC_OPT)
def read_entry(identifier: Identifier, session: ReadSessionDep,
               principal: OptionalPrincipalDep) -> LedgerEntry:
    """One national primary standard's ledger entry (another kind of standard: 404)."""
    return ledger.ledger_entry(session, identifier, principal)


@router.put("/ledger/{identifier}", response_model=LedgerEntry, status_code=200,
            responses={**WRITE, 201: {"model": LedgerEntry,
                                      "description": "The record was created"}})
def put_profile(identifier: Identifier, body: ProfileIn, principal: WriterDep,
                session: SessionDep, response: Response) -> LedgerEntry:
    """Create or replace the standard's ledger record (data entry, reviewer or admin of the
    institute that holds it); 201 when created, 200 when replaced (unchanged: nothing
    written)."""
    _, created = ledger.put_profile(session, principal=principal, identifier=identifier,
                                    data=body)
    if created:
        response.status_code = 201
    return ledger.ledger_entry(session, identifier, principal)


@router.post("/ledger/{identifier}/components", response_model=ComponentPublic,
             status_code=201, responses=WRITE)
def add_component(identifier: Identifier, body: ComponentIn, principal: WriterDep,
                  session: SessionDep) -> ComponentPublic:
    """Add a core component (the record must exist: 409 `no_ledger_record`)."""
    return ledger.component_public(ledger.add_component(
        session, principal=principal, identifier=identifier, data=body))


@router.put("/ledger/{identifier}/components/{component_id}", response_model=ComponentPublic,
            responses=WRITE)
def update_component(identifier: Identifier, component_id: RowId, body: ComponentIn,
                     principal: WriterDep, session: SessionDep) -> ComponentPublic:
    """Replace a component of the standard's record (another standard's component: 404)."""
    return ledger.component_public(ledger.update_component(
        session, principal=principal, identifier=identifier, component_id=component_id,
        data=body))


@router.get("/ledger/{identifier}/history", response_model=list[HistoryEntry],
            responses=AUTHED)
def read_history(identifier: Identifier, principal: PrincipalDep,
                 session: ReadSessionDep) -> list[HistoryEntry]:
    """Every change of the record and its components, oldest first: who, when, and each
    field with its old and new value (the holder's staff and administrators above it)."""
    return ledger.ledger_history(session, principal=principal, identifier=identifier)
