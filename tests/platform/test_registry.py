"""Registry: entry → review → publication by different people, public search."""

from __future__ import annotations

import httpx
import pytest

from tests.fixtures.db import World
from tests.platform.helpers import ok, publish_cmc, publish_standard, uid


def _std_body(world: World, org: str = "lab", **kw: object) -> dict:
    body = {"identifier": uid("STD"), "kind": "working", "description": "DMM 8.5 digit",
            "domain": "electrical DC", "quantity": "DC voltage", "unit": "V",
            "range_min": "0", "range_max": "1000", "uncertainty_relative": "0.000005",
            "organisation_code": world.orgs[org]}
    body.update(kw)
    return body


def test_draft_is_invisible_to_the_public_until_a_reviewer_publishes(api: httpx.Client,
                                                                    world: World) -> None:
    body = _std_body(world)
    de, rv = world.headers("lab", "data_entry"), world.headers("lab", "reviewer")
    created = ok(api.post("/api/v1/standards", json=body, headers=de), 201)
    assert created["review_state"] == "draft"
    ident = body["identifier"]
    assert api.get(f"/api/v1/standards/{ident}").status_code == 404
    assert api.get(f"/api/v1/standards/{ident}", headers=de).status_code == 200
    assert ok(api.get("/api/v1/standards", params={"q": ident}))["total"] == 0
    # reviewing a draft that was not submitted is refused
    assert api.post(f"/api/v1/standards/{ident}/review", json={"approve": True},
                    headers=rv).status_code == 409
    ok(api.post(f"/api/v1/standards/{ident}/submit", headers=de))
    # data entry may not review; a reviewer of another lab may not either
    assert api.post(f"/api/v1/standards/{ident}/review", json={"approve": True},
                    headers=de).status_code == 403
    assert api.post(f"/api/v1/standards/{ident}/review", json={"approve": True},
                    headers=world.headers("prov", "reviewer")).status_code == 403
    pub = ok(api.post(f"/api/v1/standards/{ident}/review", json={"approve": True}, headers=rv))
    assert pub["review_state"] == "published"
    assert ok(api.get(f"/api/v1/standards/{ident}"))["identifier"] == ident
    found = ok(api.get("/api/v1/standards", params={"q": ident.lower()}))
    assert [s["identifier"] for s in found["items"]] == [ident]


def test_the_person_who_entered_an_entry_cannot_publish_it(api: httpx.Client, world: World,
                                                           platform_url: str) -> None:
    # a lab person holding both data entry and reviewer roles
    lab = world.orgs["lab"]
    name = uid("both").lower()
    ok(api.post(f"/api/v1/organisations/{lab}/users", headers=world.su, json={
        "username": name, "full_name": "Both", "password": "correct horse battery staple",
        "roles": ["data_entry", "reviewer"]}), 201)
    tok = ok(api.post("/api/v1/auth/token", json={
        "username": name, "password": "correct horse battery staple"}))["access_token"]
    hdr = {"Authorization": f"Bearer {tok}"}
    body = _std_body(world)
    ok(api.post("/api/v1/standards", json=body, headers=hdr), 201)
    ok(api.post(f"/api/v1/standards/{body['identifier']}/submit", headers=hdr))
    r = api.post(f"/api/v1/standards/{body['identifier']}/review", json={"approve": True},
                 headers=hdr)
    assert r.status_code == 403 and "two-person" in r.json()["detail"]
    # a rejection sends it back to draft
    back = ok(api.post(f"/api/v1/standards/{body['identifier']}/review",
                       json={"approve": False, "comment": "serial missing"},
                       headers=world.headers("lab", "reviewer")))
    assert back["review_state"] == "draft"


@pytest.mark.parametrize(("role", "status"), [
    ("data_entry", 201), ("admin", 403), ("reviewer", 403), ("technician", 403),
    ("checker", 403), ("approver", 403),
])
def test_who_may_enter_a_standard(api: httpx.Client, world: World, role: str,
                                  status: int) -> None:
    r = api.post("/api/v1/standards", json=_std_body(world), headers=world.headers("lab", role))
    assert r.status_code == status, r.text


