"""Comparison pages: the list of comparisons (``/comparisons``) and a page per comparison
(``/comparisons/{identifier}``) with its participants' results, degrees of equivalence and
E_n, and a plot of the degrees of equivalence with their expanded uncertainties around zero
(an inline SVG laid out here: no script, readable by a screen reader through its title,
description and the table beside it).

Comparisons are read through the service's ``comparison_by_identifier`` as the JSON route
reads them: before publication only the pilot's and the participants' staff see one;
anyone else gets the same 404 as for an identifier that does not exist.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from labctl.errors import NotFoundError
from labctl.platform import comparisons
from labctl.platform.accounts.auth import Principal
from labctl.platform.comparisons import Evaluation, ParticipantScore
from labctl.platform.models.comparisons import IDENTIFIER_PATTERN, Comparison
from labctl.platform.pages.public import view
from labctl.platform.pages.render import N_, page_count, render
from labctl.platform.pages.session import OptionalPageUserDep
from labctl.platform.routes.deps import ReadSessionDep
from labctl.uncertainty import round_result

router = APIRouter()
PAGE = 50

KIND: dict[str, str] = {
    "key": N_("Key comparison"),
    "supplementary": N_("Supplementary comparison"),
    "interlaboratory": N_("Interlaboratory comparison"),
    "proficiency_test": N_("Proficiency test"),
}
STATUS: dict[str, tuple[str, str]] = {
    "planned": (N_("Planned"), "warn"),
    "open": (N_("Open"), "warn"),
    "closed": (N_("Closed"), "warn"),
    "published": (N_("Published"), "ok"),
}
METHOD: dict[str, str] = {
    "weighted_mean": N_("Weighted mean of the largest consistent subset"),
    "assigned_value": N_("Value assigned by the provider"),
}

#: SI prefixes a plot's axis and the table's degrees of equivalence are scaled by.
PREFIXES = {-15: "f", -12: "p", -9: "n", -6: "µ", -3: "m", 0: "", 3: "k", 6: "M", 9: "G"}


def scale_for(magnitude: float) -> int:
    """The power of ten (a multiple of 3, −15 … 9) that shows ``magnitude`` as 1 … 999."""
    if not math.isfinite(magnitude) or magnitude <= 0:
        return 0
    return max(-15, min(9, math.floor(math.log10(magnitude) / 3) * 3))


@dataclass(frozen=True)
class PlotPoint:
    """One participant on the plot: ``x``, ``y`` the point (d), ``y_low``/``y_high`` the
    ends of its error bar (d ∓ U(d)), in SVG coordinates."""

    label: str
    x: float
    y: float
    y_low: float
    y_high: float
    passed: bool
    contributing: bool


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class DoePlot:
    """The laid-out plot: size, the zero line's y, the axis ticks and the points."""

    width: int
    height: int
    left: int
    right: int
    zero_y: float
    ticks: tuple[Tick, ...]
    points: tuple[PlotPoint, ...]
    unit_label: str


def _tick_step(span: float) -> float:
    raw = span / 4
    power = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if m * power >= raw:
            return m * power
    return 10.0 * power  # pragma: no cover - the loop always returns


def doe_plot(scores: tuple[ParticipantScore, ...], unit: str, *, exponent: int) -> DoePlot:
    """Lay the degrees of equivalence d_i ± U(d_i) out around zero: one column per
    participant (in order), the vertical axis in ``unit`` scaled by 10^``exponent``."""
    width, height, left, right, top, bottom = 640, 300, 72, 16, 16, 56
    factor = 10.0 ** -exponent
    highs = [abs(p.d * factor) + p.U_d * factor for p in scores
             if math.isfinite(p.d) and math.isfinite(p.U_d)]
    extent = max(highs, default=1.0) or 1.0
    step = _tick_step(2 * extent)
    limit = math.ceil(extent / step) * step
    plot_h = height - top - bottom

    def y_of(v: float) -> float:
        return round(top + (limit - v) / (2 * limit) * plot_h, 2)

    n = max(len(scores), 1)
    column = (width - left - right) / n
    points = tuple(PlotPoint(
        label=p.entry.participant, x=round(left + column * (i + 0.5), 2),
        y=y_of(p.d * factor), y_low=y_of(p.d * factor - p.U_d * factor),
        y_high=y_of(p.d * factor + p.U_d * factor), passed=p.passed,
        contributing=p.contributing) for i, p in enumerate(scores))
    count = round(2 * limit / step)
    ticks = tuple(Tick(y=y_of(-limit + j * step), label=f"{-limit + j * step:g}")
                  for j in range(count + 1))
    return DoePlot(width=width, height=height, left=left, right=width - right,
                   zero_y=y_of(0.0), ticks=ticks, points=points,
                   unit_label=f"{PREFIXES[exponent]}{unit}")


