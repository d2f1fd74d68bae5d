"""The API's HTTP surface under hostile or careless input (issue 9): every 4xx is the one
documented ``ErrorBody``, nothing reaches a 500, no secret is echoed, oversized headers get a
clear answer, the docs pages work without internet and every page sends security headers.

All against the live uvicorn server of ``tests/fixtures/db.py`` (real sockets, real database).
"""

from __future__ import annotations

import json
import re
import socket
import urllib.parse
from typing import Any

import httpx
import pytest

from labctl.platform.routes.deps import ErrorBody
from tests.fixtures.db import PASSWORD, World
from tests.platform.helpers import ensure_cmcs, ok, publish_standard, uid

JSON = {"Content-Type": "application/json"}


def _error(resp: httpx.Response, status: int) -> ErrorBody:
    """The answer is ``status`` with exactly the documented error body."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json"), resp.headers
    body = resp.json()
    assert set(body) <= set(ErrorBody.model_fields), body
    return ErrorBody.model_validate(body)


# --- 1. non-finite JSON numbers -------------------------------------------------------------

@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_a_422_naming_the_field_even_unauthenticated(
        api: httpx.Client, literal: str) -> None:
    resp = api.post("/api/v1/auth/token", headers=JSON,
                    content=f'{{"username": "someone", "password": {literal}}}')
    err = _error(resp, 422)
    assert err.field == "body.password"
    assert "finite" in (err.allowed or "")


def test_non_finite_numbers_in_an_authenticated_body(api: httpx.Client, world: World) -> None:
    body = ('{{"organisation_code": "{}", "domain": "electrical DC", "quantity": "DC voltage",'
            ' "unit": "V", "range_min": NaN, "range_max": Infinity,'
            ' "uncertainty_relative": "0.000002", "uncertainty_absolute": "0",'
            ' "method": "x"}}'.format(world.orgs["lab"]))
    err = _error(api.post("/api/v1/capabilities", content=body,
                          headers={**JSON, **world.headers("lab", "data_entry")}), 422)
    assert err.field == "body.range_min"
    # a nested non-finite value is found where it is
    err = _error(api.post("/api/v1/auth/token", headers=JSON,
                          content='{"username": "a", "password": "b", "x": [1, {"y": NaN}]}'),
                 422)
    assert err.field == "body.x.1.y"


def test_nul_characters_are_a_422_not_a_database_error(api: httpx.Client,
                                                       world: World) -> None:
    # PostgreSQL refuses NUL in text: it was a 500 on every text field and query parameter
    org = {"code": uid("N"), "name": "Bad\u0000Name", "level": "industry",
           "parent_code": world.orgs["prov"]}
    err = _error(api.post("/api/v1/organisations", json=org, headers=world.su), 422)
    assert err.field == "body.name" and "NUL" in (err.allowed or "")
    err = _error(api.post("/api/v1/auth/token", json={"username": "a", "password": "b",
                                                      "x\u0000": 1}), 422)
    assert err.field == "body"
    err = _error(api.get("/api/v1/standards", params={"unit": "V\x00"}), 422)
    assert err.field == "query.unit"
    err = _error(api.get("/api/v1/organisations/AB%00C"), 422)
    assert err.field == "path"
    assert api.get(f"/api/v1/organisations/{org['code']}").status_code == 404  # not stored


# --- 2. secrets are never echoed ------------------------------------------------------------

SECRET = "hunter2-Sup3rSecret-passphrase"


@pytest.mark.parametrize("body", [
    {"username": "", "password": SECRET},                  # error on another field
    {"password": SECRET},                                  # missing field: input is the body
    {"username": "a", "password": SECRET, "extra": 1},     # forbidden extra field
    {"username": "a", "password": SECRET * 20},            # the password itself is too long
    [SECRET],                                              # not an object at all
], ids=["other-field", "missing-field", "extra-field", "too-long", "not-an-object"])
def test_validation_errors_never_echo_the_password(api: httpx.Client, body: Any) -> None:
    resp = api.post("/api/v1/auth/token", json=body)
    _error(resp, 422)
    assert "Sup3rSecret" not in resp.text


def test_a_user_creation_error_does_not_echo_the_new_password(
        api: httpx.Client, world: World) -> None:
    resp = api.post(f"/api/v1/organisations/{world.orgs['lab']}/users", headers=world.su,
                    json={"username": uid("u").lower(), "full_name": "X",
                          "password": "Sup3rSecret", "roles": ["not-a-role"]})
    err = _error(resp, 422)
    assert "Sup3rSecret" not in resp.text
    assert err.field is not None and err.field.startswith("body.")


@pytest.mark.parametrize("field", ["password", "new_password", "access_token", "api_key"])
def test_a_domain_validation_error_on_a_secret_field_hides_the_value(field: str) -> None:
    # the same mapping the server uses for labctl's own errors (labctl/api.py)
    from labctl.api import _error_body
    from labctl.errors import ValidationError

    body = _error_body(ValidationError(field, "Sup3rSecret  ", "at least 10 characters"))
    text = body.model_dump_json()
    assert "Sup3rSecret" not in text
    assert body.field == field and body.value == "[redacted]"
    assert body.allowed == "at least 10 characters"


def test_a_domain_error_value_is_always_encodable() -> None:
    from labctl.api import _error_body
    from labctl.errors import RuleViolationError, ValidationError

    body = _error_body(ValidationError("nplc", float("nan"), "0.02 … 100"))
    assert body.value == "NaN"
    json.dumps(body.model_dump(), allow_nan=False)
    body = _error_body(RuleViolationError("u_below_cmc", "too small", U=float("-inf"),
                                          n=10 ** 5000))
    json.dumps(body.model_dump(), allow_nan=False)


# --- 3. one error body for every 4xx ----------------------------------------------------------

def test_request_validation_errors_name_field_value_and_allowed(
        api: httpx.Client, world: World) -> None:
    err = _error(api.get("/api/v1/capabilities", params={"limit": "many"}), 422)
    assert err.error == "ValidationError"
    assert err.field == "query.limit" and err.value == "many"
    assert err.allowed and "integer" in err.allowed
    # malformed JSON: which position, what is allowed
    err = _error(api.post("/api/v1/auth/token", headers=JSON, content=b'{"username": '), 422)
    assert err.field is not None and err.field.startswith("body")
    assert err.allowed and "JSON" in err.allowed
    # several errors: the first at the top, all listed
    err = _error(api.post("/api/v1/auth/token", json={}), 422)
    assert err.errors is not None and {e.field for e in err.errors} == {
        "body.username", "body.password"}


@pytest.mark.parametrize("method,path,status", [
    ("GET", "/api/v1/no-such-thing", 404),
    ("GET", "/nothing-here", 404),
    ("PUT", "/api/v1/organisations", 405),
    ("GET", "/api/v1/users/me", 401),
    ("GET", "/api/v1/certificates/NOPE-0", 401),
])
def test_every_4xx_is_the_documented_error_body(api: httpx.Client, method: str, path: str,
                                                status: int) -> None:
    err = _error(api.request(method, path), status)
    assert err.detail
    if status == 405:
        assert "GET" in api.request(method, path).headers["allow"]


def test_every_operation_documents_its_errors_with_the_error_body(api: httpx.Client) -> None:
    spec = ok(api.get("/openapi.json"))
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    problems = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for code, answer in op["responses"].items():
                if not code.startswith(("4", "5")):
                    continue
                schema = answer.get("content", {}).get("application/json", {}).get("schema")
                if schema != {"$ref": "#/components/schemas/ErrorBody"}:
                    problems.append(f"{method} {path} {code}: {schema}")
            if "400" not in op["responses"]:
                problems.append(f"{method} {path}: 400 undocumented")
    assert problems == []


# --- 5. idempotency keys ----------------------------------------------------------------------

def test_non_ascii_idempotency_keys_are_refused_not_garbled(
        api: httpx.Client, world: World) -> None:
    ensure_cmcs(api, world)
    std = publish_standard(api, world, "lab", kind="working")["identifier"]
    number = ok(api.post("/api/v1/certificates", headers=world.headers("lab", "technician"),
                         json={"laboratory_code": world.orgs["lab"],
                               "customer_name": "C", "customer_address": "A",
                               "item_description": "DMM", "quantity": "DC voltage",
                               "procedure": "DCV-01", "method": "m", "location": "l",
                               "calibration_begin": "2026-01-01T08:00:00Z",
                               "calibration_end": "2026-01-01T09:00:00Z",
                               "standards": [std], "decision_rule": "simple"}),
                201)["number"]
    points = {"points": [{"table_title": "T", "quantity": "DC voltage", "unit": "V",
                          "nominal": "10", "reference_value": "10",
                          "measured_value": "10.00001", "expanded_uncertainty": "0.0001",
                          "coverage_factor": "2", "coverage_probability": "0.95"}]}
    for key in ("clé-ümlaut", "key with space", "tab\tkey", "k" * 201, "a/b", "50%"):
        resp = api.post(f"/api/v1/certificates/{number}/results", json=points,
                        headers={**world.station("lab"), "Idempotency-Key": key.encode()})
        err = _error(resp, 422)
        assert err.field == "header.idempotency-key", key
        assert err.allowed and "ASCII" in err.allowed
        assert err.value is None or "\ufffd" not in str(err.value)
    cert = ok(api.get(f"/api/v1/certificates/{number}", headers=world.headers("lab", "checker")))
    assert cert["points"] == []   # nothing stored under any garbled key
    good = "run-2026_01.01.A~Z-lab.1"
    ok(api.post(f"/api/v1/certificates/{number}/results", json=points,
                headers={**world.station("lab"), "Idempotency-Key": good}), 201)
    # the key is stored exactly: the discard route finds it again
    ok(api.request("DELETE", f"/api/v1/certificates/{number}/results/"
                   f"{urllib.parse.quote(good, safe='')}",
                   headers=world.headers("lab", "technician"), json={"reason": "test"}), 204)


# --- 6. oversized headers ---------------------------------------------------------------------

def _raw_request(url: str, request: bytes) -> bytes:
    """Send ``request`` on a plain socket and read the whole answer (the server closes)."""
    host, port = urllib.parse.urlsplit(url).netloc.split(":")
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("size", [64 * 1024, 1024 * 1024])
def test_an_oversized_header_gets_a_431_with_the_error_body(
        api: httpx.Client, platform_url: str, size: int) -> None:
    # through a real client, which sends the whole request before it reads the answer
    resp = api.get("/api/v1/organisations", headers={"X-Big": "a" * size})
    err = _error(resp, 431)
    assert "header" in err.detail.lower()
    # and on a raw socket
    raw = _raw_request(platform_url, b"GET /api/v1/organisations HTTP/1.1\r\nHost: x\r\n"
                       b"X-Big: " + b"b" * size + b"\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 "), head[:200]
    assert json.loads(body)["error"] == "RequestHeaderFieldsTooLarge"
    # the server is still fine
    ok(api.get("/api/v1/organisations"))


def test_a_malformed_request_gets_a_400_with_the_error_body(platform_url: str) -> None:
    raw = _raw_request(platform_url, b"GET /api/v1/organisations HTTP/1.1\r\nHost: x\r\n"
                       b"Bad Header Line\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), head[:200]
    ErrorBody.model_validate(json.loads(body))


# --- 7. docs served from the package ----------------------------------------------------------

def _assets(page: str) -> list[str]:
    return re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", page) + re.findall(
        r"""(?:url|spec-url)\s*[:=]\s*["']([^"']+)["']""", page)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_use_only_same_origin_assets_that_are_served(
        api: httpx.Client, page: str) -> None:
    resp = api.get(page)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    urls = _assets(resp.text)
    assert urls, resp.text
    assert not re.search(r"https?://|//[a-z]", resp.text.replace("http-equiv", "")), resp.text
    for url in urls:
        assert url.startswith("/"), url
        asset = api.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url
        assert asset.headers["x-content-type-options"] == "nosniff"
    js = [u for u in urls if u.endswith(".js")]
    assert js, urls
    for url in js:
        assert api.get(url).headers["content-type"].startswith(("text/javascript",
                                                                "application/javascript"))


def test_docs_assets_come_from_an_installed_package() -> None:
    from labctl.platform.routes.web import DOCS_ASSETS

    names = {p.name for p in DOCS_ASSETS.iterdir()}
    assert {"swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"} <= names


# --- 8. security headers ----------------------------------------------------------------------

def _csp(resp: httpx.Response) -> dict[str, str]:
    return {d.strip().split(" ", 1)[0]: d.strip().partition(" ")[2]
            for d in resp.headers["content-security-policy"].split(";") if d.strip()}


@pytest.mark.parametrize("page", ["/docs", "/redoc", "verify"])
def test_html_pages_send_security_headers(api: httpx.Client, world: World, page: str) -> None:
    if page == "verify":
        page = "/api/v1/verify/NO-SUCH-1"   # a 404 page for a browser still gets the headers
    resp = api.get(page, headers={"Accept": "text/html"})
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["x-frame-options"] == "DENY"
    assert resp.headers["referrer-policy"] == "no-referrer"
    csp = _csp(resp)
    assert csp["frame-ancestors"] == "'none'"
    assert csp["default-src"] == "'none'"
    assert csp.get("script-src", "'self'").split()[0] in ("'self'", "'sha256-")
    assert "'unsafe-inline'" not in csp.get("script-src", "")
    assert "'unsafe-eval'" not in csp.get("script-src", "")
    assert "http" not in resp.headers["content-security-policy"]
    if page in ("/docs", "/redoc"):
        # the page's own inline script (if any) is allowed by its hash, nothing else inline
        inline = re.findall(r"<script>(.*?)</script>", resp.text, flags=re.S)
        import base64
        import hashlib
        for script in inline:
            digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in csp["script-src"]
        assert csp["connect-src"] == "'self'"   # the page fetches /openapi.json


def test_strict_transport_security_when_served_over_https(api: httpx.Client) -> None:
    # the test server's public URL is https://labctl.test: it is deployed behind HTTPS
    hsts = api.get("/api/v1/organisations").headers["strict-transport-security"]
    assert re.fullmatch(r"max-age=\d+; includeSubDomains", hsts)
    assert int(hsts.split("=")[1].split(";")[0]) >= 31536000


def test_json_answers_to_authenticated_requests_are_not_stored(
        api: httpx.Client, world: World) -> None:
    resp = api.get("/api/v1/users/me", headers=world.headers("lab", "checker"))
    assert resp.status_code == 200
    assert resp.headers["cache-control"] == "no-store"
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert _csp(resp) == {"default-src": "'none'", "frame-ancestors": "'none'"}
    err = api.post("/api/v1/auth/token", json={"username": "nobody", "password": "x" * 12})
    assert err.headers["cache-control"] == "no-store"  # token answers too
    token = api.post("/api/v1/auth/token", json={"username": world.usernames[("lab", "checker")],
                                                 "password": PASSWORD})
    assert token.status_code == 200 and token.headers["cache-control"] == "no-store"


def test_optional_authentication_is_documented_and_a_bad_token_is_still_refused(
        api: httpx.Client) -> None:
    spec = ok(api.get("/openapi.json"))
    optional = [(path, method) for path, ops in spec["paths"].items()
                for method, op in ops.items() if {} in op.get("security", [])]
    assert ("/api/v1/capabilities/{cmc_id}", "get") in optional
    assert all(len(spec["paths"][p][m]["security"]) == 2 for p, m in optional)
    assert {} not in spec["paths"]["/api/v1/users/me"]["get"]["security"]
    resp = api.get("/api/v1/capabilities/1", headers={"Authorization": "Bearer lct_forged"})
    _error(resp, 401)
