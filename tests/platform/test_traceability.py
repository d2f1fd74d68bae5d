"""Traceability across a three-level chain, and reverse traceability / out-of-tolerance impact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.fixtures.db import World
from tests.platform.chain import build_chain
from tests.platform.helpers import ok, record_calibration


def _links(node: dict) -> list[dict]:
    return node["links"]  # type: ignore[no-any-return]


def test_chain_reaches_the_national_primary_standard(api: httpx.Client, world: World) -> None:
    ch = build_chain(api, world)
    t = ok(api.get(f"/api/v1/certificates/{ch.c3['number']}/traceability"))
    assert t["complete"] is True and t["broken_links"] == []
    assert t["national_primary_standards"] == [ch.primary]
    w = _links(t["chain"])[0]
    assert w["standard"] == ch.working and w["state"] == "valid"
    assert w["calibration"]["certificate_number"] == ch.c2["number"]
    r = _links(w["next"])[0]
    assert r["standard"] == ch.reference and r["calibration"]["certificate_number"] == \
        ch.c1["number"]
    p = _links(r["next"])[0]
    assert p["standard"] == ch.primary and p["terminal"] == "national_primary"
    # the traceability statement printed on the certificate names the primary standard
    from io import BytesIO

    from pypdf import PdfReader

    pdf = api.get(f"/api/v1/certificates/{ch.c3['number']}/pdf",
                  headers=world.headers("lab", "checker")).content
    text = " ".join(pg.extract_text() for pg in PdfReader(BytesIO(pdf)).pages)
    assert ch.primary in text.replace("\n", " ")


def test_an_expired_link_upstream_is_shown_as_broken(api: httpx.Client, world: World) -> None:
    """The reference standard's certificate expired before it was used to calibrate W."""
    from tests.platform.helpers import draft, point, publish_standard, uid

    now = datetime.now(UTC)
    ch = build_chain(api, world)
    # an older, already expired external calibration of a second provincial standard
    r2 = publish_standard(api, world, "prov", kind="reference")["identifier"]
    record_calibration(api, world, "prov", r2, {
        "certificate_number": "OLD-1", "issuer": "Somewhere",
        "calibrated_on": (now - timedelta(days=800)).date().isoformat(),
        "due_date": (now - timedelta(days=435)).date().isoformat()})
    t = ok(api.get(f"/api/v1/certificates/{ch.c3['number']}/traceability"))
    assert t["complete"]  # untouched by an unrelated standard
    # a draft using it (issuing would be refused) shows the link broken
    c = draft(api, world, "prov", standards=[r2], begin=now - timedelta(days=1))
    ok(api.post(f"/api/v1/certificates/{c['number']}/results", json={"points": [point()]},
                headers={**world.station("prov"), "Idempotency-Key": uid("k")}), 201)
    t2 = ok(api.get(f"/api/v1/certificates/{c['number']}/traceability",
                    headers=world.headers("prov", "technician")))
    assert t2["complete"] is False
    link = _links(t2["chain"])[0]
    assert link["state"] == "standard_expired" and link["terminal"] == "broken"
    assert "OLD-1" in t2["broken_links"][0]
    # drafts are not public
    assert api.get(f"/api/v1/certificates/{c['number']}/traceability").status_code == 404


