"""The HTTP surface shared by every route: error bodies that never echo secrets nor fail to
encode, strict JSON request bodies, security headers, the API docs served from installed
packages (a laboratory network has no internet), and a uvicorn protocol that answers oversized
request heads with a 431 instead of dropping the connection.

``labctl.api`` wires these in; nothing here knows a domain route.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from http import HTTPStatus
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any
from urllib.parse import parse_qsl

import fastapi._compat.v2 as _fastapi_v2
import h11
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from labctl.errors import NotFoundError
from labctl.platform.routes.deps import (
    ErrorBody,
    FieldError,
    get_optional_principal,
    get_principal,
)

# --- safe values in error bodies ----------------------------------------------------------

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


# --- strict input -----------------------------------------------------------------------------

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


# --- exact decimals in the OpenAPI document -------------------------------------------------

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


# --- optional authentication in the OpenAPI document ------------------------------------------

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


# --- security headers -------------------------------------------------------------------

#: An HTML page of ours: no script unless the page says so, inline style attributes only.
HTML_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
#: Anything else (JSON, PDF, XML, assets): nothing may be loaded or framed.
OTHER_CSP = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000; includeSubDomains"


class SecurityHeadersMiddleware:
    """Adds the usual security headers to every answer (a page may set its own CSP):
    ``nosniff``, no framing, no referrer, ``Cache-Control: no-store`` on answers to a
    request that carried credentials or asked for a token, and HSTS when the platform's
    public URL is HTTPS (it is then served behind a TLS proxy)."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_headers = dict(scope.get("headers") or ())
        private = b"authorization" in request_headers or b"cookie" in request_headers or \
            scope["path"].startswith("/api/v1/auth/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                ctype = dict(headers).get(b"content-type", b"")
                extra = {
                    b"x-content-type-options": b"nosniff",
                    b"x-frame-options": b"DENY",
                    b"referrer-policy": b"no-referrer",
                    b"content-security-policy": (HTML_CSP if ctype.startswith(b"text/html")
                                                 else OTHER_CSP).encode(),
                }
                if private:
                    extra[b"cache-control"] = b"no-store"
                if self.https:
                    extra[b"strict-transport-security"] = HSTS.encode()
                headers += [(k, v) for k, v in extra.items() if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --- API docs from installed packages -------------------------------------------------------

#: Swagger UI and ReDoc bundles, installed with the ``fastapi-offline`` package (MIT; the
#: bundles are Swagger UI, Apache-2.0, and ReDoc, MIT), served at ``DOCS_ASSETS_URL``.
DOCS_ASSETS: Traversable = resources.files("fastapi_offline") / "static"
DOCS_ASSETS_URL = "/docs-assets"
_ASSET_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                ".png": "image/png"}


def _inline_script_hashes(page: str) -> str:
    scripts = re.findall(r"<script>(.*?)</script>", page, flags=re.S)
    return " ".join("'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()
                    + "'" for s in scripts)


def _with_docs_csp(html: HTMLResponse, *, workers: bool) -> HTMLResponse:
    """A documentation page with the Content-Security-Policy made for its own scripts."""
    page = bytes(html.body).decode()
    return HTMLResponse(page, headers={"Content-Security-Policy": _docs_csp(page,
                                                                            workers=workers)})


def _docs_csp(page: str, *, workers: bool) -> str:
    """The page's own scripts (by file, and its inline start-up script by hash) and the
    OpenAPI document it fetches: nothing from elsewhere."""
    script = " ".join(filter(None, ["'self'", _inline_script_hashes(page)]))
    csp = (f"default-src 'none'; script-src {script}; style-src 'self' 'unsafe-inline'; "
           "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
           "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
    return csp + ("; worker-src 'self' blob:" if workers else "")


def add_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) and ``/redoc`` on assets from the package, never a CDN."""
    assert app.openapi_url is not None
    openapi_url = app.openapi_url

    @app.get(f"{DOCS_ASSETS_URL}/{{name}}", include_in_schema=False)
    def docs_asset(name: str) -> Response:
        suffix = name[name.rfind("."):] if "." in name else ""
        asset = DOCS_ASSETS / name
        if "/" in name or suffix not in _ASSET_TYPES or not asset.is_file():
            raise NotFoundError("documentation asset", name)
        return Response(asset.read_bytes(), media_type=_ASSET_TYPES[suffix],
                        headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        html = get_swagger_ui_html(
            openapi_url=root + openapi_url, title=f"{app.title} — Swagger UI",
            swagger_js_url=f"{root}{DOCS_ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS_URL}/favicon.png",
            oauth2_redirect_url=None)
        return _with_docs_csp(html, workers=False)

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        html = get_redoc_html(
            openapi_url=root + openapi_url, title=f"{app.title} — ReDoc",
            redoc_js_url=f"{root}{DOCS_ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_ASSETS_URL}/favicon.png",
            with_google_fonts=False)
        return _with_docs_csp(html, workers=True)


# --- oversized request heads ------------------------------------------------------------------

#: Request line + headers, in bytes (h11's default is 16 KiB; nginx allows 4 × 8 KiB).
MAX_REQUEST_HEAD = 32 * 1024
#: After refusing a request, how long and how much of the rest of it is read and discarded,
#: so the client (which sends its whole request before it reads) gets the answer instead of
#: a connection reset.
DRAIN_SECONDS = 10.0
DRAIN_BYTES = 16 * 1024 * 1024


class LimitedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with a bounded request head answered by a 431 (and a malformed
    request by a 400), carrying the ``ErrorBody``, then a lingering close.

    h11 itself bounds only a head that arrives in pieces; a large head read in one go would
    pass, so the head is measured here as it comes in.
    """

    _draining = False
    _drained = 0

    def data_received(self, data: bytes) -> None:
        if self._draining:
            self._drained += len(data)
            if self._drained > DRAIN_BYTES:
                self.transport.close()
            return
        if self.conn.their_state is h11.IDLE and self._head_too_large(data):
            self._refuse_head()
            return
        super().data_received(data)

    def _head_too_large(self, data: bytes) -> bool:
        pending = self.conn.trailing_data[0] + data
        end = pending.find(b"\r\n\r\n", 0, MAX_REQUEST_HEAD + 4)
        return (end if end >= 0 else len(pending)) > MAX_REQUEST_HEAD

    def send_400_response(self, msg: str) -> None:
        if len(self.conn.trailing_data[0]) > MAX_REQUEST_HEAD:
            self._refuse_head()
        else:
            self._refuse(400, ErrorBody(error="BadRequest", detail="malformed HTTP request"))

    def _refuse_head(self) -> None:
        self._refuse(431, ErrorBody(
            error="RequestHeaderFieldsTooLarge",
            detail=f"the request line and headers exceed {MAX_REQUEST_HEAD} bytes",
            allowed=f"at most {MAX_REQUEST_HEAD} bytes of request line and headers"))

    def _refuse(self, status: int, body: ErrorBody) -> None:
        """Answer and stop reading requests on this connection. Written directly: h11 may
        be in no state to send a response for a request it never parsed."""
        content = json.dumps(body.model_dump(exclude_none=True)).encode()
        head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
                "content-type: application/json",
                f"content-length: {len(content)}", "connection: close",
                "x-content-type-options: nosniff", f"content-security-policy: {OTHER_CSP}"]
        self.transport.write(("\r\n".join(head) + "\r\n\r\n").encode() + content)
        self._draining = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        asyncio.get_running_loop().call_later(DRAIN_SECONDS, self.transport.close)

    def shutdown(self) -> None:
        if self._draining:
            self.transport.close()
            return
        super().shutdown()


def uvicorn_options() -> dict[str, Any]:
    """The uvicorn settings every labctl server runs with."""
    return {"http": LimitedH11Protocol, "h11_max_incomplete_event_size": MAX_REQUEST_HEAD}
