"""Error bodies that never echo a secret nor fail to encode: the field path, a safe copy of
the refused value, and the rule it broke."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi.responses import JSONResponse

from labctl.platform.routes.deps import (
    ErrorBody,
    FieldError,
)

#: A field whose name matches is a secret: its value never appears in an answer.
SECRET_NAME = re.compile(
    r"pass(word|wd|phrase)?|secret|token|api[-_]?key|credential|private[-_]?key|"
    r"authori[sz]ation|cookie|session[-_]?id", re.IGNORECASE)


REDACTED = "[redacted]"


_MAX_TEXT = 120


def is_secret_name(*names: object) -> bool:
    """Whether any part of a field path names a secret (``password``, ``access_token``, …)."""
    return any(isinstance(n, str) and SECRET_NAME.search(n) for n in names)


def safe_value(value: Any, *path: object) -> Any:
    """``value`` as it may be shown back to the client: JSON-encodable whatever it is
    (non-finite numbers, bytes, huge integers), short, and never a secret.

    Objects and arrays are described, not echoed: a secret inside one has no name to find.
    """
    if is_secret_name(*path):
        return REDACTED
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if value.bit_length() <= 64 else f"an integer of {value.bit_length()} bits"
    if isinstance(value, float):
        return value if math.isfinite(value) else _non_finite_text(value)
    if isinstance(value, Mapping):
        return f"an object with {len(value)} member(s)"
    if isinstance(value, list | tuple | set | frozenset):
        return f"an array of {len(value)} item(s)"
    if isinstance(value, bytes | bytearray):
        value = bytes(value[: _MAX_TEXT * 4]).decode("utf-8", "replace")
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "…"


def _non_finite_text(value: float) -> str:
    return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"


def secrets_in(data: Any) -> set[str]:
    """Every string value under a secret-named key of a parsed JSON body (to scrub them
    from messages a validator may have written)."""
    found: set[str] = set()
    stack: list[tuple[Any, bool]] = [(data, False)]
    while stack:
        item, secret = stack.pop()
        if isinstance(item, Mapping):
            stack.extend((v, secret or is_secret_name(k)) for k, v in item.items())
        elif isinstance(item, list | tuple):
            stack.extend((v, secret) for v in item)
        elif secret and isinstance(item, str | int | float) and str(item):
            found.add(str(item))
    return found


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``[redacted]`` (longest first)."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 3:
            text = text.replace(secret, REDACTED)
    return text


def field_path(loc: Sequence[object]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def field_errors(errors: Sequence[Mapping[str, Any]], body: Any) -> list[FieldError]:
    """Pydantic / FastAPI error dicts as ``FieldError``: the path, the value shown safely and
    what is allowed; the ``input`` of a missing field (its parent object) is not shown."""
    secrets = secrets_in(body)
    out = []
    for e in errors:
        loc = tuple(e.get("loc", ()))
        kind = e.get("type", "")
        msg = str(e.get("msg", "invalid"))
        if kind == "json_invalid":
            ctx = e.get("ctx") or {}
            msg = f"valid JSON ({ctx.get('error', 'decode error')} at position {loc[-1]})"
            loc = loc[:1]
            value = None
        elif kind == "missing":
            value = None
        else:
            value = safe_value(e.get("input"), *loc)
        if isinstance(value, str):
            value = scrub(value, secrets)
        out.append(FieldError(field=field_path(loc), value=value, allowed=scrub(msg, secrets),
                              rule=kind or None))
    return out


def validation_body(errors: Sequence[FieldError]) -> ErrorBody:
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return ErrorBody(error="ValidationError", detail=f"{first.field}: {first.allowed}{more}",
                     field=first.field, value=first.value, allowed=first.allowed,
                     errors=list(errors))


def error_response(body: ErrorBody, status: int,
                   headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status,
                        headers=dict(headers or {}))