def test_out_of_tolerance_flags_every_certificate_downstream(api: httpx.Client,
                                                             world: World) -> None:
    """R is found out of tolerance: C2 (used R) and C3 (used W, calibrated by C2) are flagged."""
    ch = build_chain(api, world)
    since = (datetime.now(UTC) - timedelta(days=10)).isoformat()
    before = ok(api.get(f"/api/v1/standards/{ch.reference}/impact", params={"since": since},
                        headers=world.headers("prov", "reviewer")))
    got = {(c["number"], c["depth"]) for c in before["certificates"]}
    assert got == {(ch.c2["number"], 1), (ch.c3["number"], 2)}
    later = ok(api.get(f"/api/v1/standards/{ch.reference}/impact",
                       params={"since": datetime.now(UTC).isoformat()},
                       headers=world.headers("prov", "reviewer")))
    assert later["certificates"] == []
    assert api.get(f"/api/v1/standards/{ch.reference}/impact", params={"since": since},
                   headers=world.headers("lab", "reviewer")).status_code == 403
    assert api.get(f"/api/v1/standards/{ch.reference}/impact",
                   params={"since": since}).status_code == 401

    # C2's point: error 0.000004 V (U 0.00001 V) against ±0.0001 V, a pass. R was in fact
    # 0.00011 V high, so the corrected error is -0.000106 V: beyond the limit, a fail.
    r = ok(api.post(f"/api/v1/standards/{ch.reference}/status",
                    headers=world.headers("prov", "reviewer"),
                    json={"status": "out_of_tolerance", "reason": "found 0.00011 V high",
                          "error_absolute": "0.00011", "impact_since": since}))
    assert r["standard"]["status"] == "out_of_tolerance"
    entries = {c["number"]: c for c in r["impact"]["certificates"]}
    assert set(entries) == {ch.c2["number"], ch.c3["number"]}
    direct = entries[ch.c2["number"]]
    assert direct["depth"] == 1 and len(direct["points"]) == 1
    pt = direct["points"][0]
    assert pt["error_reported"] == "0.000004" and pt["error_corrected"] == "-0.000106"
    assert pt["conformity_reported"] == "pass" and pt["conformity_corrected"] == "fail"
    assert pt["still_holds"] is False and "no longer holds" in direct["action"]
    indirect = entries[ch.c3["number"]]
    assert indirect["depth"] == 2 and indirect["via"] == [ch.reference, ch.working]
    # first-order estimate downstream: 0.000012 - 0.00011 = -0.000098, still inside ±0.0001
    (p3,) = indirect["points"]
    assert p3["propagated"] is True and p3["error_corrected"] == "-0.000098"
    assert p3["still_holds"] is True and "indirectly" in indirect["action"]
    # the certificates carry the flag
    c3 = ok(api.get(f"/api/v1/certificates/{ch.c3['number']}",
                    headers=world.headers("lab", "approver")))
    assert c3["flags"] and c3["flags"][0]["standard"] == ch.reference
    # the chain itself is unchanged: each link was valid at its time of use
    t = ok(api.get(f"/api/v1/certificates/{ch.c3['number']}/traceability"))
    assert t["complete"] is True


def test_status_change_needs_the_error_and_the_right_role(api: httpx.Client,
                                                          world: World) -> None:
    ch = build_chain(api, world)
    r = api.post(f"/api/v1/standards/{ch.working}/status",
                 headers=world.headers("lab", "reviewer"),
                 json={"status": "out_of_tolerance", "reason": "drift"})
    assert r.status_code == 422 and r.json()["field"] == "error_absolute"
    r = api.post(f"/api/v1/standards/{ch.working}/status",
                 headers=world.headers("lab", "technician"),
                 json={"status": "quarantined", "reason": "dropped"})
    assert r.status_code == 403
    ok(api.post(f"/api/v1/standards/{ch.working}/status", headers=world.headers("lab", "admin"),
                json={"status": "quarantined", "reason": "dropped"}))


def test_withdrawing_an_upstream_certificate_breaks_the_chain(api: httpx.Client,
                                                             world: World) -> None:
    from tests.platform.helpers import draft, point, uid

    ch = build_chain(api, world)
    ok(api.post(f"/api/v1/certificates/{ch.c1['number']}/withdraw",
                headers=world.headers("nmi", "approver"), json={"reason": "wrong reference"}))
    t = ok(api.get(f"/api/v1/certificates/{ch.c3['number']}/traceability"))
    assert t["complete"] is False
    r_link = _links(_links(t["chain"])[0]["next"])[0]
    assert r_link["standard"] == ch.reference and r_link["state"] == "calibration_withdrawn"
    # and R cannot be used for a new certificate until it is calibrated again
    c = draft(api, world, "prov", standards=[ch.reference])
    ok(api.post(f"/api/v1/certificates/{c['number']}/results", json={"points": [point()]},
                headers={**world.station("prov"), "Idempotency-Key": uid("k")}), 201)
    ok(api.post(f"/api/v1/certificates/{c['number']}/check",
                headers=world.headers("prov", "checker")))
    r = api.post(f"/api/v1/certificates/{c['number']}/issue",
                 headers=world.headers("prov", "approver"))
    assert r.status_code == 422 and r.json()["rule"] == "calibration_withdrawn"


def _calibrated_outside(api: httpx.Client, world: World, org: str, standard: str) -> None:
    """A current calibration of ``standard`` by a laboratory not on the platform."""
    from tests.platform.helpers import uid

    today = datetime.now(UTC).date()
    record_calibration(api, world, org, standard, {
        "certificate_number": uid("EXT"), "issuer": "Elsewhere",
        "calibrated_on": (today - timedelta(days=30)).isoformat(),
        "due_date": (today + timedelta(days=335)).isoformat()})


