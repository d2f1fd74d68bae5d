"""Comparisons over the HTTP API of a live server on a real database (SQLite file; the
PostgreSQL variants are marked ``postgres``): who creates, enters and publishes; the
organisation boundary; refused values; results locked once published; unpublished
comparisons invisible (404) to outsiders; the evaluation equal to the engine's."""

from __future__ import annotations

import math
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from labctl.platform.admin import verify_audit
from labctl.uncertainty import comparison as engine
from tests.comparisons.conftest import Comparisons
from tests.platform.helpers import ok, publish_standard, uid

#: (org, value, u, dof): three participants at 10 V; "lab" far out (it fails |En| ≤ 1)
RESULTS = [("nmi", "10.0000011", "0.0000003", None), ("prov", "10.0000014", "0.0000005", 20),
           ("lab", "10.0000090", "0.0000010", 10)]


def _run(cmp: Comparisons, ident: str) -> None:
    """Each participant's technician enters its own result with its standard."""
    for org, value, u, dof in RESULTS:
        extra = {"standard": cmp.standards[org]}
        if dof is not None:
            extra["dof"] = dof
        cmp.enter(ident, cmp.h(org, "technician"), org, value, u, **extra)


def test_a_key_comparison_evaluated_as_the_engine_does_then_published(
        cmp: Comparisons, api: httpx.Client) -> None:
    ident = cmp.create()["identifier"]
    _run(cmp, ident)
    # before publication a participant reads its own result only, and no evaluation
    own = ok(api.get(f"/api/v1/comparisons/{ident}", headers=cmp.h("lab", "technician")))
    assert [p["participant_code"] for p in own["participants"]] == [cmp.world.orgs["lab"]]
    assert own["evaluation"] is None and own["participants"][0]["en"] is None
    assert cmp.standards["prov"] not in api.get(f"/comparisons/{ident}",
                                                headers=cmp.h("lab", "technician")).text
    # the pilot's staff read everything
    body = ok(api.get(f"/api/v1/comparisons/{ident}", headers=cmp.h("nmi", "checker")))
    assert body["status"] == "open" and len(body["participants"]) == 3
    x = [float(v) for _, v, _, _ in RESULTS]
    u = [float(s) for _, _, s, _ in RESULTS]
    dof = [math.inf if d is None else d for _, _, _, d in RESULTS]
    ref = engine.evaluate_comparison(x, u, dof, k=2.0)
    ev = body["evaluation"]
    assert float(ev["reference_value"]) == ref.reference.value
    assert float(ev["reference_u"]) == ref.reference.u
    assert float(ev["chi2"]) == ref.reference.check.chi2
    assert ev["first_check_passed"] is ref.first_check.passed is False
    assert ev["excluded"] == [cmp.world.orgs["lab"]]
    for i, p in enumerate(body["participants"]):
        assert float(p["doe"]) == ref.doe.d[i] and float(p["U_doe"]) == ref.doe.U[i]
        assert float(p["en"]) == ref.doe.en[i]
    assert [p["en_passed"] for p in body["participants"]] == [True, True, False]
    # the pilot's reviewer (who entered nothing) publishes; the public reads it
    pub = ok(api.post(f"/api/v1/comparisons/{ident}/publish", json={"note": "Draft B"},
                      headers=cmp.h("nmi", "reviewer")))
    assert pub["status"] == "published" and pub["published_at"]
    anon = ok(api.get(f"/api/v1/comparisons/{ident}"))
    assert anon["evaluation"] == ev and anon["participants"][2]["standard"] == \
        cmp.standards["lab"]
    listed = ok(api.get("/api/v1/comparisons", params={"limit": 200}))
    assert ident in [c["identifier"] for c in listed["items"]]
    assert ident in api.get("/comparisons").text
    page = api.get(f"/comparisons/{ident}")
    assert page.status_code == 200 and '<svg class="graph doe" role="img"' in page.text
    assert page.text.count('class="badge bad"') == 1  # lab: |En| > 1
    # the failed participation opened an event on the standard "lab" used, as a failed
    # check does: under investigation; the others stay in service
    status = {org: ok(api.get(f"/api/v1/standards/{cmp.standards[org]}"))["status"]
              for org, *_ in RESULTS}
    assert status == {"nmi": "in_service", "prov": "in_service",
                      "lab": "under_investigation"}
    events = ok(api.get("/api/v1/quality-events", headers=cmp.h("lab", "checker")))
    items = events["items"] if isinstance(events, dict) else events
    assert [(e["kind"], e["standard"]) for e in items] == [
        ("comparison_en_failed", cmp.standards["lab"])]
    assert items[0]["rules"] == [f"comparison:{ident}"]


