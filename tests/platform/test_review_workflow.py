"""The one review workflow of registry entries, run in full for each entry type through the
API: draft → (edit) → submitted → rejected back to draft → submitted → published → revised →
edited → published again, with every refusal on the way (wrong role, wrong laboratory, the
person who entered or edited it, a step out of turn, a field the type does not have) leaving
the entry's row and the audit trail exactly as they were.

A live server on the session's database; the rows are read back from that database.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.fixtures.db import World
from tests.platform.helpers import ok, uid
from tests.security._accounts import person

ENTRY = {"organisation_code": "", "domain": "electrical DC", "quantity": "DC voltage",
         "unit": "V", "range_min": "1", "range_max": "10", "uncertainty_relative": "0.00001"}
#: per type: the collection, the key's column, extra fields of a new entry, a field only this
#: type may edit (and its new value), a field only the other type has
TYPES: dict[str, dict[str, Any]] = {
    "standards": {"table": "standard", "entity": "standard", "column": "identifier",
                  "create": {"kind": "working", "description": "Multifunction calibrator"},
                  "own": ("description", "Multifunction calibrator, upgraded"),
                  "foreign": ("method", "Direct")},
    "capabilities": {"table": "capability", "entity": "capability", "column": "id",
                     "create": {"method": "Direct measurement"},
                     "own": ("method", "Direct comparison"),
                     "foreign": ("description", "Calibrator")},
}


def _row(engine: sa.Engine, table: str, column: str, key: object) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(sa.text(f"SELECT * FROM {table} WHERE {column} = :k"),
                           {"k": key}).mappings().one()
    return dict(row)


def _actions(engine: sa.Engine, entity: str, key: object) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [(a, r) for a, r in conn.execute(sa.text(
            "SELECT action, reason FROM audit_event WHERE entity_type = :t AND entity_id = :k "
            "ORDER BY id"), {"t": entity, "k": str(key)})]


@pytest.mark.parametrize("kind", TYPES)
def test_the_review_cycle_of_each_entry_type(api: httpx.Client, world: World,
                                             db_engine: sa.Engine, kind: str) -> None:
    t = TYPES[kind]
    de, rv = world.headers("lab", "data_entry"), world.headers("lab", "reviewer")
    # a person of the laboratory holding both roles: they enter, so they may not review
    _, author = person(api, world, "lab", "data_entry", "reviewer", authorised=False)
    body = {**ENTRY, **t["create"], "organisation_code": world.orgs["lab"]}
    if kind == "standards":
        body["identifier"] = uid("LAB-RV")
    created = ok(api.post(f"/api/v1/{kind}", json=body, headers=author), 201)
    key = created["identifier"] if kind == "standards" else created["id"]
    url = f"/api/v1/{kind}/{key}"
    assert created["review_state"] == "draft"

    def refused(method: str, path: str, status: int, who: dict[str, str],
                json: dict[str, Any] | None = None, field: str | None = None) -> None:
        """The request is refused with ``status`` and changes nothing."""
        before = (_row(db_engine, t["table"], t["column"], key),
                  _actions(db_engine, t["entity"], key))
        r = api.request(method, f"{url}{path}", json=json, headers=who)
        assert r.status_code == status, r.text
        if field is not None:
            assert r.json()["field"] == field, r.text
        assert (_row(db_engine, t["table"], t["column"], key),
                _actions(db_engine, t["entity"], key)) == before

    own, value = t["own"]
    foreign, other = t["foreign"]
    # a draft: edited by data entry only, in its own fields and within a range, not reviewed
    refused("PATCH", "", 403, rv, {"reason": "r", own: value})
    refused("PATCH", "", 422, de, {"reason": "r", foreign: other}, field=foreign)
    refused("PATCH", "", 422, de, {"reason": "r", "range_min": "11"}, field="range_min")
    refused("PATCH", "", 422, de, {"reason": "r"}, field="body")
    refused("POST", "/review", 409, rv, {"approve": True})
    refused("POST", "/revise", 409, de, {"reason": "not published"})
    refused("POST", "/submit", 403, rv)
    edited = ok(api.patch(url, json={"reason": "wording", own: value, "range_max": "20"},
                          headers=de))
    assert (edited[own], edited["range_max"]) == (value, "20")

    ok(api.post(f"{url}/submit", headers=author))
    # submitted: not edited nor submitted again; reviewed by a reviewer of the holder who
    # neither entered nor edited it
    refused("PATCH", "", 409, de, {"reason": "r", own: value})
    refused("POST", "/submit", 409, de)
    refused("POST", "/review", 403, author, {"approve": True})
    refused("POST", "/review", 403, de, {"approve": True})
    refused("POST", "/review", 403, world.headers("prov", "reviewer"), {"approve": True})
    assert api.get(url).status_code == 404  # not public before it is published

    back = ok(api.post(f"{url}/review", json={"approve": False, "comment": "serial missing"},
                       headers=rv))
    assert back["review_state"] == "draft"
    ok(api.post(f"{url}/submit", headers=de))
    published = ok(api.post(f"{url}/review", json={"approve": True}, headers=rv))
    assert published["review_state"] == "published"
    assert ok(api.get(url)) == published  # the public sees what was published
    row = _row(db_engine, t["table"], t["column"], key)
    assert row["review_state"] == "published" and row["published_at"] is not None
    refused("PATCH", "", 409, de, {"reason": "r", own: value})  # published: revise first
    refused("POST", "/revise", 403, world.headers("lab", "technician"), {"reason": "r"})

    revised = ok(api.post(f"{url}/revise", json={"reason": "upgrade"}, headers=de))
    assert revised["review_state"] == "draft"
    assert api.get(url).status_code == 404  # out of the public registry again
    row = _row(db_engine, t["table"], t["column"], key)
    assert row["reviewed_by_id"] is None and row["published_at"] is None
    # edited after the revision, it goes through review again
    ok(api.patch(url, json={"reason": "scope", "range_max": "30"}, headers=de))
    ok(api.post(f"{url}/submit", headers=de))
    again = ok(api.post(f"{url}/review", json={"approve": True}, headers=rv))
    assert (again["review_state"], again["range_max"]) == ("published", "30")

    entity = t["entity"]
    assert _actions(db_engine, entity, key) == [
        (f"{entity}.create", ""), (f"{entity}.update", "wording"), (f"{entity}.submit", ""),
        (f"{entity}.reject", "serial missing"), (f"{entity}.submit", ""),
        (f"{entity}.publish", ""), (f"{entity}.revise", "upgrade"), (f"{entity}.update", "scope"),
        (f"{entity}.submit", ""), (f"{entity}.publish", ""),
    ]


@pytest.mark.parametrize("kind", TYPES)
def test_an_editor_never_reviews_what_they_edited(api: httpx.Client, world: World,
                                                  db_engine: sa.Engine, kind: str) -> None:
    """Editing a draft makes the editor a contributor for good: after a revision too."""
    t = TYPES[kind]
    _, editor = person(api, world, "lab", "data_entry", "reviewer", authorised=False)
    de = world.headers("lab", "data_entry")
    body = {**ENTRY, **t["create"], "organisation_code": world.orgs["lab"]}
    if kind == "standards":
        body["identifier"] = uid("LAB-ED")
    created = ok(api.post(f"/api/v1/{kind}", json=body, headers=de), 201)
    key = created["identifier"] if kind == "standards" else created["id"]
    url = f"/api/v1/{kind}/{key}"
    own, value = t["own"]
    ok(api.patch(url, json={"reason": "typo", own: value}, headers=editor))
    ok(api.post(f"{url}/submit", headers=de))
    ok(api.post(f"{url}/review", json={"approve": True},
                headers=world.headers("lab", "reviewer")))
    ok(api.post(f"{url}/revise", json={"reason": "again"}, headers=de))
    ok(api.post(f"{url}/submit", headers=de))
    before = _row(db_engine, t["table"], t["column"], key)
    r = api.post(f"{url}/review", json={"approve": True}, headers=editor)
    assert r.status_code == 403 and "two-person" in r.json()["detail"], r.text
    assert _row(db_engine, t["table"], t["column"], key) == before