def test_the_error_is_carried_through_the_calibration_in_between(api: httpx.Client,
                                                                 world: World) -> None:
    """R, found 10 µV/V high, calibrated the calibrator W at 1 V and 10 V; W's corrections
    (a gain and an offset through those points) were off by the line through R's error at
    them, and so was every reference value W gave later: at 5 V by 50 µV. A 20 V point lies
    beyond the span W was calibrated over: the line is extrapolated, and the point says so.
    """
    from tests.platform.helpers import draft, ensure_cmcs, issue, point, publish_standard

    ensure_cmcs(api, world)
    now = datetime.now(UTC)
    r = publish_standard(api, world, "prov", kind="reference", range_max="20")["identifier"]
    _calibrated_outside(api, world, "prov", r)
    w = publish_standard(api, world, "lab", kind="working", range_max="20",
                         description="Multifunction calibrator")["identifier"]
    c2 = draft(api, world, "prov", standards=[r], item_standard=w,
               begin=now - timedelta(days=2), item_description="Multifunction calibrator")
    # W is a source: its indication is its setting (= nominal); R read what it put out
    issue(api, world, "prov", c2["number"],
          [point(nominal="1", error="0", reference_value="0.9999996", U="0.000005",
                 range_label="10 V"),
           point(nominal="10", error="0", reference_value="9.999996", U="0.00001",
                 range_label="10 V")])
    c3 = draft(api, world, "lab", standards=[w], begin=now - timedelta(days=1))
    issue(api, world, "lab", c3["number"],
          [point(nominal="5", error="-0.00006", U="0.00002"),
           point(nominal="20", error="0.00002", U="0.00004",
                 lower_limit="-0.0002", upper_limit="0.0002")])
    since = (now - timedelta(days=10)).isoformat()
    rep = ok(api.post(f"/api/v1/standards/{r}/status", headers=world.headers("prov", "reviewer"),
                      json={"status": "out_of_tolerance", "reason": "found 10 µV/V high",
                            "error_relative": "0.00001", "impact_since": since}))["impact"]
    entries = {c["number"]: c for c in rep["certificates"]}
    d1, d10 = entries[c2["number"]]["points"]
    assert d1["error_shift"] == "0.000009999996"  # 1e-5 × 0.9999996 V, exactly
    assert d10["error_shift"] == "0.00009999996"
    assert d10["basis"] == f"error found in {r}" and d10["propagated"] is False
    p5, p20 = entries[c3["number"]]["points"]
    assert p5["basis"] == f"carried through {c2['number']} of {w}"
    assert p5["propagated"] is True and p5["extrapolated"] is False
    # -60 µV reported; the reference was really 50 µV higher: -110 µV (U 20 µV, so rounded
    # to the microvolt, EA-4/02), beyond ±100 µV
    assert p5["error_shift"] == "0.00005" and p5["error_corrected"] == "-0.000110"
    assert p5["conformity_reported"] == "pass" and p5["conformity_corrected"] == "fail"
    assert p5["still_holds"] is False
    assert "no longer holds" in entries[c3["number"]]["action"]
    assert p20["extrapolated"] is True and p20["error_shift"] == "0.0002"
    assert p20["error_corrected"] == "-0.000180" and p20["still_holds"] is True


def test_the_error_stops_where_the_standard_in_between_was_not_calibrated_in_it(
        api: httpx.Client, world: World) -> None:
    """W's certificate from R has no DC voltage result: certificates made with W are listed
    (the chain passes through R) but nothing in them is decided again, and the reason is said."""
    from tests.platform.helpers import (
        draft,
        ensure_cmcs,
        issue,
        point,
        publish_cmc,
        publish_standard,
    )

    ensure_cmcs(api, world)
    publish_cmc(api, world, "prov", quantity="DC current", unit="A",
                uncertainty_relative="0.0000001", uncertainty_absolute="0.0000001")
    now = datetime.now(UTC)
    r = publish_standard(api, world, "prov", kind="reference")["identifier"]
    _calibrated_outside(api, world, "prov", r)
    w = publish_standard(api, world, "lab", kind="working")["identifier"]
    c2 = draft(api, world, "prov", standards=[r], item_standard=w,
               begin=now - timedelta(days=2))
    issue(api, world, "prov", c2["number"],
          [point(nominal="1", quantity="DC current", unit="A", table_title="DC current")])
    c3 = draft(api, world, "lab", standards=[w], begin=now - timedelta(days=1))
    issue(api, world, "lab", c3["number"], [point()])
    rep = ok(api.post(f"/api/v1/standards/{r}/status", headers=world.headers("prov", "reviewer"),
                      json={"status": "out_of_tolerance", "reason": "found high",
                            "error_absolute": "0.0002",
                            "impact_since": (now - timedelta(days=10)).isoformat()}))["impact"]
    entries = {c["number"]: c for c in rep["certificates"]}
    assert entries[c2["number"]]["points"] == []
    assert "no result in DC voltage [V]" in entries[c2["number"]]["note"]
    down = entries[c3["number"]]
    assert down["depth"] == 2 and down["points"] == []
    assert f"{c2['number']} has no result in DC voltage [V]" in down["note"]
