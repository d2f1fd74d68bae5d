"""Fixtures of the comparison tests: a world of their own per backend (national institute
``nmi`` pilots; ``nmi``, ``prov`` and ``lab`` take part; ``cust`` is an outsider), a
published standard per participant, and :class:`Comparisons`, the callers with a check that
a refused request changes nothing."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.fixtures.db import PerBackend, World, build_world
from tests.platform.helpers import ok, publish_standard, uid

TABLES = ("comparison", "comparison_result", "audit_event")


def counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in TABLES}


def result_rows(engine: sa.Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(
            "SELECT * FROM comparison_result ORDER BY id")).mappings()]


class Comparisons:
    def __init__(self, api: httpx.Client, world: World, engine: sa.Engine,
                 standards: dict[str, str]) -> None:
        self.api, self.world, self.engine, self.standards = api, world, engine, standards

    def h(self, org: str, role: str) -> dict[str, str]:
        return self.world.headers(org, role)

    def create(self, **overrides: Any) -> dict[str, Any]:
        body = {"identifier": uid("CCEM-K"), "kind": "key", "title": "10 V Zener",
                "quantity": "DC voltage", "measurand": "Output of a travelling Zener at 10 V",
                "nominal_value": "10", "unit": "V", "pilot_code": self.world.orgs["nmi"]}
        body.update(overrides)
        return ok(self.api.post("/api/v1/comparisons", json=body,  # type: ignore[no-any-return]
                                headers=self.h("nmi", "approver")), 201)

    def enter(self, ident: str, who: dict[str, str], org: str, value: str, u: str,
              status: int = 200, **extra: Any) -> Any:
        body = {"participant_code": self.world.orgs[org], "value": value, "u": u, **extra}
        return ok(self.api.post(f"/api/v1/comparisons/{ident}/results", json=body,
                                headers=who), status)

    def refused(self, method: str, path: str, who: dict[str, str] | None, status: int,
                body: Any = None, *, field: str | None = None,
                content: str | None = None) -> dict[str, Any]:
        """Answered ``status``; no comparison row, result row or audit event changed."""
        before, rows = counts(self.engine), result_rows(self.engine)
        headers = dict(who or {})
        if content is not None:
            r = self.api.request(method, f"/api/v1{path}", content=content,
                                 headers={**headers, "Content-Type": "application/json"})
        else:
            r = self.api.request(method, f"/api/v1{path}", json=body, headers=headers)
        assert r.status_code == status, r.text
        if field is not None:
            assert r.json()["field"] == field, r.text
        assert counts(self.engine) == before and result_rows(self.engine) == rows
        return r.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def cmp_world(platform_backend: str, per_backend: PerBackend, platform_url: str,
              db_engine: sa.Engine) -> World:
    return per_backend.get(platform_backend, "cmp_world", lambda: build_world(
        platform_url, db_engine, "K" + secrets.token_hex(2).upper()))


@pytest.fixture(scope="session")
def cmp_standards(platform_backend: str, per_backend: PerBackend, platform_url: str,
                  cmp_world: World) -> dict[str, str]:
    """One published DC voltage standard per participant: org key → identifier."""
    def make() -> dict[str, str]:
        with httpx.Client(base_url=platform_url, timeout=60) as c:
            return {org: publish_standard(c, cmp_world, org)["identifier"]
                    for org in ("nmi", "prov", "lab")}

    return per_backend.get(platform_backend, "cmp_standards", make)


@pytest.fixture
def cmp(api: httpx.Client, cmp_world: World, db_engine: sa.Engine,
        cmp_standards: dict[str, str]) -> Comparisons:
    return Comparisons(api, cmp_world, db_engine, cmp_standards)
