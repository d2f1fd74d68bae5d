"""The certificate workflow and every rule the server enforces, through the HTTP API."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.fixtures.db import World
from tests.platform.chain import Chain, build_chain
from tests.platform.helpers import (
    draft,
    ensure_cmcs,
    issue,
    ok,
    point,
    publish_cmc,
    publish_standard,
    record_calibration,
    uid,
)


@pytest.fixture(scope="module")
def chain(platform_url: str, world: World) -> Chain:
    with httpx.Client(base_url=platform_url, timeout=60) as api:
        return build_chain(api, world)


def _results(api: httpx.Client, world: World, number: str, points: list[dict],
             key: str | None = None, org: str = "lab") -> httpx.Response:
    return api.post(f"/api/v1/certificates/{number}/results", json={"points": points},
                    headers={**world.station(org), "Idempotency-Key": key or uid("k")})


def _ready(api: httpx.Client, world: World, chain: Chain, **kw: object) -> dict:
    """A checked lab certificate using the working standard, ready to issue."""
    cert = draft(api, world, "lab", standards=[chain.working], **kw)  # type: ignore[arg-type]
    ok(_results(api, world, cert["number"], [point()]), 201)
    ok(api.post(f"/api/v1/certificates/{cert['number']}/check",
                headers=world.headers("lab", "checker")))
    return cert


def test_issued_certificate_has_pdf_dcc_and_verifies(api: httpx.Client, world: World,
                                                     chain: Chain) -> None:
    from pypdf import PdfReader

    from labctl.platform.documents.schema import validate_dcc
    from labctl.platform.documents.signing import verify_dcc

    number = chain.c3["number"]
    assert chain.c3["status"] == "issued" and chain.c3["revision"] == 0
    assert chain.c3["points"][0]["expanded_uncertainty"] == "0.000030"  # EA-4/02, 2 digits
    assert chain.c3["points"][0]["error"] == "0.000012"
    assert chain.c3["points"][0]["conformity"] == "pass"
    assert chain.c3["standards"][0]["certificate_number"] == chain.c2["number"]
    hdr = world.headers("lab", "approver")
    pdf = api.get(f"/api/v1/certificates/{number}/pdf", headers=hdr)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    for expected in (number, "Customer Ltd", "MY123", "0.000030", "Page 1 of"):
        assert expected in text, expected
    dcc = api.get(f"/api/v1/certificates/{number}/dcc", headers=hdr).content
    validate_dcc(dcc)
    assert verify_dcc(dcc).valid
    assert chain.c2["number"].encode() in dcc  # the standard's certificate id is in the DCC
    tampered = dcc.replace(b"0.000012", b"0.000002", 1)
    assert tampered != dcc and not verify_dcc(tampered).valid
    v = ok(api.get(f"/api/v1/verify/{number}"))
    assert v["signature_valid"] is True and v["status"] == "issued" and v["current"] is True
    assert v["content_hash"] == chain.c3["content_hash"] and len(v["content_hash"]) == 64
    # the customer reads it; another laboratory's staff may not
    assert api.get(f"/api/v1/certificates/{number}",
                   headers=world.headers("cust", "customer")).status_code == 200
    assert api.get(f"/api/v1/certificates/{number}",
                   headers=world.headers("prov", "approver")).status_code == 403
    assert api.get(f"/api/v1/verify/{number}-nope").status_code == 404
    # a browser (an old QR code) is sent to the verification page
    moved = api.get(f"/api/v1/verify/{number}", headers={"Accept": "text/html"})
    assert moved.status_code == 303 and moved.headers["location"] == f"/verify/{number}"
    page = api.get(moved.headers["location"], headers={"Accept": "text/html"})
    assert page.headers["content-type"].startswith("text/html")
    assert "Genuine and current" in page.text and number in page.text


def test_verification_detects_a_tampered_stored_dcc(api: httpx.Client, world: World,
                                                    chain: Chain, db_engine: object) -> None:
    import sqlalchemy as sa

    cert = _ready(api, world, chain)
    number = ok(api.post(f"/api/v1/certificates/{cert['number']}/issue",
                         headers=world.headers("lab", "approver")))["number"]
    with db_engine.begin() as conn:  # type: ignore[attr-defined]
        dcc = conn.execute(sa.text("SELECT dcc FROM certificate WHERE number = :n"),
                           {"n": number}).scalar_one()
        conn.execute(sa.text("UPDATE certificate SET dcc = :d WHERE number = :n"),
                     {"d": bytes(dcc).replace(b"0.000012", b"0.000002", 1), "n": number})
    try:
        v = ok(api.get(f"/api/v1/verify/{number}"))
        assert v["signature_valid"] is False
    finally:  # put it back (the session's other tests verify the audit trail of this database)
        with db_engine.begin() as conn:  # type: ignore[attr-defined]
            conn.execute(sa.text("UPDATE certificate SET dcc = :d WHERE number = :n"),
                         {"d": dcc, "n": number})
    assert ok(api.get(f"/api/v1/verify/{number}"))["signature_valid"] is True


def test_issued_certificates_are_immutable(api: httpx.Client, world: World,
                                          chain: Chain) -> None:
    number = chain.c3["number"]
    r = api.patch(f"/api/v1/certificates/{number}", headers=world.headers("lab", "technician"),
                  json={"reason": "r", "customer_name": "X"})
    assert r.status_code == 409
    r = _results(api, world, number, [point()])
    assert r.status_code == 409 and "immutable" in r.json()["detail"]
    assert api.post(f"/api/v1/certificates/{number}/check",
                    headers=world.headers("lab", "checker")).status_code == 409
    assert api.post(f"/api/v1/certificates/{number}/issue",
                    headers=world.headers("lab", "approver")).status_code == 409


def test_amendment_is_a_new_revision_that_replaces_the_old(api: httpx.Client, world: World,
                                                           chain: Chain) -> None:
    cert = _ready(api, world, chain)
    number = cert["number"]
    ok(api.post(f"/api/v1/certificates/{number}/issue", headers=world.headers("lab", "approver")))
    assert api.post(f"/api/v1/certificates/{number}/amend", json={"reason": "typo"},
                    headers=world.headers("lab", "technician")).status_code == 403
    new = ok(api.post(f"/api/v1/certificates/{number}/amend",
                      json={"reason": "customer address corrected"},
                      headers=world.headers("lab", "approver")), 201)
    assert new["revision"] == 1 and new["status"] == "draft"
    assert new["replaces"] == f"{number} rev 0" and len(new["points"]) == 1
    fixed = ok(api.patch(f"/api/v1/certificates/{number}", headers=world.headers(
        "lab", "technician"), json={"reason": "address was wrong",
                                    "customer_name": "Customer GmbH"}))
    assert fixed["customer_name"] == "Customer GmbH" and fixed["revision"] == 1
    # the issued revision 0 is untouched
    assert ok(api.get(f"/api/v1/certificates/{number}", params={"revision": 0},
                      headers=world.headers("lab", "approver")))["customer_name"] == \
        "Customer Ltd"
    # until the amendment is issued, revision 0 stays the valid one
    assert ok(api.get(f"/api/v1/verify/{number}"))["revision"] == 0
    issued = issue(api, world, "lab", number, [point(nominal="5", error="0.000001")])
    assert issued["revision"] == 1 and len(issued["points"]) == 2
    old = ok(api.get(f"/api/v1/certificates/{number}", params={"revision": 0},
                     headers=world.headers("lab", "approver")))
    assert old["status"] == "superseded"
    v = ok(api.get(f"/api/v1/verify/{number}"))
    assert v["revision"] == 1 and v["current"] and v["signature_valid"]
    v0 = ok(api.get(f"/api/v1/verify/{number}", params={"revision": 0}))
    assert v0["status"] == "superseded" and not v0["current"] and v0["signature_valid"]
    w = ok(api.post(f"/api/v1/certificates/{number}/withdraw", json={"reason": "recalled"},
                    headers=world.headers("lab", "approver")))
    assert w["status"] == "withdrawn"
    assert ok(api.get(f"/api/v1/verify/{number}"))["status"] == "withdrawn"


@pytest.mark.parametrize("who", ["performer_checks", "performer_approves", "checker_approves"])
def test_two_person_rule(api: httpx.Client, world: World, chain: Chain, who: str) -> None:
    lab = world.orgs["lab"]
    name = uid("multi").lower()
    ok(api.post(f"/api/v1/organisations/{lab}/users", headers=world.su, json={
        "username": name, "full_name": "Many Hats", "password": "correct horse battery staple",
        "roles": ["technician", "checker", "approver"]}), 201)
    ok(api.post(f"/api/v1/organisations/{lab}/users/{name}/authorisations", headers=world.su,
                json={"quantity": "DC voltage", "valid_from": "2020-01-01",
                      "valid_until": "2035-01-01"}), 201)
    tok = ok(api.post("/api/v1/auth/token", json={
        "username": name, "password": "correct horse battery staple"}))["access_token"]
    me = {"Authorization": f"Bearer {tok}"}
    # the performer is the caller (issue 9: naming another performer is refused)
    cert = draft(api, world, "lab", standards=[chain.working],
                 headers=me if who.startswith("performer") else None)
    number = cert["number"]
    ok(_results(api, world, number, [point()]), 201)
    if who == "performer_checks":
        r = api.post(f"/api/v1/certificates/{number}/check", headers=me)
        assert r.status_code == 403 and "two-person" in r.json()["detail"]
        return
    checker = me if who == "checker_approves" else world.headers("lab", "checker")
    ok(api.post(f"/api/v1/certificates/{number}/check", headers=checker))
    r = api.post(f"/api/v1/certificates/{number}/issue", headers=me)
    assert r.status_code == 403 and "two-person" in r.json()["detail"]


def _std_with_calibration(api: httpx.Client, world: World, *, calibrated_on: str,
                          due: str) -> str:
    std = publish_standard(api, world, "lab", kind="working")["identifier"]
    record_calibration(api, world, "lab", std, {
        "certificate_number": uid("EXT"), "issuer": "Outside Lab",
        "calibrated_on": calibrated_on, "due_date": due})
    return std


def _refused(api: httpx.Client, world: World, number: str) -> dict:
    ok(_results(api, world, number, [point()]), 201)
    ok(api.post(f"/api/v1/certificates/{number}/check", headers=world.headers("lab", "checker")))
    r = api.post(f"/api/v1/certificates/{number}/issue", headers=world.headers("lab", "approver"))
    assert r.status_code == 422, r.text
    assert ok(api.get(f"/api/v1/certificates/{number}", headers=world.headers(
        "lab", "approver")))["status"] == "checked"  # nothing half-done
    return r.json()  # type: ignore[no-any-return]


def test_refused_when_a_standard_had_expired_at_the_time_of_measurement(
        api: httpx.Client, world: World) -> None:
    ensure_cmcs(api, world)
    now = datetime.now(UTC)
    std = _std_with_calibration(api, world, calibrated_on=(now - timedelta(days=400)).date()
                                .isoformat(), due=(now - timedelta(days=35)).date().isoformat())
    cert = draft(api, world, "lab", standards=[std], begin=now - timedelta(days=30))
    body = _refused(api, world, cert["number"])
    assert body["rule"] == "standard_expired" and body["details"]["standard"] == std


def test_refused_when_a_standard_was_never_calibrated(api: httpx.Client, world: World) -> None:
    ensure_cmcs(api, world)
    std = publish_standard(api, world, "lab", kind="working")["identifier"]
    cert = draft(api, world, "lab", standards=[std])
    assert _refused(api, world, cert["number"])["rule"] == "standard_not_calibrated"


@pytest.mark.parametrize("status", ["quarantined", "out_of_tolerance"])
def test_refused_when_a_standard_was_quarantined_or_out_of_tolerance_then(
        api: httpx.Client, world: World, status: str) -> None:
    ensure_cmcs(api, world)
    now = datetime.now(UTC)
    std = _std_with_calibration(api, world, calibrated_on=(now - timedelta(days=100)).date()
                                .isoformat(), due=(now + timedelta(days=200)).date().isoformat())
    begin = now - timedelta(days=5)
    cert = draft(api, world, "lab", standards=[std], begin=begin)
    change = {"status": status, "reason": "drift found on check",
              "effective_at": (begin + timedelta(hours=1)).isoformat()}
    if status == "out_of_tolerance":
        change["error_absolute"] = "0.00002"
    ok(api.post(f"/api/v1/standards/{std}/status", json=change,
                headers=world.headers("lab", "reviewer")))
    assert _refused(api, world, cert["number"])["rule"] == f"standard_{status}"
    # a measurement made before the status change... is still refused, because it overlapped;
    # one made entirely before it is fine:
    early = draft(api, world, "lab", standards=[std], begin=begin - timedelta(days=2))
    issued = issue(api, world, "lab", early["number"])
    assert issued["status"] == "issued"


def test_refused_when_the_performer_was_not_authorised_then(api: httpx.Client,
                                                           world: World, chain: Chain) -> None:
    lab = world.orgs["lab"]
    name = uid("tech").lower()
    ok(api.post(f"/api/v1/organisations/{lab}/users", headers=world.su, json={
        "username": name, "full_name": "New Tech", "password": "correct horse battery staple",
        "roles": ["technician"]}), 201)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    ok(api.post(f"/api/v1/organisations/{lab}/users/{name}/authorisations", headers=world.su,
                json={"quantity": "DC voltage", "valid_from": tomorrow,
                      "valid_until": "2035-01-01"}), 201)
    tok = ok(api.post("/api/v1/auth/token", json={
        "username": name, "password": "correct horse battery staple"}))["access_token"]
    cert = draft(api, world, "lab", standards=[chain.working],
                 headers={"Authorization": f"Bearer {tok}"})  # the performer is the caller
    body = _refused(api, world, cert["number"])
    assert body["rule"] == "performer_not_authorised" and body["details"]["performer"] == name


def test_reported_U_is_rounded_and_never_below_the_cmc(api: httpx.Client, world: World,
                                                       chain: Chain) -> None:
    qty = uid("DCV")
    publish_cmc(api, world, "lab", quantity=qty, range_min="1", range_max="10",
                uncertainty_relative="0.000002", uncertainty_absolute="0")  # 20 µV at 10 V
    cert = draft(api, world, "lab", standards=[chain.working])
    number = cert["number"]
    r = _results(api, world, number, [point(quantity=qty, U="0.0000190")])
    assert r.status_code == 422
    body = r.json()
    assert body["rule"] == "u_below_cmc" and body["details"]["cmc_U"] == "0.000020"
    # 0.0000196 rounds to 0.000020 (EA-4/02 nearest, 2 digits): equal to the CMC, accepted
    ok(_results(api, world, number, [point(quantity=qty, U="0.0000196")]), 201)
    r = _results(api, world, number, [point(quantity=qty, nominal="20", U="0.001")])
    assert r.status_code == 422 and r.json()["rule"] == "outside_cmc"
    shown = ok(api.get(f"/api/v1/certificates/{number}", headers=world.headers("lab",
                                                                              "technician")))
    assert [p["expanded_uncertainty"] for p in shown["points"]] == ["0.000020"]
    assert len(shown["points"]) == 1  # the refused postings left nothing behind


def test_posting_is_idempotent(api: httpx.Client, world: World, chain: Chain) -> None:
    cert = draft(api, world, "lab", standards=[chain.working])
    number, key = cert["number"], uid("retry")
    pts = [point(), point(nominal="5", error="0.000003", U="0.00002")]
    first = _results(api, world, number, pts, key)
    assert first.status_code == 201
    again = _results(api, world, number, pts, key)
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    other = _results(api, world, number, [point(error="0.00005")], key)
    assert other.status_code == 409
    shown = ok(api.get(f"/api/v1/certificates/{number}", headers=world.headers("lab",
                                                                              "checker")))
    assert len(shown["points"]) == 2
    r = api.post(f"/api/v1/certificates/{number}/results", json={"points": pts},
                 headers=world.station("lab"))
    assert r.status_code == 422  # the key is required
    r = _results(api, world, number, pts, org="prov")
    assert r.status_code == 403  # another laboratory's station


ACTIONS = ["create", "results", "check", "issue", "amend", "withdraw"]
ALLOWED = {"create": "technician", "results": "technician", "check": "checker",
           "issue": "approver", "amend": "approver", "withdraw": "approver"}


@pytest.mark.parametrize("role", ["admin", "data_entry", "reviewer", "technician", "checker",
                                  "approver", "customer"])
def test_role_matrix_for_certificate_actions(api: httpx.Client, world: World, chain: Chain,
                                             role: str) -> None:
    """Each role tries each certificate action on a certificate in the right state."""
    org = "cust" if role == "customer" else "lab"
    hdr = world.headers(org, role)
    outcome = {}
    body = {"laboratory_code": world.orgs["lab"], "customer_name": "C",
            "item_description": "DMM", "quantity": "DC voltage", "procedure": "DCV-01",
            "method": "m", "location": "lab", "standards": [chain.working],
            "calibration_begin": (datetime.now(UTC) - timedelta(hours=3)).isoformat(),
            "calibration_end": (datetime.now(UTC) - timedelta(hours=2)).isoformat()}
    outcome["create"] = api.post("/api/v1/certificates", json=body, headers=hdr).status_code
    d = draft(api, world, "lab", standards=[chain.working])
    outcome["results"] = api.post(f"/api/v1/certificates/{d['number']}/results",
                                  json={"points": [point()]},
                                  headers={**hdr, "Idempotency-Key": uid("k")}).status_code
    ok(_results(api, world, d["number"], [point()]), 201)
    outcome["check"] = api.post(f"/api/v1/certificates/{d['number']}/check",
                                headers=hdr).status_code
    if outcome["check"] != 200:
        ok(api.post(f"/api/v1/certificates/{d['number']}/check",
                    headers=world.headers("lab", "checker")))
    outcome["issue"] = api.post(f"/api/v1/certificates/{d['number']}/issue",
                                headers=hdr).status_code
    if outcome["issue"] != 200:
        ok(api.post(f"/api/v1/certificates/{d['number']}/issue",
                    headers=world.headers("lab", "approver")))
    outcome["withdraw"] = api.post(f"/api/v1/certificates/{d['number']}/withdraw",
                                   json={"reason": "r"}, headers=hdr).status_code
    i = issue(api, world, "lab", draft(api, world, "lab", standards=[chain.working])["number"])
    outcome["amend"] = api.post(f"/api/v1/certificates/{i['number']}/amend",
                                json={"reason": "r"}, headers=hdr).status_code
    expected = {a: (201 if a in ("create", "results", "amend") else 200)
                if ALLOWED[a] == role else 403 for a in ACTIONS}
    assert outcome == expected


def test_draft_validation(api: httpx.Client, world: World, chain: Chain) -> None:
    now = datetime.now(UTC)
    r = api.post("/api/v1/certificates", headers=world.headers("lab", "technician"), json={
        "laboratory_code": world.orgs["lab"], "customer_name": "C", "item_description": "D",
        "quantity": "DC voltage", "procedure": "P", "method": "m", "location": "l",
        "calibration_begin": now.isoformat(),
        "calibration_end": (now - timedelta(hours=1)).isoformat()})
    assert r.status_code == 422 and r.json()["field"] == "calibration_end"
    r = api.post("/api/v1/certificates", headers=world.headers("lab", "technician"), json={
        "laboratory_code": world.orgs["lab"], "customer_name": "C", "item_description": "D",
        "quantity": "DC voltage", "procedure": "P", "method": "m", "location": "l",
        "calibration_begin": "2026-01-01T10:00:00",
        "calibration_end": "2026-01-01T11:00:00"})
    assert r.status_code == 422 and r.json()["field"] == "calibration_begin"
    cert = draft(api, world, "lab", standards=[chain.working])
    r = _results(api, world, cert["number"], [point(unit="furlong")])
    assert r.status_code == 422 and "unit" in r.text
    r = _results(api, world, cert["number"], [point(lower_limit=None)])
    assert r.status_code == 422
    assert api.post(f"/api/v1/certificates/{cert['number']}/check",
                    headers=world.headers("lab", "checker")).json()["rule"] == "no_results"


def test_issued_rows_are_guarded_below_the_services(chain: Chain, db_engine: object) -> None:
    """Code that bypasses the workflow still cannot change an issued revision through the ORM."""
    from sqlmodel import Session, select

    from labctl.errors import ConflictError
    from labctl.platform.models import Certificate, ResultPoint

    with Session(db_engine) as s:  # type: ignore[arg-type]
        cert = s.exec(select(Certificate).where(Certificate.number == chain.c3["number"])).one()
        cert.customer_name = "Someone Else"
        with pytest.raises(ConflictError, match="immutable"):
            s.flush()
        s.rollback()
        cert = s.exec(select(Certificate).where(Certificate.number == chain.c3["number"])).one()
        point_row = s.exec(select(ResultPoint).where(ResultPoint.certificate_id == cert.id)
                           ).first()
        assert point_row is not None
        s.delete(point_row)
        with pytest.raises(ConflictError, match="cannot change"):
            s.flush()


def test_editing_a_checked_draft_sends_it_back_to_check(api: httpx.Client, world: World,
                                                        chain: Chain) -> None:
    cert = _ready(api, world, chain)
    number = cert["number"]
    assert api.patch(f"/api/v1/certificates/{number}", headers=world.headers("lab", "checker"),
                     json={"reason": "r", "location": "Site"}).status_code == 403
    edited = ok(api.patch(f"/api/v1/certificates/{number}",
                          headers=world.headers("lab", "technician"),
                          json={"reason": "performed on site", "location": "Customer site",
                                "statements": ["Adjusted before calibration."]}))
    assert edited["status"] == "draft" and edited["checked_by"] is None
    assert edited["location"] == "Customer site"
    r = api.patch(f"/api/v1/certificates/{number}", headers=world.headers("lab", "technician"),
                  json={"reason": "nothing"})
    assert r.status_code == 422