def test_another_organisation_may_not_enter_a_participants_result(cmp: Comparisons) -> None:
    ident = cmp.create()["identifier"]
    body = {"participant_code": cmp.world.orgs["prov"], "value": "10", "u": "0.000001"}
    # before it takes part, another laboratory does not even see the comparison
    for who in (cmp.h("lab", "technician"), cmp.h("cust", "customer")):
        cmp.refused("POST", f"/comparisons/{ident}/results", who, 404, body)
    cmp.enter(ident, cmp.h("lab", "technician"), "lab", "10.000002", "0.000001")
    # a participant may not enter for another participant
    for who in (cmp.h("lab", "technician"), cmp.h("lab", "approver")):
        r = cmp.refused("POST", f"/comparisons/{ident}/results", who, 403, body)
        assert r["rule"] == "role"
    # a customer has no laboratory role: no participant to default to
    cmp.refused("POST", f"/comparisons/{ident}/results", cmp.h("cust", "customer"), 404,
                {"value": "10", "u": "0.000001"})
    # nor name another participant's standard as its own
    cmp.refused("POST", f"/comparisons/{ident}/results", cmp.h("lab", "technician"), 422,
                {"participant_code": cmp.world.orgs["lab"], "value": "10", "u": "0.000001",
                 "standard": cmp.standards["prov"]}, field="standard")
    # an organisation that does not exist, a value beyond bounds
    cmp.refused("POST", f"/comparisons/{ident}/results", cmp.h("lab", "technician"), 422,
                {"participant_code": "NOSUCH9", "value": "10", "u": "0.000001"},
                field="participant_code")
    cmp.refused("POST", f"/comparisons/{ident}/results", cmp.h("lab", "technician"), 422,
                {"participant_code": cmp.world.orgs["lab"], "value": "1e16", "u": "0.000001"},
                field="body.value")
    # the pilot may enter for a participant (it collects the reports)
    cmp.enter(ident, cmp.h("nmi", "approver"), "prov", "10.000001", "0.000001")


@pytest.mark.parametrize(("raw", "field"), [
    ('"u": NaN', None), ('"u": Infinity', None), ('"u": "-0.000001"', "body.u"),
    ('"u": "0"', "body.u"), ('"u": "NaN"', "body.u"), ('"u": "Infinity"', "body.u"),
    ('"u": "1e30"', "body.u"), ('"u": 1e999', None), ('"u": "0.000001", "dof": 0', "body.dof"),
    ('"u": "0.000001", "dof": 2.5', "body.dof"), ('"u": "0.000001", "dof": -3', "body.dof"),
    ('"u": "1e-30"', "body.u"), ('"u": "0.000001", "reported_at": "2999-01-01T00:00:00Z"',
                                 "reported_at"), ('"u": "0.000001", "coverage_factor": "0"',
                                                  "body.coverage_factor")])
def test_non_finite_negative_and_out_of_bounds_values_are_refused(
        cmp: Comparisons, raw: str, field: str | None) -> None:
    ident = cmp.create()["identifier"]
    org = cmp.world.orgs["lab"]
    content = f'{{"participant_code": "{org}", "value": "10", {raw}}}'
    cmp.refused("POST", f"/comparisons/{ident}/results", cmp.h("lab", "technician"), 422,
                content=content, field=field)
    for value in ('"NaN"', '"inf"', '"1e400"', "NaN"):
        cmp.refused("POST", f"/comparisons/{ident}/results", cmp.h("lab", "technician"), 422,
                    content=f'{{"value": {value}, "u": "0.000001"}}')


def test_the_enterer_may_not_publish_and_results_lock_once_published(
        cmp: Comparisons, api: httpx.Client) -> None:
    ident = cmp.create()["identifier"]
    cmp.enter(ident, cmp.h("nmi", "approver"), "nmi", "10.0000011", "0.0000003")
    cmp.enter(ident, cmp.h("prov", "technician"), "prov", "10.0000013", "0.0000004")
    refused = cmp.refused("POST", f"/comparisons/{ident}/publish", cmp.h("nmi", "approver"),
                          403, {})
    assert refused["rule"] == "separation"
    # a participant's staff do not publish: the pilot does
    cmp.refused("POST", f"/comparisons/{ident}/publish", cmp.h("prov", "approver"), 403, {})
    ok(api.post(f"/api/v1/comparisons/{ident}/publish", json={},
                headers=cmp.h("nmi", "admin")))
    for who, org in ((cmp.h("prov", "technician"), "prov"), (cmp.h("nmi", "reviewer"), "lab")):
        r = cmp.refused("POST", f"/comparisons/{ident}/results", who, 409,
                        {"participant_code": cmp.world.orgs[org], "value": "10",
                         "u": "0.000001"})
        assert r["rule"] == "comparison_state" and r["details"]["status"] == "published"
    cmp.refused("POST", f"/comparisons/{ident}/publish", cmp.h("nmi", "reviewer"), 409, {})


