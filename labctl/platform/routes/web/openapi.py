"""The OpenAPI document as clients need it: exact decimals as patterned strings, and
optional authentication stated on the routes that take it."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import fastapi._compat.v2 as _fastapi_v2
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from labctl.platform.routes.deps import (
    get_optional_principal,
    get_principal,
)


def decimal_pattern(*, max_digits: int | None, decimal_places: int | None,
                    lower: Decimal | None, lower_inclusive: bool,
                    upper: Decimal | None, upper_inclusive: bool) -> str | None:
    """A regular expression whose every match is a decimal the field accepts (fixed-point
    text, no exponent; digits per ``max_digits``/``decimal_places``; the bounds where a
    pattern can say them exactly), or ``None`` when the bounds cannot be said."""
    total = max_digits or 30
    places = decimal_places if decimal_places is not None else total // 2
    whole = max(1, total - places)
    places = min(places, total - whole)
    fraction = rf"(\.\d{{1,{places}}})?" if places > 0 else ""
    nonzero_fraction = rf"\.\d{{0,{max(places - 1, 0)}}}[1-9]" if places > 0 else None
    integral = lower is not None and upper is not None and lower == lower.to_integral() \
        and upper == upper.to_integral() and 0 <= lower < upper and upper - lower <= 100
    if integral:  # a small interval: every whole number in it, spelt out
        assert lower is not None and upper is not None
        parts = [rf"{n}{fraction}" for n in range(int(lower) + 1, int(upper))]
        if lower_inclusive:
            parts.insert(0, rf"{int(lower)}{fraction}")
        elif nonzero_fraction:
            parts.insert(0, rf"{int(lower)}{nonzero_fraction}")
        if upper_inclusive:
            parts.append(rf"{int(upper)}(\.0{{1,{max(places, 1)}}})?")
        return "^(" + "|".join(parts) + ")$" if parts else None
    if (upper is not None and upper <= 0) or (lower is not None and lower > 0):
        return None  # not said by a pattern; the number branch documents these
    magnitude = max((abs(b) for b in (lower, upper) if b is not None), default=None)
    if magnitude is not None and magnitude > 0:  # |x| < 10**w <= the bound: w whole digits
        if magnitude < 10:
            return None
        whole = min(whole, len(str(int(magnitude))) - 1)
    sign = "" if lower is not None and lower >= 0 else "-?"
    number = rf"\d{{1,{whole}}}{fraction}"
    if lower is not None and lower == 0 and not lower_inclusive:
        if not nonzero_fraction:
            return None
        number = rf"([1-9]\d{{0,{whole - 1}}}{fraction}|0{nonzero_fraction})"
    return f"^{sign}{number}$"


class LabctlJsonSchema(_fastapi_v2.GenerateJsonSchema):
    """FastAPI's JSON-schema generator, with decimals documented as what clients send for
    exact values: fixed-point text matching a pattern that says the digits and bounds.

    (pydantic documents a decimal as "a number or any string"; a client, or a fuzzer, sending
    a string from that schema gets a 422.) Where the bounds cannot be a pattern, pydantic's
    number branch stays, with its bounds, beside the text branch."""

    def decimal_schema(self, schema: Any) -> Any:
        if self.mode != "validation":
            return super().decimal_schema(schema)

        def bound(key: str) -> Decimal | None:
            value = schema.get(key)
            return None if value is None else Decimal(str(value))

        lower = bound("ge") if schema.get("ge") is not None else bound("gt")
        upper = bound("le") if schema.get("le") is not None else bound("lt")
        pattern = decimal_pattern(
            max_digits=schema.get("max_digits"), decimal_places=schema.get("decimal_places"),
            lower=lower, lower_inclusive=schema.get("ge") is not None,
            upper=upper, upper_inclusive=schema.get("le") is not None)
        if pattern is None:
            return super().decimal_schema(schema)
        return {"type": "string", "pattern": pattern,
                "description": "An exact decimal, written as text (e.g. \"10.000012\")"}


def use_exact_decimal_schemas() -> None:
    """Make FastAPI's OpenAPI generation use ``LabctlJsonSchema`` (it has no setting for the
    generator class; it looks the name up in this module at each generation)."""
    if not issubclass(_fastapi_v2.GenerateJsonSchema, LabctlJsonSchema):
        _fastapi_v2.GenerateJsonSchema = LabctlJsonSchema  # type: ignore[misc]


def _calls(dependant: Any, func: Any) -> bool:
    return any(d.call is func or _calls(d, func) for d in dependant.dependencies)


def document_optional_auth(app: FastAPI, routers: Iterable[APIRouter]) -> None:
    """Operations that take a token only to show more (``OptionalPrincipalDep``) say so in
    ``/openapi.json``: ``security: [{}, {HTTPBearer: []}]`` (FastAPI writes the token as
    required). A token that is sent is still checked: a bad one is a 401."""
    optional = [(route.path_format, method.lower())
                for router in routers for route in router.routes
                if isinstance(route, APIRoute)
                and _calls(route.dependant, get_optional_principal)
                and not _calls(route.dependant, get_principal)
                for method in route.methods or ()]
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        spec = generate()  # cached by FastAPI; the change below is made once
        for path, method in optional:
            op = spec["paths"].get(path, {}).get(method)
            if op is not None and {} not in op.get("security", []):
                op["security"] = [{}, *op.get("security", [])]
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
