"""Who reads what, and what an issued certificate must state (issue 9).

Customers read the issued revisions of their certificates only (never a draft or a checked
one); a certificate is not issued without standards used or without an identification of the
item (its PDF would claim traceability it does not have).
"""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa

from tests.fixtures.db import World
from tests.platform.chain import Chain, build_chain
from tests.platform.helpers import draft, issue, ok, point, uid
from tests.security._accounts import counts


@pytest.fixture(scope="module")
def chain(platform_url: str, world: World) -> Chain:
    with httpx.Client(base_url=platform_url, timeout=60) as api:
        return build_chain(api, world)


def _get(api: httpx.Client, world: World, number: str, what: str = "",
         **params: int) -> httpx.Response:
    return api.get(f"/api/v1/certificates/{number}{what}", params=params,
                   headers=world.headers("cust", "customer"))


def test_a_customer_reads_issued_revisions_only(api: httpx.Client, world: World,
                                                chain: Chain) -> None:
    cert = draft(api, world, "lab", standards=[chain.working])
    number = cert["number"]
    assert _get(api, world, number).status_code == 404  # a draft: not disclosed
    ok(api.post(f"/api/v1/certificates/{number}/results", json={"points": [point()]},
                headers={**world.station("lab"), "Idempotency-Key": uid("k")}), 201)
    ok(api.post(f"/api/v1/certificates/{number}/check", headers=world.headers("lab", "checker")))
    for what in ("", "/traceability"):
        assert _get(api, world, number, what).status_code == 404, what  # checked, not issued
    ok(api.post(f"/api/v1/certificates/{number}/issue", headers=world.headers("lab", "approver")))
    assert ok(_get(api, world, number))["status"] == "issued"
    assert _get(api, world, number, "/pdf").status_code == 200
    # an amendment in progress: the customer keeps seeing the issued revision
    ok(api.post(f"/api/v1/certificates/{number}/amend", json={"reason": "address"},
                headers=world.headers("lab", "approver")), 201)
    shown = ok(_get(api, world, number))
    assert shown["revision"] == 0 and shown["status"] == "issued"
    assert _get(api, world, number, revision=1).status_code == 404
    assert _get(api, world, number, "/pdf", revision=1).status_code == 404
    # the laboratory's staff see the draft revision
    assert ok(api.get(f"/api/v1/certificates/{number}",
                      headers=world.headers("lab", "checker")))["revision"] == 1


@pytest.mark.parametrize("missing, rule", [
    ("standards", "no_standards"),
    ("item", "no_item_identification"),
])
def test_issue_refuses_without_standards_or_item_identification(
        api: httpx.Client, world: World, chain: Chain, db_engine: sa.Engine, missing: str,
        rule: str) -> None:
    kw: dict = {"item_serial_number": "", "item_identifier": ""} if missing == "item" else {}
    cert = draft(api, world, "lab", standards=[] if missing == "standards" else [chain.working],
                 **kw)
    number = cert["number"]
    ok(api.post(f"/api/v1/certificates/{number}/results", json={"points": [point()]},
                headers={**world.station("lab"), "Idempotency-Key": uid("k")}), 201)
    ok(api.post(f"/api/v1/certificates/{number}/check", headers=world.headers("lab", "checker")))
    before = counts(db_engine)
    r = api.post(f"/api/v1/certificates/{number}/issue", headers=world.headers("lab", "approver"))
    assert r.status_code == 422 and r.json()["rule"] == rule, r.text
    assert counts(db_engine) == before
    assert ok(api.get(f"/api/v1/certificates/{number}",
                      headers=world.headers("lab", "approver")))["status"] == "checked"


def test_the_item_identified_by_the_labs_own_identifier_is_enough(
        api: httpx.Client, world: World, chain: Chain) -> None:
    cert = draft(api, world, "lab", standards=[chain.working], item_serial_number="",
                 item_identifier="LAB-ITEM-7")
    assert issue(api, world, "lab", cert["number"])["status"] == "issued"