def test_publishing_needs_enough_results_and_closing_stops_entries(
        cmp: Comparisons, api: httpx.Client) -> None:
    ident = cmp.create(status="planned")["identifier"]
    cmp.enter(ident, cmp.h("lab", "technician"), "lab", "10.000002", "0.000001")
    r = cmp.refused("POST", f"/comparisons/{ident}/publish", cmp.h("nmi", "reviewer"), 409, {})
    assert r["rule"] == "too_few_results" and "too few" in r["detail"]
    ok(api.post(f"/api/v1/comparisons/{ident}/status", json={"status": "open"},
                headers=cmp.h("nmi", "approver")))
    cmp.refused("POST", f"/comparisons/{ident}/status", cmp.h("nmi", "approver"), 409,
                {"status": "open"})
    cmp.refused("POST", f"/comparisons/{ident}/status", cmp.h("lab", "approver"), 403,
                {"status": "closed"})
    cmp.refused("POST", f"/comparisons/{ident}/status", cmp.h("nmi", "approver"), 422,
                {"status": "published"}, field="status")
    ok(api.post(f"/api/v1/comparisons/{ident}/status", json={"status": "closed"},
                headers=cmp.h("nmi", "approver")))
    cmp.refused("POST", f"/comparisons/{ident}/results", cmp.h("prov", "technician"), 409,
                {"participant_code": cmp.world.orgs["prov"], "value": "10", "u": "0.000001"})


def test_unpublished_comparisons_are_not_found_by_outsiders(
        cmp: Comparisons, api: httpx.Client) -> None:
    ident = cmp.create()["identifier"]
    cmp.enter(ident, cmp.h("lab", "technician"), "lab", "10.000002", "0.000001")
    for who in (None, cmp.h("cust", "customer"), cmp.h("prov", "technician")):
        r = api.get(f"/api/v1/comparisons/{ident}", headers=who or {})
        assert r.status_code == 404, r.text
        assert ident not in [c["identifier"] for c in ok(api.get(
            "/api/v1/comparisons", params={"limit": 200}, headers=who or {}))["items"]]
        # the public page too: 404, not 403; the list page does not name it
        assert api.get(f"/comparisons/{ident}", headers=who or {}).status_code == 404
        listing = api.get("/comparisons", headers=who or {})
        assert listing.status_code == 200 and ident not in listing.text
    assert ok(api.get(f"/api/v1/comparisons/{ident}", headers=cmp.h("lab", "technician")))
    assert ok(api.get(f"/api/v1/comparisons/{ident}", headers=cmp.h("nmi", "reviewer")))
    # an outsider cannot enter results into a comparison it cannot see: 404
    cmp.refused("POST", f"/comparisons/{ident}/results", cmp.h("cust", "customer"), 404,
                {"value": "10", "u": "0.000001"})


def test_who_creates_and_what_a_comparison_states(cmp: Comparisons) -> None:
    base = {"identifier": uid("PT"), "kind": "proficiency_test", "quantity": "DC voltage",
            "nominal_value": "10", "unit": "V", "pilot_code": cmp.world.orgs["lab"],
            "reference_method": "assigned_value", "assigned_value": "10.000001",
            "assigned_u": "0.0000005", "sigma_pt": "0.000002"}
    # the pilot's technician and a customer may not; another laboratory's approver may not
    for who in (cmp.h("lab", "technician"), cmp.h("cust", "customer"),
                cmp.h("prov", "technician")):
        cmp.refused("POST", "/comparisons", who, 403, base)
    cmp.refused("POST", "/comparisons", cmp.h("lab", "approver"), 422,
                {**base, "assigned_u": None}, field="body")
    cmp.refused("POST", "/comparisons", cmp.h("lab", "approver"), 422,
                {**base, "assigned_u": "-1"}, field="body.assigned_u")
    cmp.refused("POST", "/comparisons", cmp.h("lab", "approver"), 422,
                {**base, "identifier": "../x"}, field="body.identifier")
    cmp.refused("POST", "/comparisons", cmp.h("lab", "approver"), 404,
                {**base, "pilot_code": "NOPE0"})
    created = cmp.api.post("/api/v1/comparisons", json=base, headers=cmp.h("lab", "approver"))
    assert created.status_code == 201, created.text
    cmp.refused("POST", "/comparisons", cmp.h("nmi", "approver"), 409, base)
    # a national institute's approver may create one piloted by a laboratory
    ok(cmp.api.post("/api/v1/comparisons", json={**base, "identifier": uid("PT")},
                    headers=cmp.h("nmi", "approver")), 201)


