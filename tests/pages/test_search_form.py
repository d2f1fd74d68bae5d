"""The search form read as the JSON route reads its query: each refused value gets its own
message (for the field it belongs to), everything typed is kept, and good input becomes the
same ``SearchFilters`` the API builds."""

from __future__ import annotations

from decimal import Decimal

import pytest

from labctl.platform.models.base import StandardKind
from labctl.platform.pages.public.search import read_form
from labctl.platform.pages.render import translator

_ = translator("en")


@pytest.mark.parametrize(("params", "field", "words"), [
    ({"value": "abc"}, "value", "Enter a number"),
    ({"value": "1,5"}, "value", "Enter a number"),  # a decimal comma is not guessed at
    ({"value": "NaN"}, "value", "finite"),
    ({"value": "-Infinity"}, "value", "finite"),
    ({"value": "1e999"}, "value", "10^30"),
    ({"value": "1" * 41}, "value", "at most 40 digits"),
    ({"max_uncertainty": "-0.1", "value": "1"}, "max_uncertainty", "cannot be negative"),
    ({"max_uncertainty": "0.1"}, "max_uncertainty", "Give a value as well"),
    ({"value": "0", "max_relative_uncertainty": "0.001"}, "value", "must not be zero"),
    ({"q": "x" * 201}, "q", "at most 200 characters"),
    ({"organisation": "X" * 33}, "organisation", "at most 32 characters"),
])
def test_refused_values_are_named_and_the_form_kept(params: dict[str, str], field: str,
                                                    words: str) -> None:
    form, errors, filters = read_form({**params, "region": "North"}, _)
    assert filters is None and list(errors) == [field] and words in errors[field]
    assert form["region"] == "North" and form[field] == params[field]


def test_good_input_becomes_the_apis_filters() -> None:
    _form, errors, filters = read_form({
        "what": "standards", "q": " fluke 5522 ", "quantity": "DC voltage", "value": "1000",
        "max_uncertainty": "0.05", "kind": "working", "status": "nonsense", "sort": "range",
        "size": "10", "page": "3"}, _)
    assert not errors and filters is not None
    assert filters.q == "fluke 5522" and filters.value == Decimal("1000")
    assert filters.kind == StandardKind.WORKING and filters.status is None
    assert (filters.sort, filters.limit, filters.offset) == ("range", 10, 20)


def test_odd_paging_and_sorting_fall_back_to_defaults() -> None:
    form, errors, filters = read_form({"sort": "<script>", "size": "100000", "page": "-2",
                                       "what": "everything", "kind": "working"}, _)
    assert not errors and filters is not None
    assert (filters.sort, filters.limit, filters.offset) == ("uncertainty", 25, 0)
    assert form["what"] == "capabilities" and filters.kind is None  # kind: standards only