def test_entry_validation_errors_name_the_field(api: httpx.Client, world: World) -> None:
    de = world.headers("lab", "data_entry")
    r = api.post("/api/v1/standards", json=_std_body(world, range_min="20", range_max="10"),
                 headers=de)
    assert r.status_code == 422 and "range_min" in r.text
    r = api.post("/api/v1/standards", json=_std_body(world, kind="national_primary"), headers=de)
    assert r.status_code == 422 and r.json()["field"] == "kind"
    r = api.post("/api/v1/standards", json=_std_body(world, organisation_code=world.orgs["nmi"]),
                 headers=de)
    assert r.status_code == 403  # data entry of the lab cannot enter the institute's standards
    body = _std_body(world)
    ok(api.post("/api/v1/standards", json=body, headers=de), 201)
    assert api.post("/api/v1/standards", json=body, headers=de).status_code == 409


def test_who_can_calibrate_10_V_DC_with_U_at_most_5_uV_per_V(api: httpx.Client,
                                                             world: World) -> None:
    region = uid("region")
    # a dedicated organisation so the answer is exactly known
    code = uid("R").replace("-", "")[:12]
    ok(api.post("/api/v1/organisations", headers=world.su, json={
        "code": code, "name": f"Lab {code}", "level": "local",
        "parent_code": world.orgs["prov"], "region": region}), 201)
    user = uid("de").lower()
    ok(api.post(f"/api/v1/organisations/{code}/users", headers=world.su, json={
        "username": user, "full_name": "DE", "password": "correct horse battery staple",
        "roles": ["data_entry", "reviewer"]}), 201)
    # reviewer must differ: add another reviewer
    rev = uid("rv").lower()
    ok(api.post(f"/api/v1/organisations/{code}/users", headers=world.su, json={
        "username": rev, "full_name": "RV", "password": "correct horse battery staple",
        "roles": ["reviewer"]}), 201)

    def tok(u: str) -> dict[str, str]:
        t = ok(api.post("/api/v1/auth/token", json={
            "username": u, "password": "correct horse battery staple"}))["access_token"]
        return {"Authorization": f"Bearer {t}"}

    de, rv = tok(user), tok(rev)
    cases = {  # (range, relative, absolute) → U/V at 10 V
        "good": ("1", "11", "0.000002", "0.00001"),     # 2 µV/V + 1 µV/V = 3 µV/V: yes
        "edge": ("1", "11", "0.000005", "0"),           # exactly 5 µV/V: yes
        "worse": ("1", "11", "0.000004", "0.00002"),    # 4 + 2 = 6 µV/V: no
        "range": ("0.1", "1", "0.000001", "0"),         # does not cover 10 V: no
    }
    ids = {}
    for name, (lo, hi, rel, ab) in cases.items():
        cmc = ok(api.post("/api/v1/capabilities", headers=de, json={
            "organisation_code": code, "domain": "electrical DC", "quantity": "DC voltage",
            "unit": "V", "range_min": lo, "range_max": hi, "uncertainty_relative": rel,
            "uncertainty_absolute": ab, "method": f"method {name}"}), 201)
        ok(api.post(f"/api/v1/capabilities/{cmc['id']}/submit", headers=de))
        ok(api.post(f"/api/v1/capabilities/{cmc['id']}/review", headers=rv,
                    json={"approve": True}))
        ids[cmc["id"]] = name
    # a draft that would match is not shown
    ok(api.post("/api/v1/capabilities", headers=de, json={
        "organisation_code": code, "domain": "electrical DC", "quantity": "DC voltage",
        "unit": "V", "range_min": "1", "range_max": "11", "uncertainty_relative": "0.000001"}),
       201)
    page = ok(api.get("/api/v1/capabilities", params={
        "quantity": "DC voltage", "value": "10", "max_relative_uncertainty": "0.000005",
        "region": region}))
    assert [ids[c["id"]] for c in page["items"]] == ["good", "edge"]  # sorted by U at 10 V
    assert page["total"] == 2
    absolute = ok(api.get("/api/v1/capabilities", params={
        "quantity": "DC voltage", "value": "10", "max_uncertainty": "0.00005",
        "organisation": code}))
    assert sorted(ids[c["id"]] for c in absolute["items"]) == ["edge", "good"]
    paged = ok(api.get("/api/v1/capabilities", params={"organisation": code, "limit": 1,
                                                       "offset": 1, "sort": "range"}))
    assert paged["total"] == 4 and len(paged["items"]) == 1
    assert ids[paged["items"][0]["id"]] in {"good", "edge", "worse"}
    bad = api.get("/api/v1/capabilities", params={"max_uncertainty": "1"})
    assert bad.status_code == 422 and bad.json()["field"] == "max_uncertainty"
    assert api.get("/api/v1/capabilities", params={"limit": 0}).status_code == 422


