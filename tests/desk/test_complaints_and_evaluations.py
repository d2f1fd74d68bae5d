"""Complaints handled by someone independent of the work, and evaluations once per completed
order with each laboratory's public rating, through the HTTP API on SQLite and PostgreSQL.

Every person who took part in an order (quoted it, recorded its payment, received the item,
performed the work, linked the certificate, completed the order; drafted, checked or approved
its certificate) is refused as its complaint's handler, each for what they did, and a refusal
changes nothing. The desk tests have a world of their own and only this module evaluates, so
the laboratory's rating counts only the evaluations made here and is asserted exactly.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from tests.desk._desk import Desk
from tests.platform.chain import Chain
from tests.platform.helpers import draft, ok, point, uid
from tests.security._accounts import person

SCORES = ("fit", "competence", "timeliness", "satisfaction", "effectiveness")


def _person(desk: Desk, *roles: str) -> tuple[str, dict[str, str]]:
    return person(desk.api, desk.world, "lab", *roles)


def test_a_complaint_is_handled_only_by_someone_independent_of_the_work(
        desk: Desk, cmc: dict[str, Any], chain: Chain) -> None:
    people = {what: _person(desk, role) for what, role in (
        ("quoted", "approver"), ("payment", "approver"), ("received", "technician"),
        ("started", "technician"), ("linked", "technician"), ("performed", "technician"),
        ("checked", "checker"), ("approved", "approver"), ("completed", "approver"))}
    oid = desk.book(cmc)["id"]
    h = {k: v[1] for k, v in people.items()}
    desk.post(f"/orders/{oid}/quote", h["quoted"], {
        "amount": "800", "currency": "EUR",
        "valid_until": (date.today() + timedelta(days=10)).isoformat()})
    desk.post(f"/orders/{oid}/accept", desk.customer, {})
    desk.post(f"/orders/{oid}/payment", h["payment"], {"reference": "INV-7"})
    desk.post(f"/orders/{oid}/receive", h["received"], {"condition": "Scratched case"})
    desk.post(f"/orders/{oid}/start", h["started"], {})
    number = draft(desk.api, desk.world, "lab", standards=[chain.working],
                   headers=h["performed"])["number"]
    desk.post(f"/orders/{oid}/certificate", h["linked"], {"certificate_number": number})
    ok(desk.api.post(f"/api/v1/certificates/{number}/results", json={"points": [point()]},
                     headers={**desk.world.station("lab"), "Idempotency-Key": uid("k")}), 201)
    ok(desk.api.post(f"/api/v1/certificates/{number}/check", headers=h["checked"]))
    ok(desk.api.post(f"/api/v1/certificates/{number}/issue", headers=h["approved"]))
    desk.post(f"/orders/{oid}/complete", h["completed"], {})

    complaint = {"order_id": oid, "subject": "Reading drifts",
                 "description": "The 10 V reading drifted after the calibration."}
    desk.refused("POST", "/complaints", desk.h("cust2", "customer"), 404, complaint)
    desk.refused("POST", "/complaints", desk.h("lab", "approver"), 403, complaint)
    desk.refused("POST", "/complaints", desk.customer, 422,
                 {**complaint, "laboratory_code": desk.world.orgs["lab"]}, field="order_id")
    filed = desk.post("/complaints", desk.customer, complaint, 201)
    cid = filed["id"]
    assert filed["status"] == "open" and filed["handler"] is None
    desk.refused("GET", f"/complaints/{cid}", desk.h("cust2", "customer"), 404, None)

    def assign(who: dict[str, str], handler: str, status: int) -> dict[str, Any]:
        return desk.refused("POST", f"/complaints/{cid}/assign", who, status,
                            {"handler": handler}, complaint_id=cid)

    assigner = desk.h("lab", "admin")
    # who names the handler: the laboratory's approver or admin, not a technician
    assign(desk.h("lab", "technician"), desk.world.usernames[("lab", "reviewer")], 403)
    # nobody who took part, each refused for what they did
    said = {"quoted": "quoted the order", "payment": "recorded its payment",
            "received": "received the item", "started": "performed the work",
            "linked": "linked its certificate", "performed": "worked on certificate",
            "checked": "checked certificate", "approved": "approved certificate",
            "completed": "completed the order"}
    for what, (username, _) in people.items():
        detail = assign(assigner, username, 403)["detail"]
        assert said[what] in detail, (what, detail)
    # nor someone outside the laboratory's staff, nor a name nobody has
    assign(assigner, desk.world.usernames[("cust", "customer")], 403)
    assign(assigner, desk.world.usernames[("prov", "approver")], 403)
    assert assign(assigner, "no-such-person", 422)["field"] == "handler"
    handler = desk.world.usernames[("lab", "reviewer")]
    assigned = desk.post(f"/complaints/{cid}/assign", assigner,
                         {"handler": handler, "note": "Independent of the order"})
    assert assigned["handler"] == handler and assigned["status"] == "open"
    rv = desk.h("lab", "reviewer")
    # only the handler works on it, in turn
    desk.refused("POST", f"/complaints/{cid}/investigate", desk.h("lab", "approver"), 403,
                 {}, complaint_id=cid)
    desk.refused("POST", f"/complaints/{cid}/answer", rv, 409, {"answer": "x"},
                 complaint_id=cid)
    desk.refused("POST", f"/complaints/{cid}/close", rv, 409, {}, complaint_id=cid)
    desk.post(f"/complaints/{cid}/investigate", rv, {"note": "Re-measured at 10 V"})
    # the handler may not be replaced by a participant while it is investigated either
    assign(assigner, people["linked"][0], 403)
    answer = "The drift is within the specification; the certificate stands."
    answered = desk.post(f"/complaints/{cid}/answer", rv, {"answer": answer})
    assert answered["status"] == "answered" and answered["answered_at"]
    seen = ok(desk.api.get(f"/api/v1/complaints/{cid}", headers=desk.customer))
    assert seen["answer"] == answer
    desk.refused("POST", f"/complaints/{cid}/close", desk.h("lab", "approver"), 403, {},
                 complaint_id=cid)
    closed = desk.post(f"/complaints/{cid}/close", desk.customer, {"note": "Thank you"})
    assert closed["status"] == "closed"
    assert [(s["step"], s["status"]) for s in closed["steps"]] == [
        ("filed", "open"), ("assigned", "open"), ("investigating", "under_investigation"),
        ("answered", "answered"), ("closed", "closed")]
    assert [s["by"] for s in closed["steps"]] == [
        desk.world.usernames[("cust", "customer")], desk.world.usernames[("lab", "admin")],
        handler, handler, desk.world.usernames[("cust", "customer")]]
    queue = ok(desk.api.get("/api/v1/complaints", params={"status": "closed"},
                            headers=desk.h("lab", "approver")))
    assert cid in [c["id"] for c in queue["items"]]
    assert ok(desk.api.get("/api/v1/complaints",
                           headers=desk.h("cust2", "customer")))["total"] == 0


def test_a_complaint_against_a_laboratory(desk: Desk, cmc: dict[str, Any]) -> None:
    desk.refused("POST", "/complaints", desk.customer, 422, {
        "laboratory_code": desk.world.orgs["cust2"], "subject": "Not a laboratory",
        "description": "x"}, field="laboratory_code")
    filed = desk.post("/complaints", desk.customer, {
        "laboratory_code": desk.world.orgs["lab"], "subject": "Phone never answered",
        "description": "Nobody answered for a week."}, 201)
    assert filed["order_id"] is None
    handler = desk.world.usernames[("lab", "technician")]  # no order: no participant
    assert desk.post(f"/complaints/{filed['id']}/assign", desk.h("lab", "approver"),
                     {"handler": handler})["handler"] == handler


def _scores(*values: int) -> dict[str, Any]:
    return dict(zip(SCORES, values, strict=True))


def test_evaluation_once_after_completion_by_the_customer(desk: Desk, cmc: dict[str, Any],
                                                          chain: Chain) -> None:
    open_order = desk.book(cmc)["id"]
    desk.refused("POST", f"/orders/{open_order}/evaluation", desk.customer, 409,
                 _scores(5, 5, 5, 5, 5), order_id=open_order)
    oid = desk.completed(cmc, chain)["id"]
    path = f"/orders/{oid}/evaluation"
    desk.refused("POST", path, desk.h("cust2", "customer"), 404, _scores(5, 5, 5, 5, 5))
    desk.refused("POST", path, desk.h("lab", "approver"), 403, _scores(5, 5, 5, 5, 5))
    for bad, field in ((_scores(0, 5, 5, 5, 5), "body.fit"),
                       (_scores(5, 6, 5, 5, 5), "body.competence"),
                       ({**_scores(5, 5, 5, 5, 5), "timeliness": 4.5}, "body.timeliness"),
                       ({**_scores(5, 5, 5, 5, 5), "satisfaction": "many"},
                        "body.satisfaction"),
                       ({k: 5 for k in SCORES[:4]}, "body.effectiveness"),
                       ({**_scores(5, 5, 5, 5, 5), "fit_comment": "x" * 1001},
                        "body.fit_comment")):
        desk.refused("POST", path, desk.customer, 422, bad, field=field, order_id=oid)
    desk.refused("POST", path, desk.customer, 422, order_id=oid, content=(
        '{"fit": NaN, "competence": 5, "timeliness": 5, "satisfaction": 5, '
        '"effectiveness": 5}'))
    made = desk.post(path, desk.customer, {**_scores(5, 4, 3, 4, 5),
                                           "timeliness_comment": "A week late"}, 201)
    assert made["scores"]["timeliness"] == 3
    assert made["comments"]["timeliness"] == "A week late"
    desk.refused("POST", path, desk.customer, 409, _scores(1, 1, 1, 1, 1), order_id=oid)
    assert ok(desk.api.get(f"/api/v1{path}", headers=desk.h("lab", "technician"))
              )["scores"] == made["scores"]
    assert ok(desk.api.get(f"/api/v1/orders/{oid}", headers=desk.customer))["evaluated"]


def test_the_laboratory_rating_is_public_and_exact(desk: Desk, cmc: dict[str, Any],
                                                   chain: Chain, platform_url: str) -> None:
    """Runs after the evaluation test of this module (one evaluation 5, 4, 3, 4, 5)."""
    for values in ((4, 4, 2, 3, 5), (3, 5, 1, 3, 5)):
        oid = desk.completed(cmc, chain)["id"]
        desk.post(f"/orders/{oid}/evaluation", desk.customer, _scores(*values), 201)
    with httpx.Client(base_url=platform_url) as anonymous:
        rating = ok(anonymous.get(f"/api/v1/laboratories/{desk.world.orgs['lab']}/rating"))
        assert anonymous.get("/api/v1/laboratories/NO-SUCH-LAB/rating").status_code == 404
    assert rating["count"] == 3
    got = {d["dimension"]: (d["mean"], d["distribution"]) for d in rating["dimensions"]}
    assert got == {
        "fit": ("4.00", [0, 0, 1, 1, 1]),  # 5 4 3
        "competence": ("4.33", [0, 0, 0, 2, 1]),  # 4 4 5
        "timeliness": ("2.00", [1, 1, 1, 0, 0]),  # 3 2 1
        "satisfaction": ("3.33", [0, 0, 2, 1, 0]),  # 4 3 3
        "effectiveness": ("5.00", [0, 0, 0, 0, 3]),
    }


@pytest.mark.parametrize("limit", ["0", "201", "NaN", "1e999"])
def test_listing_bounds(desk: Desk, limit: str) -> None:
    r = desk.api.get("/api/v1/orders", params={"limit": limit}, headers=desk.customer)
    assert r.status_code == 422 and r.json()["field"] == "query.limit", r.text
