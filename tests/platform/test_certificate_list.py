"""``GET /api/v1/certificates``: the certificate revisions a caller may read, filtered and
paged (until it there was no way to list certificates at all). A real server and database
(both backends where the session runs them); who reads what is
``policy.can_read_certificate``'s answer, row by row."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest

from tests.fixtures.db import World
from tests.platform.chain import Chain, build_chain
from tests.platform.helpers import draft, ok, point, uid


@pytest.fixture(scope="module")
def chain(platform_url: str, world: World) -> Chain:
    with httpx.Client(base_url=platform_url, timeout=60) as api:
        return build_chain(api, world)


def _list(api: httpx.Client, headers: dict[str, str], **params: object) -> dict:
    return ok(api.get("/api/v1/certificates", params=params, headers=headers))


def _numbers(page: dict) -> list[str]:
    return [c["number"] for c in page["items"]]


def test_each_caller_lists_what_they_may_read(api: httpx.Client, world: World,
                                              chain: Chain) -> None:
    issued = chain.c3["number"]
    pending = draft(api, world, "lab", standards=[chain.working],
                    customer_name=uid("Zeta Instruments"))
    ok(api.post(f"/api/v1/certificates/{pending['number']}/results",
                json={"points": [point()]},
                headers={**world.station("lab"), "Idempotency-Key": uid("k")}), 201)
    staff = world.headers("lab", "checker")
    both = _numbers(_list(api, staff, laboratory=world.orgs["lab"], limit=200))
    assert issued in both and pending["number"] in both
    row = _list(api, staff, q=pending["number"])["items"][0]
    assert row["status"] == "draft" and row["checked_by"] is None
    assert row["performed_by"] == world.usernames[("lab", "technician")]
    assert row["contributors"] == [world.usernames[("lab", "technician")]]
    # an administrator above the laboratory reads it too; the customer only what was issued
    assert pending["number"] in _numbers(_list(api, world.headers("prov", "admin"),
                                               q=pending["number"]))
    customer = world.headers("cust", "customer")
    theirs = _numbers(_list(api, customer, limit=200))
    assert issued in theirs and pending["number"] not in theirs
    assert _list(api, customer, status="draft")["total"] == 0
    # another laboratory's staff read none of it (not even that it exists)
    assert _list(api, world.headers("prov", "checker"), q=pending["number"])["total"] == 0
    assert _list(api, world.headers("nmi", "technician"), q=issued)["total"] == 0


def test_filters_and_paging(api: httpx.Client, world: World, chain: Chain) -> None:
    issued = chain.c3
    staff = world.headers("lab", "approver")
    today = date.fromisoformat(issued["issue_date"])
    assert _numbers(_list(api, staff, q=issued["number"], status="issued")) == [
        issued["number"]]
    assert _list(api, staff, q=issued["number"], status="draft")["total"] == 0
    assert _list(api, staff, q=issued["number"], issued_from=str(today),
                 issued_to=str(today))["total"] == 1
    assert _list(api, staff, q=issued["number"],
                 issued_to=str(today - timedelta(days=1)))["total"] == 0
    assert _list(api, staff, q=issued["number"], laboratory="NO-SUCH-LAB")["total"] == 0
    name = issued["customer_name"]
    assert issued["number"] in _numbers(_list(api, staff, customer=name[2:8].upper(),
                                              limit=200))
    assert _list(api, staff, customer="%")["total"] == 0  # a wildcard is a character
    assert _list(api, staff, q=f"{issued['number']} nosuchword")["total"] == 0
    first = _list(api, staff, limit=1)
    second = _list(api, staff, limit=1, offset=1)
    assert first["total"] == second["total"] >= 2
    assert _numbers(first) != _numbers(second) or first["items"][0]["revision"] != \
        second["items"][0]["revision"]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 201}, {"offset": -1},
                                    {"status": "bogus"}, {"issued_from": "yesterday"},
                                    {"q": "x" * 201}])
def test_bad_filters_are_refused_with_the_field(api: httpx.Client, world: World,
                                                params: dict) -> None:
    resp = api.get("/api/v1/certificates", params=params, headers=world.headers("lab",
                                                                                  "checker"))
    assert resp.status_code == 422, resp.text
    assert resp.json()["field"] == f"query.{next(iter(params))}"


def test_anonymous_is_refused(api: httpx.Client) -> None:
    assert api.get("/api/v1/certificates").status_code == 401
