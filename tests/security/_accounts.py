"""People with several roles, and row counts, for the separation-of-duties tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from tests.fixtures.db import PASSWORD, World
from tests.platform.helpers import ok, point, uid


def superuser(api: httpx.Client, world: World) -> dict[str, str]:
    """A fresh token of the world's superuser (the fuzzing tests may revoke ``world.su``)."""
    prefix = world.orgs["nmi"].removesuffix("NMI").lower()
    token = ok(api.post("/api/v1/auth/token", json={"username": f"root-{prefix}",
                                                    "password": PASSWORD}))["access_token"]
    return {"Authorization": f"Bearer {token}"}


def person(api: httpx.Client, world: World, org: str, *roles: str,
           authorised: bool = True) -> tuple[str, dict[str, str]]:
    """A new user of ``org`` holding ``roles``; their username and auth headers."""
    name = uid("p").lower()
    su = superuser(api, world)
    ok(api.post(f"/api/v1/organisations/{world.orgs[org]}/users", headers=su, json={
        "username": name, "full_name": f"Person {name}", "password": PASSWORD,
        "roles": list(roles)}), 201)
    if authorised:
        ok(api.post(f"/api/v1/organisations/{world.orgs[org]}/users/{name}/authorisations",
                    headers=su, json={"quantity": "DC voltage", "procedure": "",
                                            "valid_from": "2020-01-01",
                                            "valid_until": "2035-12-31"}), 201)
    token = ok(api.post("/api/v1/auth/token",
                        json={"username": name, "password": PASSWORD}))["access_token"]
    return name, {"Authorization": f"Bearer {token}"}


def counts(engine: sa.Engine) -> dict[str, int]:
    """Rows of the tables a refused request must leave alone."""
    tables = ("certificate", "result_posting", "result_point", "certificate_standard",
              "audit_event", "standard_calibration", "standard", "capability")
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in tables}


def results(api: httpx.Client, number: str, headers: dict[str, str],
            points: list[dict[str, Any]] | None = None) -> httpx.Response:
    return api.post(f"/api/v1/certificates/{number}/results", json={
        "points": points or [point()]}, headers={**headers, "Idempotency-Key": uid("k")})


def yesterday() -> datetime:
    return datetime.now(UTC) - timedelta(days=1)
