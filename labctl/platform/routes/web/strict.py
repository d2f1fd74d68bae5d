"""Strict input before any route runs: JSON bodies and query strings with NaN, Infinity or
NUL characters are refused with a 422 naming the field."""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from labctl.platform.routes.deps import (
    FieldError,
)
from labctl.platform.routes.web.errors import (
    error_response,
    field_path,
    safe_value,
    validation_body,
)

NUL_RULE = "text without NUL (U+0000) characters"


FINITE_RULE = "a finite number (JSON has no NaN or Infinity)"


class _NonFinite:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _parse_float(text: str) -> float | _NonFinite:
    value = float(text)
    return value if math.isfinite(value) else _NonFinite(text)


def _first_refused(data: Any) -> FieldError | None:
    """The first value in parsed JSON that nothing downstream can hold: a non-finite number,
    or text (a value or a member name) with a NUL character (PostgreSQL refuses it)."""
    stack: list[tuple[list[object], Any]] = [(["body"], data)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, _NonFinite):
            return FieldError(field=field_path(path), value=item.text, allowed=FINITE_RULE)
        if isinstance(item, str) and "\x00" in item:
            return FieldError(field=field_path(path), value=safe_value(
                item.replace("\x00", "\\u0000"), *path), allowed=NUL_RULE)
        if isinstance(item, dict):
            for key in item:
                if "\x00" in key:
                    return FieldError(field=field_path(path), value=safe_value(
                        key.replace("\x00", "\\u0000")), allowed=f"member names in {NUL_RULE}")
            stack.extend(([*path, k], v) for k, v in reversed(list(item.items())))
        elif isinstance(item, list):
            stack.extend(([*path, i], v) for i, v in reversed(list(enumerate(item))))
    return None


def refused_json(body: bytes) -> FieldError | None:
    """The first number in a JSON body that is not a finite IEEE double (``NaN``,
    ``Infinity``, ``-Infinity``, or one that overflows like ``1e999``), or the first text with
    a NUL; ``None`` if there is none or the body is not JSON (FastAPI reports that itself)."""
    if not body:
        return None
    try:
        data = json.loads(body, parse_constant=_NonFinite, parse_float=_parse_float)
    except (ValueError, RecursionError):
        return None
    return _first_refused(data)


def refused_url(scope: Scope) -> FieldError | None:
    """A NUL in the path or in a query parameter (name or value)."""
    if "\x00" in scope.get("path", ""):
        return FieldError(field="path", value=None, allowed=NUL_RULE)
    query = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True,
                                     encoding="utf-8", errors="replace"):
            if "\x00" in name + value:
                return FieldError(field=field_path(["query", name.replace("\x00", "")]),
                                  value=None, allowed=NUL_RULE)
    return None


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return True  # FastAPI parses a body without a content type as JSON
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime == "application/json" or (mime.startswith("application/")
                                          and mime.endswith("+json"))


class StrictInputMiddleware:
    """Refuses, with a 422 naming the field, input that Python accepts and nothing
    downstream can store, compute with or encode: non-finite JSON numbers, and NUL
    characters in JSON text, the path or the query."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = refused_url(scope)
        headers = dict(scope.get("headers") or ())
        if refused is None and scope["method"] not in ("GET", "HEAD", "OPTIONS") and \
                _is_json(headers.get(b"content-type", b"").decode("latin-1")):
            messages: list[Message] = []
            chunks: list[bytes] = []
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request":
                    break
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            if messages[-1]["type"] == "http.request":
                refused = refused_json(b"".join(chunks))
            replay = iter(messages)

            async def replayed() -> Message:
                return next(replay, None) or await receive()

            receive = replayed
        if refused is not None:
            await error_response(validation_body([refused]), 422)(scope, receive, send)
            return
        await self.app(scope, receive, send)
