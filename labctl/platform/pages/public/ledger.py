"""The ledger of national primary standards (``/ledger``): each with its status, holder and
the holder's CMCs in its quantity: the tops of every traceability chain on the platform;
with its ledger record (self-reliance class, ledger status, core components) and the
report's aggregates as a stacked bar chart by metrology area (inline SVG laid out here, no
script) beside the same figures as a table and a CSV download."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from labctl.errors import PermissionDeniedError
from labctl.platform import registry
from labctl.platform.accounts import policy
from labctl.platform.models.base import StandardKind
from labctl.platform.models.ledger import (
    Alternative,
    AreaRow,
    LedgerAggregates,
    LedgerStatus,
    MetrologyArea,
    Origin,
    SelfReliance,
)
from labctl.platform.pages.public import view
from labctl.platform.pages.render import N_, page_count, render
from labctl.platform.pages.session import OptionalPageUserDep
from labctl.platform.registry import ledger as ledger_service
from labctl.platform.routes.deps import ReadSessionDep

router = APIRouter()
PAGE = 50

#: The metrology areas as shown.
AREA: dict[str, str] = {
    MetrologyArea.ACOUSTICS.value: N_("Acoustics, ultrasound, vibration"),
    MetrologyArea.ELECTRICITY_MAGNETISM.value: N_("Electricity and magnetism"),
    MetrologyArea.LENGTH.value: N_("Length"),
    MetrologyArea.MASS.value: N_("Mass and related quantities"),
    MetrologyArea.PHOTOMETRY_RADIOMETRY.value: N_("Photometry and radiometry"),
    MetrologyArea.CHEMISTRY.value: N_("Chemistry and biology"),
    MetrologyArea.IONISING_RADIATION.value: N_("Ionising radiation"),
    MetrologyArea.THERMOMETRY.value: N_("Thermometry"),
    MetrologyArea.TIME_FREQUENCY.value: N_("Time and frequency"),
}
#: The report's columns as shown, with their fill in the chart (the legend and the table
#: carry the meaning, not the colour).
COLUMN: dict[str, tuple[str, str]] = {
    "fully": (N_("Fully self-reliant"), "#1b7f3b"),
    "partly": (N_("Partly self-reliant"), "#c98a00"),
    "not": (N_("Not self-reliant"), "#b3261e"),
    "suspended": (N_("Suspended"), "#6b6b6b"),
}
RELIANCE: dict[str, str] = {
    SelfReliance.FULLY.value: COLUMN["fully"][0],
    SelfReliance.PARTLY.value: COLUMN["partly"][0],
    SelfReliance.NOT.value: COLUMN["not"][0],
}
LEDGER_STATUS: dict[str, tuple[str, str]] = {
    LedgerStatus.IN_SERVICE.value: (N_("In service"), "ok"),
    LedgerStatus.SUSPENDED.value: (N_("Suspended"), "bad"),
    LedgerStatus.UNDER_RENOVATION.value: (N_("Under renovation"), "warn"),
}
ORIGIN: dict[str, str] = {Origin.DOMESTIC.value: N_("Domestic"),
                          Origin.IMPORTED.value: N_("Imported")}
ALTERNATIVE: dict[str, str] = {
    Alternative.YES.value: N_("a domestic alternative exists"),
    Alternative.NO.value: N_("no domestic alternative"),
    Alternative.IN_DEVELOPMENT.value: N_("a domestic alternative is in development"),
}


# --- the chart ---------------------------------------------------------------------------

LABEL_WIDTH = 250  # px: the area names at the left
BAR_WIDTH = 330  # px: the longest bar (the area with most standards)
ROW_HEIGHT = 26
BAR_HEIGHT = 16
LEGEND_HEIGHT = 30


@dataclass(frozen=True)
class Segment:
    column: str
    count: int
    x: float
    width: float
    fill: str


@dataclass
class Bar:
    row: AreaRow
    y: int
    segments: list[Segment] = field(default_factory=list)
    end: float = 0.0  # where the total's number goes


@dataclass
class Chart:
    width: int
    height: int
    bars: list[Bar]
    legend: list[tuple[str, str, int]]  # (column, fill, x)
    label_x: int = LABEL_WIDTH - 8  # the area names end here
    bar_height: int = BAR_HEIGHT


def layout(agg: LedgerAggregates) -> Chart:
    """The stacked bars of the report by area: one bar per area, its segments the four
    columns in order, lengths in proportion to counts (the fullest area spans
    :data:`BAR_WIDTH`)."""
    most = max((r.total for r in agg.rows), default=0) or 1
    bars = []
    for i, row in enumerate(agg.rows):
        bar = Bar(row=row, y=LEGEND_HEIGHT + i * ROW_HEIGHT)
        x = float(LABEL_WIDTH)
        for column, cell in zip(COLUMN, (row.fully, row.partly, row.not_, row.suspended),
                                strict=True):
            if cell.count:
                width = BAR_WIDTH * cell.count / most
                bar.segments.append(Segment(column, cell.count, round(x, 2), round(width, 2),
                                            COLUMN[column][1]))
                x += width
        bar.end = round(x + 6, 2)
        bars.append(bar)
    legend = [(c, COLUMN[c][1], i * 158) for i, c in enumerate(COLUMN)]
    return Chart(width=LABEL_WIDTH + BAR_WIDTH + 50,
                 height=LEGEND_HEIGHT + len(bars) * ROW_HEIGHT + 6, bars=bars,
                 legend=legend)


@router.get("/ledger")
def ledger(request: Request, session: ReadSessionDep, user: OptionalPageUserDep,
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
    records = ledger_service.records_by_identifier(session, [s.identifier for s in found.items])
    editable: set[str] = set()
    if user is not None:  # the edit link where the policy would let the person edit
        for s in found.items:
            std = registry.standard_by_identifier(session, s.identifier)
            try:
                policy.may_edit_ledger(session, user.principal, std.organisation_id)
            except PermissionDeniedError:
                continue
            editable.add(s.identifier)
    agg = ledger_service.ledger_aggregates(session)
    return render(request, "public/ledger.html", {
        "found": found, "cmcs": cmcs, "view": view, "page_no": page,
        "pages": page_count(found.total, PAGE), "records": records, "editable": editable,
        "agg": agg, "chart": layout(agg), "AREA": AREA, "COLUMN": COLUMN,
        "RELIANCE": RELIANCE, "LEDGER_STATUS": LEDGER_STATUS, "ORIGIN": ORIGIN,
        "ALTERNATIVE": ALTERNATIVE,
    }, title=N_("National primary standards"))