def test_standard_search_filters(api: httpx.Client, world: World) -> None:
    a = publish_standard(api, world, "lab", range_min="1", range_max="10",
                         uncertainty_relative="0.000001")
    b = publish_standard(api, world, "lab", range_min="1", range_max="10",
                         uncertainty_relative="0.00001")
    org = world.orgs["lab"]
    got = ok(api.get("/api/v1/standards", params={
        "organisation": org, "value": "5", "max_relative_uncertainty": "0.000002",
        "limit": 200}))
    idents = {s["identifier"] for s in got["items"]}
    assert a["identifier"] in idents and b["identifier"] not in idents
    none = ok(api.get("/api/v1/standards", params={"organisation": org, "value": "50",
                                                   "q": a["identifier"]}))
    assert none["total"] == 0
    kind = ok(api.get("/api/v1/standards", params={"kind": "national_primary",
                                                   "organisation": org}))
    assert kind["total"] == 0


def test_corrections_keep_superseded_values(api: httpx.Client, world: World) -> None:
    std = publish_standard(api, world, "lab")
    path = f"/api/v1/standards/{std['identifier']}/corrections"
    de = world.headers("lab", "data_entry")
    ok(api.post(path, headers=de, json={"nominal": "10", "correction": "0.0000123",
                                        "uncertainty": "0.000002", "valid_from": "2025-01-01"}),
       201)
    rows = ok(api.post(path, headers=de, json={
        "nominal": "10", "correction": "0.0000119", "uncertainty": "0.000002",
        "valid_from": "2026-01-01"}), 201)
    assert [r["correction"] for r in rows] == ["0.0000123", "0.0000119"]
    assert rows[0]["superseded_at"] is not None and rows[1]["superseded_at"] is None
    assert api.post(path, headers=world.headers("lab", "technician"), json={
        "nominal": "1", "correction": "0", "uncertainty": "0", "valid_from": "2026-01-01",
    }).status_code == 403


def test_cmc_needs_an_uncertainty(api: httpx.Client, world: World) -> None:
    r = api.post("/api/v1/capabilities", headers=world.headers("lab", "data_entry"), json={
        "organisation_code": world.orgs["lab"], "domain": "d", "quantity": "DC voltage",
        "unit": "V", "range_min": "0", "range_max": "1"})
    assert r.status_code == 422 and r.json()["field"] == "uncertainty_relative"
    cmc = publish_cmc(api, world, "lab")
    assert ok(api.get(f"/api/v1/capabilities/{cmc['id']}"))["review_state"] == "published"


def test_editing_goes_back_through_review(api: httpx.Client, world: World) -> None:
    std = publish_standard(api, world, "lab")
    ident = std["identifier"]
    de, rv = world.headers("lab", "data_entry"), world.headers("lab", "reviewer")
    body = {"reason": "range extended after upgrade", "range_max": "20"}
    assert api.patch(f"/api/v1/standards/{ident}", headers=de, json=body).status_code == 409
    ok(api.post(f"/api/v1/standards/{ident}/revise", headers=de, json={"reason": "upgrade"}))
    assert api.get(f"/api/v1/standards/{ident}").status_code == 404  # out of the public view
    assert api.patch(f"/api/v1/standards/{ident}", headers=rv, json=body).status_code == 403
    edited = ok(api.patch(f"/api/v1/standards/{ident}", headers=de, json=body))
    assert edited["range_max"] == "20" and edited["review_state"] == "draft"
    r = api.patch(f"/api/v1/standards/{ident}", headers=de,
                  json={"reason": "x", "range_min": "30"})
    assert r.status_code == 422 and r.json()["field"] == "range_min"
    r = api.patch(f"/api/v1/standards/{ident}", headers=de, json={"reason": "x",
                                                                  "method": "m"})
    assert r.status_code == 422 and r.json()["field"] == "method"
    ok(api.post(f"/api/v1/standards/{ident}/submit", headers=de))
    ok(api.post(f"/api/v1/standards/{ident}/review", headers=rv, json={"approve": True}))
    found = ok(api.get("/api/v1/standards", params={"q": ident, "value": "15"}))
    assert [s["identifier"] for s in found["items"]] == [ident]
    cmc = publish_cmc(api, world, "lab")
    ok(api.post(f"/api/v1/capabilities/{cmc['id']}/revise", headers=rv, json={"reason": "r"}))
    got = ok(api.patch(f"/api/v1/capabilities/{cmc['id']}", headers=de,
                       json={"reason": "better", "uncertainty_relative": "0.0000015"}))
    assert got["uncertainty_relative"] == "0.0000015"