def test_a_proficiency_test_scores_against_the_assigned_value(
        cmp: Comparisons, api: httpx.Client) -> None:
    ident = cmp.create(identifier=uid("PT"), kind="proficiency_test",
                       pilot_code=cmp.world.orgs["prov"], reference_method="assigned_value",
                       assigned_value="10.000001", assigned_u="0.0000005",
                       sigma_pt="0.000002")["identifier"]
    cmp.enter(ident, cmp.h("lab", "technician"), "lab", "10.0000045", "0.0000008",
              coverage_factor="2", standard=cmp.standards["lab"])
    body = ok(api.get(f"/api/v1/comparisons/{ident}", headers=cmp.h("prov", "reviewer")))
    p = body["participants"][0]
    en = engine.en_numbers(10.0000045, 2 * 0.8e-6, 10.000001, 2 * 0.5e-6).value
    z = engine.z_scores(10.0000045, 10.000001, 2e-6).value
    zeta = engine.zeta_scores(10.0000045, 0.8e-6, 10.000001, 0.5e-6).value
    assert float(p["en"]) == float(en) and float(p["z"]) == float(z)
    assert float(p["zeta"]) == float(zeta) and p["en_passed"] is False
    assert body["evaluation"]["chi2"] is None


def test_the_audit_trail_explains_every_comparison_row(
        cmp: Comparisons, api: httpx.Client, database_url: str, keys_dir: Path) -> None:
    ident = cmp.create()["identifier"]
    _run(cmp, ident)
    cmp.enter(ident, cmp.h("lab", "approver"), "lab", "10.0000012", "0.0000010")  # replaced
    ok(api.post(f"/api/v1/comparisons/{ident}/publish", json={},
                headers=cmp.h("nmi", "reviewer")))
    report = verify_audit(database_url, keys_dir=keys_dir)
    assert report.ok, report.model_dump()
    # a published result edited in the database behind the platform's back shows
    with cmp.engine.begin() as conn:
        rid, value = conn.execute(sa.text(
            "SELECT r.id, r.value FROM comparison_result r JOIN comparison c "
            "ON c.id = r.comparison_id WHERE c.identifier = :i ORDER BY r.id"),
            {"i": ident}).first()
        conn.execute(sa.text("UPDATE comparison_result SET value = '10.0000001' WHERE id = :r"),
                     {"r": rid})
    try:
        bad = verify_audit(database_url, keys_dir=keys_dir)
        assert not bad.ok and [(f.table, f.key, f.problem, f.column) for f in bad.rows] == [
            ("comparison_result", str(rid), "differs", "value")]
    finally:
        with cmp.engine.begin() as conn:
            conn.execute(sa.text("UPDATE comparison_result SET value = :v WHERE id = :r"),
                         {"v": value, "r": rid})
    assert verify_audit(database_url, keys_dir=keys_dir).ok


def test_the_standards_page_shows_its_published_comparisons(
        cmp: Comparisons, api: httpx.Client) -> None:
    std = publish_standard(api, cmp.world, "lab")["identifier"]
    ident = cmp.create()["identifier"]
    cmp.enter(ident, cmp.h("nmi", "technician"), "nmi", "10.0000011", "0.0000003")
    cmp.enter(ident, cmp.h("lab", "technician"), "lab", "10.0000090", "0.0000010",
              standard=std)
    assert ident not in api.get(f"/standards/{std}").text  # not yet published
    ok(api.post(f"/api/v1/comparisons/{ident}/publish", json={},
                headers=cmp.h("nmi", "reviewer")))
    page = api.get(f"/standards/{std}")
    assert page.status_code == 200 and ident in page.text
    en = ok(api.get(f"/api/v1/comparisons/{ident}"))["participants"][1]["en"]
    assert f"{float(en):.2f}" in page.text
    zh = api.get(f"/standards/{std}", headers={"Accept-Language": "zh"})
    assert zh.status_code == 200 and "持有单位使用此计量标准参加的比对" in zh.text