def rows_of(ev: Evaluation, exponent: int) -> list[dict[str, Any]]:
    """Each participant as the table shows it: d and U(d) scaled and rounded together
    (EA-4/02: U to two significant digits, d to the same place), E_n to two decimals."""
    factor = 10.0 ** -exponent
    out = []
    for p in ev.participants:
        r = round_result(p.d * factor, p.U_d * factor) if p.U_d > 0 else None
        out.append({"p": p, "doe": str(r.value_str) if r else f"{p.d * factor:g}",
                    "U_doe": str(r.U_str) if r else "0", "en": f"{p.en:.2f}",
                    "zeta": f"{p.zeta:.2f}", "z": None if p.z is None else f"{p.z:.2f}"})
    return out


def _reference(ev: Evaluation) -> tuple[str, str]:
    r = round_result(ev.reference_value, ev.reference_u) if ev.reference_u > 0 else None
    return (str(r.value_str), str(r.U_str)) if r else (f"{ev.reference_value:g}", "0")


def exponent_of(ev: Evaluation) -> int:
    return scale_for(max((abs(p.d) + p.U_d for p in ev.participants
                          if math.isfinite(p.d) and math.isfinite(p.U_d)), default=0.0))


def _detail(session: Session, row: Comparison, principal: Principal | None
            ) -> dict[str, Any]:
    public = comparisons.comparison_public(session, row, principal)
    ev = comparisons.evaluate_stored(session, row) \
        if comparisons.sees_everything(session, principal, row) else None
    context: dict[str, Any] = {"c": public, "view": view, "KIND": KIND, "STATUS": STATUS,
                               "METHOD": METHOD, "ev": ev, "rows": [], "plot": None}
    if ev is not None:
        exponent = exponent_of(ev)
        context.update(rows=rows_of(ev, exponent), reference=_reference(ev),
                       plot=doe_plot(ev.participants, row.unit, exponent=exponent),
                       scaled_unit=f"{PREFIXES[exponent]}{row.unit}",
                       names={p.participant_code: p.participant_name
                              for p in public.participants},
                       standards={p.participant_code: p.standard
                                  for p in public.participants})
    return context


@router.get("/comparisons")
def comparison_list(request: Request, session: ReadSessionDep, user: OptionalPageUserDep,
                    page_asked: Annotated[str, Query(alias="page", max_length=12)] = "1"
                    ) -> Response:
    # a page number that is not one (an edited link) is the first page, not an error
    page = int(page_asked) if page_asked.isdigit() and 1 <= int(page_asked) <= 10_000 else 1
    found = comparisons.list_comparisons(session, principal=user.principal if user else None,
                                         offset=(page - 1) * PAGE, limit=PAGE)
    return render(request, "public/comparisons.html", {
        "found": found, "view": view, "KIND": KIND, "STATUS": STATUS, "page_no": page,
        "pages": page_count(found.total, PAGE)}, title=N_("Comparisons"))


@router.get("/comparisons/{identifier}")
def comparison_page(request: Request, identifier: Annotated[str, Path(max_length=64)],
                    session: ReadSessionDep, user: OptionalPageUserDep) -> Response:
    # an identifier that cannot exist is the same "not found" as one that does not
    if re.fullmatch(IDENTIFIER_PATTERN, identifier) is None:
        raise NotFoundError("comparison", identifier)
    row = comparisons.comparison_by_identifier(session, user.principal if user else None,
                                               identifier)
    return render(request, "public/comparison.html",
                  _detail(session, row, user.principal if user else None),
                  title=N_("Comparison"))


def standard_comparisons(session: Session, standard_id: int) -> list[dict[str, Any]]:
    """The published comparisons a standard took part in, for its page: identifier, kind,
    DoE with U(DoE) (scaled, rounded), E_n and whether it passed."""
    out = []
    for row, ev, i in comparisons.standard_participations(session, standard_id):
        exponent = exponent_of(ev)
        shown = rows_of(ev, exponent)[i]
        out.append({"identifier": row.identifier, "kind": row.kind,
                    "published_at": row.published_at, "doe": shown["doe"],
                    "U_doe": shown["U_doe"], "unit": f"{PREFIXES[exponent]}{row.unit}",
                    "en": shown["en"], "passed": ev.participants[i].passed})
    return out
