"""The issue path's status rule, read in one query: the status in force when the measurement
began counts as much as a change during it (through the HTTP API, both databases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.fixtures.db import World
from tests.platform.helpers import (
    draft,
    ensure_cmcs,
    issue,
    ok,
    point,
    publish_standard,
    record_calibration,
    uid,
)


def _checked(api: httpx.Client, world: World, std: str, begin: datetime) -> str:
    number: str = draft(api, world, "lab", standards=[std], begin=begin)["number"]
    ok(api.post(f"/api/v1/certificates/{number}/results", json={"points": [point()]},
                headers={**world.station("lab"), "Idempotency-Key": uid("k")}), 201)
    ok(api.post(f"/api/v1/certificates/{number}/check", headers=world.headers("lab", "checker")))
    return number


def _status(api: httpx.Client, world: World, std: str, status: str, at: datetime) -> None:
    ok(api.post(f"/api/v1/standards/{std}/status", headers=world.headers("lab", "reviewer"),
                json={"status": status, "reason": "bench check", "effective_at": at.isoformat()}))


def test_status_in_force_at_the_start_and_changes_during_decide(api: httpx.Client,
                                                                world: World) -> None:
    ensure_cmcs(api, world)
    now = datetime.now(UTC)
    std = publish_standard(api, world, "lab", kind="working")["identifier"]
    record_calibration(api, world, "lab", std, {
        "certificate_number": uid("EXT"), "issuer": "Outside Lab",
        "calibrated_on": (now - timedelta(days=100)).date().isoformat(),
        "due_date": (now + timedelta(days=200)).date().isoformat()})
    # Quarantined 20 days ago, back in service 10 days ago (two changes before each start).
    _status(api, world, std, "quarantined", now - timedelta(days=20))
    _status(api, world, std, "in_service", now - timedelta(days=10))
    during_quarantine = _checked(api, world, std, now - timedelta(days=15))
    after_it = draft(api, world, "lab", standards=[std], begin=now - timedelta(days=5))
    refused = api.post(f"/api/v1/certificates/{during_quarantine}/issue",
                       headers=world.headers("lab", "approver"))
    assert refused.status_code == 422, refused.text
    assert refused.json()["rule"] == "standard_quarantined"
    # The latest change before the start decides, not an older one.
    assert issue(api, world, "lab", after_it["number"])["status"] == "issued"
