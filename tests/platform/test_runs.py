"""Calibration runs through the API: start on a bench, follow by SSE, certify, issue.

A real server (uvicorn on 127.0.0.1), a real SQLite file, the simulated bench over loopback;
the network is seeded through the API exactly as ``labctl demo`` does it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from labctl.cli.demo import Api
from tests.fixtures.sse import sse_blocks
from tests.platform.live_bench import live_bench

SEED = 77


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, Any]]:
    with live_bench(tmp_path_factory.mktemp("runs"), SEED) as live:
        yield live.api, live.sim


def _events(api: Api, run_id: str, who: str, last: str | None = None) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {api.tokens[who]}"}
    if last is not None:
        headers["Last-Event-ID"] = last
    out = []
    with api.client.stream("GET", f"/api/v1/runs/{run_id}/events", headers=headers,
                           timeout=60) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        out.extend(sse_blocks(resp.iter_lines()))
    return out


@pytest.mark.timeout(180)
def test_run_on_a_bench_through_the_api_to_an_issued_certificate(station):
    api, sim = station
    benches = api.call("GET", "/benches", who="alice")
    assert benches[0]["name"] == "bench-1" and benches[0]["simulated_time"] is True
    started = api.call("POST", "/benches/bench-1/runs", who="alice", body={
        "procedure": "dmm-dcv-direct", "parameters": {"ranges": [10.0], "settle_time": 1.0},
        "dut": {"manufacturer": "Keysight Technologies", "model": "34465A",
                "serial_number": sim.truth()["dmm"]["serial"]},
        "checker": "bob"})
    run_id = started["run_id"]
    events = _events(api, run_id, "alice")  # follows the run live until it ends
    kinds = [e["event"] for e in events]
    assert kinds[0] == "started" and kinds[-1] == "completed"
    assert kinds.count("point_done") == 4
    again = _events(api, run_id, "bob", last=events[2]["id"])  # a reconnect continues
    assert [e["id"] for e in again] == [e["id"] for e in events[3:]]
    status = api.call("GET", f"/runs/{run_id}", who="bob")
    assert status["status"] == "completed" and status["points_done"] == 4
    assert status["operator"] == "alice"
    body = {"customer_name": "Example Instruments Ltd", "customer_code": "CUST",
            "item_description": "Digital multimeter", "method": "Direct comparison",
            "location": "Bench 1"}
    draft = api.call("POST", f"/runs/{run_id}/certificate", who="alice", body=body)
    retry = api.call("POST", f"/runs/{run_id}/certificate", who="alice", body=body)
    assert retry["number"] == draft["number"]  # idempotent on the run id
    assert len(draft["points"]) == 4
    assert [s["identifier"] for s in draft["standards"]] == ["LAB-CAL-01"]
    api.call("POST", f"/certificates/{draft['number']}/check", who="bob")
    issued = api.call("POST", f"/certificates/{draft['number']}/issue", who="carol")
    assert issued["status"] == "issued"
    assert api.call("GET", f"/verify/{draft['number']}")["status"] == "issued"


@pytest.mark.timeout(120)
def test_roles_and_bad_requests(station):
    api, sim = station
    start = {"procedure": "dmm-dcv-direct", "parameters": {"ranges": [1.0]},
             "dut": {"serial_number": sim.truth()["dmm"]["serial"]}, "checker": "bob"}
    for who, code in (("bob", 403), ("frank", 403), ("prov.tech", 403)):
        resp = api.client.post("/api/v1/benches/bench-1/runs", json=start,
                               headers={"Authorization": f"Bearer {api.tokens[who]}"})
        assert resp.status_code == code, (who, resp.text)
    resp = api.client.post("/api/v1/benches/bench-1/runs", json=start)
    assert resp.status_code == 401
    hdr = {"Authorization": f"Bearer {api.tokens['alice']}"}
    assert api.client.post("/api/v1/benches/nope/runs", json=start,
                           headers=hdr).status_code == 404
    bad = api.client.post("/api/v1/benches/bench-1/runs", headers=hdr,
                          json={**start, "parameters": {"ranges": [3.0]}})
    assert bad.status_code == 422 and "ranges" in bad.text
    # the run's checker is another person holding the checker role (issue 9): refused
    # before the bench is touched
    for checker in ("alice", "carol", "nobody-such"):
        same = api.client.post("/api/v1/benches/bench-1/runs", headers=hdr,
                               json={**start, "checker": checker})
        assert same.status_code == 422 and same.json()["field"] == "body.checker", same.text
    refused = api.call("POST", "/benches/bench-1/runs", who="alice",
                       body={**start, "dut": {"serial_number": "NOT-THIS-ONE"}})
    events = _events(api, refused["run_id"], "alice")
    assert events[-1]["event"] == "refused"
    assert "NOT-THIS-ONE" in events[-1]["data"]["message"]
    assert api.client.get(f"/api/v1/runs/{refused['run_id']}",
                          headers={"Authorization": f"Bearer {api.tokens['frank']}"}
                          ).status_code == 403
    cert = api.client.post(f"/api/v1/runs/{refused['run_id']}/certificate", headers=hdr,
                           json={"customer_name": "X", "item_description": "DMM",
                                 "method": "m", "location": "l"})
    assert cert.status_code == 409
