"""The search page at ``/``: standards and CMCs by domain, quantity, value in range,
uncertainty, organisation, region and free text, sorted and paged.

A GET form, so every result list has a URL. The query is read as text and checked here the
way the JSON route's parameters are (``routes/registry.py``: lengths, finite decimals of at
most 40 digits, uncertainties not negative), then handed to the same
:class:`~labctl.platform.registry.SearchFilters` and search functions, whose own checks
(magnitude, an uncertainty at a value needs the value, ...) come back as
:class:`~labctl.errors.ValidationError`. Either way the message is shown next to its field and
the rest of the page stays as typed: a person is never sent a JSON error.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from labctl.errors import ValidationError
from labctl.platform import registry
from labctl.platform.models.base import StandardKind, StandardStatus
from labctl.platform.pages.public import view
from labctl.platform.pages.render import N_, gettext_for, page_count, render
from labctl.platform.routes.deps import ReadSessionDep
from labctl.quantities import Quantity

router = APIRouter()

#: Text fields and their longest accepted value (as the JSON route's ``max_length``).
TEXT_FIELDS: dict[str, int] = {"q": 200, "domain": 64, "quantity": 100, "organisation": 32,
                               "region": 100}
#: Number fields: name → may it be negative.
NUMBER_FIELDS: dict[str, bool] = {"value": True, "max_uncertainty": False,
                                  "max_relative_uncertainty": False}
#: The filters folded under "More filters" (open when one of them is used).
MORE = ("max_relative_uncertainty", "domain", "organisation", "region", "status", "kind")
MAX_DIGITS = 40  # the JSON route's max_digits
PAGE_SIZES = (10, 25, 50, 100)
DEFAULT_SIZE = 25
MAX_OFFSET = 1_000_000  # the JSON route's bound on offset
SORTS = ("uncertainty", "organisation", "range", "identifier", "newest")
SORT_NAMES = {"uncertainty": N_("Best uncertainty"), "organisation": N_("Organisation"),
              "range": N_("Range"), "identifier": N_("Identifier"), "newest": N_("Newest first")}
WHAT = {"capabilities": N_("Calibration services (CMCs)"),
        "standards": N_("Measurement standards")}

QUANTITIES = [q.value for q in Quantity]
NEED_VALUE = N_("Give a value as well: the uncertainty is taken at that value.")
NOT_ZERO = N_("The value must not be zero when a relative uncertainty is asked for.")
TOO_BIG = N_("Enter a number between -10^30 and 10^30.")


def _number(raw: str, negative_ok: bool, _: Callable[..., str]) -> tuple[Decimal | None, str]:
    text = raw.strip()  # "1,5" is 1.5 or 15 depending on who typed it: refused, not guessed
    if not text:
        return None, ""
    try:
        d = Decimal(text)
    except InvalidOperation:
        return None, _("Enter a number, for example 10 or 0.000005.")
    if not d.is_finite():
        return None, _("Enter a finite number, for example 10 or 0.000005.")
    if len(d.as_tuple().digits) > MAX_DIGITS:
        return None, _("Enter at most %(n)s digits.", n=MAX_DIGITS)
    if not negative_ok and d < 0:
        return None, _("The uncertainty cannot be negative.")
    return d, ""


def _int(raw: str | None, default: int, lo: int, hi: int) -> int:
    try:
        n = int(raw or "")
    except ValueError:
        return default
    return n if lo <= n <= hi else default


def read_form(params: Mapping[str, str], _: Callable[..., str]
              ) -> tuple[dict[str, Any], dict[str, str], registry.SearchFilters | None]:
    """The form as typed, the message per refused field, and the filters (None if refused)."""
    form: dict[str, Any] = {name: params.get(name, "") for name in (*TEXT_FIELDS,
                                                                    *NUMBER_FIELDS)}
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, longest in TEXT_FIELDS.items():
        text = form[name].strip()
        if len(text) > longest:
            errors[name] = _("Use at most %(n)s characters.", n=longest)
        values[name] = text or None
    for name, negative_ok in NUMBER_FIELDS.items():
        d, message = _number(form[name], negative_ok, _)
        if message:
            errors[name] = message
        values[name] = d
    form["what"] = params.get("what") if params.get("what") in WHAT else "capabilities"
    # standards only (as the JSON search of standards): an unknown choice is no choice
    form["status"] = params.get("status") if params.get("status") in view.STATUS else ""
    form["kind"] = params.get("kind") if params.get("kind") in view.KIND else ""
    standards = form["what"] == "standards"
    values["status"] = StandardStatus(form["status"]) if form["status"] and standards else None
    values["kind"] = StandardKind(form["kind"]) if form["kind"] and standards else None
    form["sort"] = params.get("sort") if params.get("sort") in SORTS else "uncertainty"
    form["size"] = _int(params.get("size"), DEFAULT_SIZE, 1, 100)
    if form["size"] not in PAGE_SIZES:
        form["size"] = DEFAULT_SIZE
    form["page"] = _int(params.get("page"), 1, 1, MAX_OFFSET // form["size"] + 1)
    if errors:
        return form, errors, None
    try:
        filters = registry.SearchFilters(
            **values, sort=form["sort"], offset=(form["page"] - 1) * form["size"],
            limit=form["size"])
    except ValidationError as exc:
        field = exc.field if exc.field in NUMBER_FIELDS else "value"
        if field == "max_uncertainty" and values["value"] is None:
            errors[field] = _(NEED_VALUE)
        elif field == "value" and values["value"] == 0:
            errors[field] = _(NOT_ZERO)
        else:
            errors[field] = _(TOO_BIG)
        return form, errors, None
    return form, errors, filters


def link(params: Mapping[str, Any], **changes: Any) -> str:
    """``/?…`` with ``params`` (blank ones left out) and ``changes`` applied."""
    merged = {k: v for k, v in {**params, **changes}.items() if v not in ("", None)}
    return "/?" + urlencode(merged) if merged else "/"


@router.get("/")
def home(request: Request, session: ReadSessionDep) -> Response:
    _ = gettext_for(request)
    form, errors, filters = read_form(request.query_params, _)
    page: Any = None
    if filters is not None:
        search = registry.search_standards if form["what"] == "standards" \
            else registry.search_capabilities
        page = search(session, filters)
        if not page.items and page.total:  # a page past the last (an old link): the last one
            form["page"] = page_count(page.total, form["size"])
            page = search(session, dataclasses.replace(
                filters, offset=(form["page"] - 1) * form["size"]))
    params = {k: v for k, v in form.items() if k != "page"}
    pages = page_count(page.total, form["size"]) if page else 1
    status = 422 if errors else 200
    return render(request, "public/search.html", {
        "form": form, "errors": errors, "page": page, "pages": pages,
        "at": filters.value if filters is not None and filters.value is not None else None,
        "link": lambda **c: link(params, **c), "quantities": QUANTITIES, "what_names": WHAT,
        "sort_names": SORT_NAMES, "sizes": PAGE_SIZES, "view": view,
        "more_open": any(form[k] for k in MORE) or any(k in errors for k in MORE),
    }, status_code=status, title=N_("Search"))
