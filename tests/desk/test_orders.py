"""The service desk through the HTTP API of a live server, on SQLite and PostgreSQL: an order
taken from booking to completion (its certificate filled from the order), every refusal on
the way leaving the rows and the audit trail exactly as they were, information requests,
idempotent booking, cancelling, other customers kept out, and the audit trail explaining
every desk row afterwards.

The desk tests work in a world of their own (its own laboratory and customers).
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from pypdf import PdfReader
from sqlmodel import Session
from typer.testing import CliRunner

from labctl.cli import app
from labctl.platform import desk as service
from labctl.platform.accounts.auth import principal_for_user
from labctl.platform.accounts.organisations import user_by_username
from labctl.platform.admin import verify_audit
from tests.desk._desk import Desk, booking, counts
from tests.platform.chain import Chain
from tests.platform.helpers import draft, issue, ok, point, uid


def test_an_order_from_booking_to_completion_fills_its_certificate(
        desk: Desk, cmc: dict[str, Any], chain: Chain, db_engine: sa.Engine) -> None:
    order = desk.book(cmc)
    oid = order["id"]
    assert order["status"] == "requested" and order["customer_code"] == desk.world.orgs["cust"]
    assert order["quantity"] == "DC voltage" and order["unit"] == "V"
    lab_q = desk.h("lab", "approver")
    valid = (date.today() + timedelta(days=30)).isoformat()
    # out of turn: no payment, receipt or start before the quote is accepted
    for step, who, body in (("payment", lab_q, {"reference": "X"}),
                            ("receive", desk.h("lab", "technician"), {"condition": "ok"}),
                            ("start", desk.h("lab", "technician"), {}),
                            ("accept", desk.customer, {}),
                            ("complete", lab_q, {})):
        desk.refused("POST", f"/orders/{oid}/{step}", who, 409, body, order_id=oid)
    # the quote is the approver's (not the technician's, not the customer's)
    quote = {"amount": "1200.50", "currency": "CNY", "valid_until": valid, "note": "Std."}
    desk.refused("POST", f"/orders/{oid}/quote", desk.h("lab", "technician"), 403, quote,
                 order_id=oid)
    desk.refused("POST", f"/orders/{oid}/quote", desk.customer, 403, quote, order_id=oid)
    desk.refused("POST", f"/orders/{oid}/quote", desk.h("prov", "approver"), 404, quote,
                 order_id=oid)
    quoted = desk.post(f"/orders/{oid}/quote", lab_q, quote)
    assert quoted["status"] == "quoted" and quoted["quote_amount"] == "1200.50"
    desk.refused("POST", f"/orders/{oid}/accept", desk.h("lab", "approver"), 403, {},
                 order_id=oid)
    assert desk.post(f"/orders/{oid}/accept", desk.customer, {})["status"] == "confirmed"
    desk.refused("POST", f"/orders/{oid}/receive", desk.h("lab", "technician"), 409,
                 {"condition": "ok"}, order_id=oid)  # payment first
    desk.post(f"/orders/{oid}/payment", lab_q, {"reference": "TRX-2026-001"})
    desk.refused("POST", f"/orders/{oid}/receive", desk.h("lab", "technician"), 422,
                 {"condition": "ok",
                  "received_on": (date.today() + timedelta(days=2)).isoformat()},
                 field="received_on", order_id=oid)
    received = desk.post(f"/orders/{oid}/receive", desk.h("lab", "technician"),
                         {"condition": "Good; leads missing"})
    assert received["received_on"] == datetime.now(UTC).date().isoformat()
    desk.post(f"/orders/{oid}/start", desk.h("lab", "technician"), {"note": "bench-1"})

    cert = draft(desk.api, desk.world, "lab", standards=[chain.working], customer_code=None,
                 customer_name="Walk-in", customer_address="", item_manufacturer="",
                 item_model="", item_serial_number="TBD")
    number = cert["number"]
    # another laboratory's draft is not found; a draft linked elsewhere, an issued one refused
    other = draft(desk.api, desk.world, "prov", standards=[chain.reference])
    desk.refused("POST", f"/orders/{oid}/certificate", desk.h("lab", "technician"), 404,
                 {"certificate_number": other["number"]}, order_id=oid)
    desk.refused("POST", f"/orders/{oid}/certificate", desk.h("lab", "technician"), 409,
                 {"certificate_number": chain.c3["number"]}, order_id=oid)
    desk.refused("POST", f"/orders/{oid}/certificate", lab_q, 403,
                 {"certificate_number": number}, order_id=oid)
    linked = desk.post(f"/orders/{oid}/certificate", desk.h("lab", "technician"),
                       {"certificate_number": number})
    assert linked["certificate_number"] == number
    with db_engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT c.customer_name, c.customer_address, c.item_manufacturer, c.item_model, "
            "c.item_serial_number, c.receipt_date, o.code FROM certificate c JOIN organisation "
            "o ON o.id = c.customer_organisation_id WHERE c.number = :n"),
            {"n": number}).one()
    assert tuple(row)[:5] == (order["customer_name"], "5 Client Street", "Keysight", "34465A",
                              order["item_serial_number"])
    assert order["customer_name"].endswith("Customer Ltd")
    assert row[6] == desk.world.orgs["cust"]
    assert str(row[5])[:10] == received["received_on"]
    # completing needs the certificate issued
    desk.refused("POST", f"/orders/{oid}/complete", lab_q, 409, {}, order_id=oid)
    issued = issue(desk.api, desk.world, "lab", number, [point(U="0.00003")])
    assert issued["status"] == "issued" and issued["customer_name"] == order["customer_name"]
    pdf = desk.api.get(f"/api/v1/certificates/{number}/pdf", headers=desk.customer)
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    for needle in ("5 Client Street", "Keysight", "34465A", order["item_serial_number"],
                   f"Date of receipt {received['received_on']}"):
        assert needle in text, needle
    done = desk.post(f"/orders/{oid}/complete", lab_q, {"note": "Returned by courier"})
    assert done["status"] == "completed"
    steps = [(s["step"], s["by"]) for s in done["steps"]]
    u = desk.world.usernames
    assert steps == [("requested", u[("cust", "customer")]),
                     ("quoted", u[("lab", "approver")]), ("accepted", u[("cust", "customer")]),
                     ("payment_received", u[("lab", "approver")]),
                     ("item_received", u[("lab", "technician")]),
                     ("started", u[("lab", "technician")]),
                     ("certificate_linked", u[("lab", "technician")]),
                     ("completed", u[("lab", "approver")])]
    assert all(s["at"] for s in done["steps"])
    # the customer sees every step and reads the issued certificate (and its PDF)
    seen = ok(desk.api.get(f"/api/v1/orders/{oid}", headers=desk.customer))
    assert seen["steps"] == done["steps"]
    assert ok(desk.api.get(f"/api/v1/certificates/{number}", headers=desk.customer))
    # nothing moves a completed order
    desk.refused("POST", f"/orders/{oid}/cancel", lab_q, 409, {"reason": "x"}, order_id=oid)
    # the laboratory's queue shows it; the other customer sees nothing of it
    queue = ok(desk.api.get("/api/v1/orders", params={"status": "completed"},
                            headers=desk.h("lab", "technician")))
    assert oid in [o["id"] for o in queue["items"]]
    other_customer = desk.h("cust2", "customer")
    for path in (f"/orders/{oid}", f"/orders/{oid}/evaluation"):
        assert desk.api.get(f"/api/v1{path}", headers=other_customer).status_code == 404
    assert ok(desk.api.get("/api/v1/orders", headers=other_customer))["total"] == 0
    desk.refused("POST", f"/orders/{oid}/evaluation", other_customer, 404,
                 {d: 5 for d in ("fit", "competence", "timeliness", "satisfaction",
                                 "effectiveness")}, order_id=oid)
    assert desk.api.get(f"/api/v1/orders/{2**31 - 1}",
                        headers=desk.customer).status_code == 404


def test_bad_input_is_refused_naming_the_field(desk: Desk, cmc: dict[str, Any]) -> None:
    c = desk.customer
    desk.refused("POST", "/orders", c, 422, booking(cmc, range_max="1000"), field="range_max")
    desk.refused("POST", "/orders", c, 422, booking(cmc, unit="mV"), field="unit")
    desk.refused("POST", "/orders", c, 422, booking(cmc, item_serial_number=""),
                 field="item_serial_number")
    desk.refused("POST", "/orders", c, 422, booking(cmc, range_min="1e999"))
    desk.refused("POST", "/orders", c, 422, content='{"capability_id": NaN}')
    desk.refused("POST", "/orders", c, 422, booking(cmc, capability_id=2**40),
                 field="body.capability_id")
    desk.refused("POST", "/orders", c, 422, booking(cmc, notes="x" * 2001),
                 field="body.notes")
    desk.refused("POST", "/orders", c, 422, booking(cmc, preferred_date="2001-01-01"),
                 field="preferred_date")
    desk.refused("POST", "/orders", c, 422, booking(cmc, capability_id=None),
                 field="capability_id")
    desk.refused("POST", "/orders", desk.h("lab", "technician"), 403, booking(cmc))
    desk.refused("POST", "/orders", c, 404, booking(cmc, capability_id=2**31 - 1))
    oid = desk.book(cmc)["id"]
    a = desk.h("lab", "approver")
    valid = (date.today() + timedelta(days=30)).isoformat()
    for amount, field in (("NaN", "body.amount"), ("1e12", "body.amount"),
                          ("10.001", "body.amount"), ("0", "body.amount"),
                          ("-5", "body.amount")):
        desk.refused("POST", f"/orders/{oid}/quote", a, 422,
                     {"amount": amount, "currency": "CNY", "valid_until": valid},
                     field=field, order_id=oid)
    desk.refused("POST", f"/orders/{oid}/quote", a, 422,
                 {"amount": "10", "currency": "cny", "valid_until": valid},
                 field="body.currency", order_id=oid)
    desk.refused("POST", f"/orders/{oid}/quote", a, 422,
                 {"amount": "10", "currency": "CNY", "valid_until": "2020-01-01"},
                 field="valid_until", order_id=oid)
    desk.refused("POST", f"/orders/{oid}/quote", a, 422, content=(
        '{"amount": NaN, "currency": "CNY", "valid_until": "' + valid + '"}'), order_id=oid)


def test_information_is_free_and_answered_without_a_quote(desk: Desk,
                                                         cmc: dict[str, Any]) -> None:
    ask = {"kind": "information", "laboratory_code": desk.world.orgs["lab"],
           "notes": "Can you calibrate 1 kV DC?"}
    desk.refused("POST", "/orders", desk.customer, 422, {**ask, "notes": ""}, field="notes")
    desk.refused("POST", "/orders", desk.customer, 422,
                 {**ask, "laboratory_code": desk.world.orgs["cust2"]}, field="laboratory_code")
    order = desk.post("/orders", desk.customer, ask, 201)
    oid = order["id"]
    desk.refused("POST", f"/orders/{oid}/quote", desk.h("lab", "approver"), 409,
                 {"amount": "10", "currency": "CNY",
                  "valid_until": date.today().isoformat()}, order_id=oid)
    desk.refused("POST", f"/orders/{oid}/answer", desk.customer, 403, {"answer": "x"},
                 order_id=oid)
    done = desk.post(f"/orders/{oid}/answer", desk.h("lab", "reviewer"),
                     {"answer": "Up to 1 kV with U = 10 µV/V."})
    assert done["status"] == "completed" and done["quote_amount"] is None
    assert [s["step"] for s in done["steps"]] == ["requested", "answered"]
    desk.refused("POST", f"/orders/{oid}/answer", desk.h("lab", "reviewer"), 409,
                 {"answer": "again"}, order_id=oid)


def test_booking_is_idempotent_by_key(desk: Desk, cmc: dict[str, Any]) -> None:
    body = booking(cmc)
    key = {"Idempotency-Key": uid("book")}
    first = desk.api.post("/api/v1/orders", json=body, headers={**desk.customer, **key})
    assert first.status_code == 201
    before = counts(desk.engine)
    again = desk.api.post("/api/v1/orders", json=body, headers={**desk.customer, **key})
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"] and counts(desk.engine) == before
    desk.refused("POST", "/orders", {**desk.customer, **key}, 409, {**body, "notes": "other"})
    desk.refused("POST", "/orders", {**desk.customer, "Idempotency-Key": "../x"}, 422, body,
                 field="header.idempotency-key")


def test_cancel_and_reject(desk: Desk, cmc: dict[str, Any]) -> None:
    oid = desk.book(cmc)["id"]
    desk.refused("POST", f"/orders/{oid}/reject", desk.customer, 403, {"reason": "x"},
                 order_id=oid)
    desk.refused("POST", f"/orders/{oid}/reject", desk.h("lab", "approver"), 422,
                 {"reason": ""}, field="body.reason", order_id=oid)
    rejected = desk.post(f"/orders/{oid}/reject", desk.h("lab", "approver"),
                         {"reason": "Outside our scope"})
    assert rejected["status"] == "rejected" and rejected["end_reason"] == "Outside our scope"
    oid = desk.book(cmc)["id"]
    desk.to_progress(oid)
    # the work started: the customer asks the laboratory, which may still cancel
    desk.refused("POST", f"/orders/{oid}/cancel", desk.customer, 409, {"reason": "late"},
                 order_id=oid)
    desk.refused("POST", f"/orders/{oid}/cancel", desk.h("lab", "technician"), 403,
                 {"reason": "x"}, order_id=oid)
    cancelled = desk.post(f"/orders/{oid}/cancel", desk.h("lab", "approver"),
                          {"reason": "Instrument faulty beyond repair"})
    assert cancelled["status"] == "cancelled"
    oid = desk.book(cmc)["id"]
    assert desk.post(f"/orders/{oid}/cancel", desk.customer,
                     {"reason": "Ordered twice"})["steps"][-1]["step"] == "cancelled"


def test_the_audit_trail_explains_every_desk_row(desk: Desk, cmc: dict[str, Any],
                                                 chain: Chain, database_url: str,
                                                 keys_dir: Path) -> None:
    desk.completed(cmc, chain)
    report = verify_audit(database_url, keys_dir=keys_dir)
    assert report.ok, report.model_dump()
    cli = CliRunner().invoke(app, ["audit", "verify", "--database-url", database_url],
                             env={"LABCTL_KEYS_DIR": str(keys_dir)})
    assert cli.exit_code == 0 and "audit trail intact" in cli.output, cli.output
    with desk.engine.connect() as conn:
        actions = set(conn.execute(sa.text(
            "SELECT action FROM audit_event WHERE entity_type = 'order'")).scalars())
    assert {"order.requested", "order.quoted", "order.accepted", "order.payment_received",
            "order.item_received", "order.started", "order.certificate_linked",
            "order.completed"} <= actions


def test_two_steps_at_once_one_wins(desk: Desk, cmc: dict[str, Any]) -> None:
    """The customer accepts while the laboratory rejects, at the same moment: exactly one
    step is taken (the order row is locked while its state is checked), the other is a 409,
    and the history has one of them."""
    for _ in range(3):
        oid = desk.book(cmc)["id"]
        desk.post(f"/orders/{oid}/quote", desk.h("lab", "approver"), {
            "amount": "10", "currency": "CNY",
            "valid_until": (date.today() + timedelta(days=3)).isoformat()})

        def step(path: str, who: dict[str, str], body: dict[str, str]) -> int:
            with httpx.Client(base_url=desk.world.url, timeout=60) as c:
                return c.post(path, json=body, headers=who).status_code

        with ThreadPoolExecutor(2) as pool:
            got = sorted(pool.map(lambda a: step(*a), [
                (f"/api/v1/orders/{oid}/accept", desk.customer, {}),
                (f"/api/v1/orders/{oid}/reject", desk.h("lab", "approver"),
                 {"reason": "Fully booked"})]))
        assert got == [200, 409], got
        steps = [s["step"] for s in ok(desk.api.get(f"/api/v1/orders/{oid}",
                                                    headers=desk.customer))["steps"]]
        assert steps[:2] == ["requested", "quoted"] and len(steps) == 3
        assert steps[2] in ("accepted", "rejected")


def test_what_a_page_offers_is_what_the_steps_allow(desk: Desk, cmc: dict[str, Any]) -> None:
    """``allowed_steps`` (the buttons a page shows) and ``queue_counts`` (a laboratory's
    queues) answer by the same checks as the steps themselves."""
    oid = desk.book(cmc)["id"]

    def offered(org: str, role: str) -> list[str]:
        with Session(desk.engine) as session:
            who = principal_for_user(session, user_by_username(
                session, desk.world.usernames[(org, role)]))
            order = service.order_by_id(session, who, oid)
            return service.allowed_steps(session, who, order)

    assert offered("cust", "customer") == ["cancel"]
    assert offered("lab", "approver") == ["quote", "reject", "cancel"]
    assert offered("lab", "technician") == []
    desk.post(f"/orders/{oid}/quote", desk.h("lab", "approver"), {
        "amount": "99.90", "currency": "CNY", "valid_until": date.today().isoformat()})
    assert offered("cust", "customer") == ["accept", "cancel"]
    assert offered("lab", "approver") == ["quote", "reject", "cancel"]
    # a quote that expired is not accepted (it is set back in time here, then restored, so
    # the audit trail still explains the row)
    with desk.engine.begin() as conn:
        valid = conn.execute(sa.text("SELECT quote_valid_until FROM service_order WHERE "
                                     "id = :i"), {"i": oid}).scalar_one()
        conn.execute(sa.text("UPDATE service_order SET quote_valid_until = :d WHERE id = :i"),
                     {"d": date.today() - timedelta(days=1), "i": oid})
    try:
        assert offered("cust", "customer") == ["cancel"]
        assert "expired" in desk.refused("POST", f"/orders/{oid}/accept", desk.customer, 409,
                                         {}, order_id=oid)["detail"]
    finally:
        with desk.engine.begin() as conn:
            conn.execute(sa.text("UPDATE service_order SET quote_valid_until = :d "
                                 "WHERE id = :i"), {"d": valid, "i": oid})
    with Session(desk.engine) as session:
        tech = principal_for_user(session, user_by_username(
            session, desk.world.usernames[("lab", "technician")]))
        counts_now = service.queue_counts(session, principal=tech)
        listed = service.list_orders(session, principal=tech, status=service.orders.S.QUOTED,
                                     limit=200)
    assert counts_now[service.orders.S.QUOTED] == listed.total >= 1
    assert set(counts_now) == set(service.orders.S)
