"""Small API helpers for the platform tests (they go through HTTP like any client)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
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


def draft(api: httpx.Client, world: World, org: str, *, standards: list[str],
          item_standard: str | None = None, begin: datetime | None = None,
          hours: float = 2, headers: dict[str, str] | None = None, **overrides: Any) -> dict:
    """A draft certificate by the technician of ``org`` (or whoever ``headers`` name: the
    performer is always the caller)."""
    begin = begin or datetime.now(UTC) - timedelta(days=1)
    body = {
        "laboratory_code": world.orgs[org], "customer_name": "Customer Ltd",
        "customer_address": "1 Test Street\nTestville", "customer_code": world.orgs["cust"],
        "item_standard": item_standard, "item_description": "Digital multimeter",
        "item_manufacturer": "Keysight", "item_model": "34465A", "item_serial_number": "MY123",
        "quantity": "DC voltage", "procedure": "DCV-01", "method": "Direct measurement of a "
        "calibrator output", "location": "Laboratory, room 1",
        "calibration_begin": begin.isoformat(),
        "calibration_end": (begin + timedelta(hours=hours)).isoformat(),
        "standards": standards, "decision_rule": "simple",
        "conditions": [{"quantity": "temperature", "unit": "°C", "mean": "23.1",
                        "minimum": "22.8", "maximum": "23.4", "uncertainty": "0.2"}],
    }
    body.update(overrides)
    return ok(api.post("/api/v1/certificates", json=body,
                       headers=headers or world.headers(org, "technician")), 201)


def point(nominal: str = "10", error: str = "0.000012", U: str = "0.00003",
          **overrides: Any) -> dict:
    from decimal import Decimal

    p = {"table_title": "DC voltage", "quantity": "DC voltage", "unit": "V",
         "nominal": nominal, "reference_value": nominal,
         "measured_value": str(Decimal(nominal) + Decimal(error)),
         "expanded_uncertainty": U, "coverage_factor": "2", "coverage_probability": "0.95",
         "lower_limit": "-0.0001", "upper_limit": "0.0001"}
    p.update(overrides)
    return p


def issue(api: httpx.Client, world: World, org: str, number: str,
          points: list[dict] | None = None) -> dict:
    """Results (station), check (checker) and issue (approver)."""
    ok(api.post(f"/api/v1/certificates/{number}/results", json={"points": points or [point()]},
                headers={**world.station(org), "Idempotency-Key": uid("key")}), 201)
    ok(api.post(f"/api/v1/certificates/{number}/check", headers=world.headers(org, "checker")))
    return ok(api.post(f"/api/v1/certificates/{number}/issue",
                       headers=world.headers(org, "approver")))


def ensure_cmcs(api: httpx.Client, world: World) -> None:
    """Every laboratory of the world publishes a DC voltage CMC (once per world)."""
    if getattr(world, "_cmcs", False):
        return
    for org in ("nmi", "prov", "lab"):
        publish_cmc(api, world, org, uncertainty_relative="0.0000001",
                    uncertainty_absolute="0.0000001")
    world._cmcs = True  # type: ignore[attr-defined]


def record_calibration(api: httpx.Client, world: World, org: str, standard: str,
                       body: dict[str, Any]) -> dict:
    """An external calibration recorded (data entry) and published (reviewer): it counts."""
    cal = ok(api.post(f"/api/v1/standards/{standard}/calibrations", json=body,
                      headers=world.headers(org, "data_entry")), 201)
    return ok(api.post(f"/api/v1/standards/{standard}/calibrations/{cal['id']}/review",
                       json={"approve": True}, headers=world.headers(org, "reviewer")))
