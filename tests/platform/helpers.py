"""Small API helpers for the platform tests (they go through HTTP like any client)."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from tests.fixtures.db import World


def ok(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, f"{resp.status_code}: {resp.text}"
    return resp.json() if resp.content else None


def uid(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4).upper()}"


def publish_standard(api: httpx.Client, world: World, org: str, **overrides: Any) -> dict:
    """Enter (data entry), submit and publish (reviewer) a DC voltage standard."""
    body = {
        "identifier": uid(f"{org.upper()}-DCV"), "kind": "reference",
        "description": "Zener DC voltage reference", "manufacturer": "Fluke", "model": "732C",
        "serial_number": secrets.token_hex(3), "domain": "electrical DC",
        "quantity": "DC voltage", "unit": "V", "range_min": "1", "range_max": "10",
        "uncertainty_relative": "0.000001", "uncertainty_absolute": "0",
        "organisation_code": world.orgs[org], "calibration_interval_days": 365,
    }
    body.update(overrides)
    ok(api.post("/api/v1/standards", json=body, headers=world.headers(org, "data_entry")), 201)
    ok(api.post(f"/api/v1/standards/{body['identifier']}/submit",
                headers=world.headers(org, "data_entry")))
    return ok(api.post(f"/api/v1/standards/{body['identifier']}/review",
                       json={"approve": True}, headers=world.headers(org, "reviewer")))


def publish_cmc(api: httpx.Client, world: World, org: str, **overrides: Any) -> dict:
    body = {
        "organisation_code": world.orgs[org], "domain": "electrical DC",
        "quantity": "DC voltage", "unit": "V", "range_min": "0.1", "range_max": "100",
        "uncertainty_relative": "0.000002", "uncertainty_absolute": "0.0000005",
        "method": "Direct comparison with a Zener reference",
    }
    body.update(overrides)
    cmc = ok(api.post("/api/v1/capabilities", json=body,
                      headers=world.headers(org, "data_entry")), 201)
    ok(api.post(f"/api/v1/capabilities/{cmc['id']}/submit",
                headers=world.headers(org, "data_entry")))
    return ok(api.post(f"/api/v1/capabilities/{cmc['id']}/review", json={"approve": True},
                       headers=world.headers(org, "reviewer")))
