"""Helpers of the service desk tests: :class:`Desk`, the callers by role with a check that a
refused request changes nothing, a booking's body, row counts."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from tests.fixtures.db import World
from tests.platform.chain import Chain
from tests.platform.helpers import draft, issue, ok, point, uid

DESK_TABLES = ("service_order", "order_event", "complaint", "complaint_event", "evaluation",
               "certificate", "audit_event")


def counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in DESK_TABLES}


def order_row(engine: sa.Engine, order_id: int, table: str = "service_order"
              ) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text(f"SELECT * FROM {table} WHERE id = :i"),
                                 {"i": order_id}).mappings().one())


def booking(cmc: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    body = {"kind": "calibration", "capability_id": cmc["id"],
            "item_description": "Digital multimeter", "item_manufacturer": "Keysight",
            "item_model": "34465A", "item_serial_number": uid("MY"), "range_min": "1",
            "range_max": "10", "preferred_date": (date.today() + timedelta(days=7)).isoformat(),
            "notes": "Please calibrate the 10 V range", "customer_address": "5 Client Street"}
    body.update(overrides)
    return body


class Desk:
    """The module's callers by role, and a checker that a refused request changes nothing."""

    def __init__(self, api: httpx.Client, world: World, engine: sa.Engine) -> None:
        self.api, self.world, self.engine = api, world, engine

    def h(self, org: str, role: str) -> dict[str, str]:
        return self.world.headers(org, role)

    @property
    def customer(self) -> dict[str, str]:
        return self.h("cust", "customer")

    def post(self, path: str, who: dict[str, str], body: Any = None,
             status: int = 200) -> Any:
        return ok(self.api.post(f"/api/v1{path}", json=body if body is not None else {},
                                headers=who), status)

    def refused(self, method: str, path: str, who: dict[str, str], status: int,
                body: Any = None, *, field: str | None = None, content: str | None = None,
                order_id: int | None = None,
                complaint_id: int | None = None) -> dict[str, Any]:
        """The request is answered ``status`` and no desk row nor audit event changes."""
        before = counts(self.engine)
        row = order_row(self.engine, order_id) if order_id else None
        crow = order_row(self.engine, complaint_id, "complaint") if complaint_id else None
        if content is not None:
            r = self.api.request(method, f"/api/v1{path}", content=content,
                                 headers={**who, "Content-Type": "application/json"})
        else:
            r = self.api.request(method, f"/api/v1{path}",
                                 json=body if body is not None else {}, headers=who)
        assert r.status_code == status, r.text
        if field is not None:
            assert r.json()["field"] == field, r.text
        assert counts(self.engine) == before
        if order_id:
            assert order_row(self.engine, order_id) == row
        if complaint_id:
            assert order_row(self.engine, complaint_id, "complaint") == crow
        return r.json()  # type: ignore[no-any-return]

    def book(self, cmc: dict[str, Any], **overrides: Any) -> dict[str, Any]:
        return self.post("/orders", self.customer, booking(cmc, **overrides), 201)

    def to_progress(self, order_id: int) -> dict[str, Any]:
        """Quote, accept, pay, receive and start (the order is then in progress)."""
        lab = "lab"
        self.post(f"/orders/{order_id}/quote", self.h(lab, "approver"), {
            "amount": "1200.00", "currency": "CNY",
            "valid_until": (date.today() + timedelta(days=30)).isoformat()})
        self.post(f"/orders/{order_id}/accept", self.customer, {})
        self.post(f"/orders/{order_id}/payment", self.h(lab, "approver"),
                  {"reference": "TRX-1"})
        self.post(f"/orders/{order_id}/receive", self.h(lab, "technician"),
                  {"condition": "Good; no visible damage"})
        return self.post(f"/orders/{order_id}/start", self.h(lab, "technician"), {})  # type: ignore[no-any-return]

    def completed(self, cmc: dict[str, Any], chain: Chain) -> dict[str, Any]:
        """An order taken through to completion with an issued certificate."""
        order = self.book(cmc)
        self.to_progress(order["id"])
        cert = draft(self.api, self.world, "lab", standards=[chain.working],
                     customer_code=None, customer_name="Walk-in")
        self.post(f"/orders/{order['id']}/certificate", self.h("lab", "technician"),
                  {"certificate_number": cert["number"]})
        issue(self.api, self.world, "lab", cert["number"], [point(U="0.00003")])
        return self.post(f"/orders/{order['id']}/complete", self.h("lab", "approver"), {})  # type: ignore[no-any-return]
