"""A check run on one of the server's benches (remote metrology): the run page's API files
its checks on the calibrator's charts; the certificate route still refuses it.

A real server (uvicorn on 127.0.0.1) driving a simulated bench over loopback, a real SQLite
file, seeded through the API as ``labctl demo`` seeds it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from labctl.cli.demo import Api
from tests.platform.live_bench import LiveBench, live_bench

SEED = 91


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveBench]:
    with live_bench(tmp_path_factory.mktemp("bench-checks"), SEED) as live:
        yield live


def _wait_ended(api: Api, run_id: str) -> dict[str, Any]:
    with api.client.stream("GET", f"/api/v1/runs/{run_id}/events", timeout=120,
                           headers={"Authorization": f"Bearer {api.tokens['alice']}"}) as r:
        for _ in r.iter_lines():  # the stream ends when the run has ended
            pass
    return api.call("GET", f"/runs/{run_id}", who="alice")  # type: ignore[no-any-return]


def _post(api: Api, path: str, who: str, body: Any = None) -> httpx.Response:
    return api.client.post(f"/api/v1{path}", json=body,
                           headers={"Authorization": f"Bearer {api.tokens[who]}"})


@pytest.mark.timeout(240)
def test_a_check_run_on_a_server_bench_is_filed_as_checks(platform: LiveBench):
    api, sim = platform.api, platform.sim
    serial = sim.truth()["calibrator"]["serial"]
    started = api.call("POST", "/benches/bench-1/runs", who="alice", body={
        "procedure": "dmm-calibrator-check", "checker": "bob",
        "dut": {"manufacturer": "Fluke", "model": "5522A", "serial_number": serial}})
    run_id = started["run_id"]
    assert _wait_ended(api, run_id)["status"] == "completed"

    refused = _post(api, f"/runs/{run_id}/certificate", "alice", {
        "customer_name": "Acme", "item_description": "Calibrator", "method": "check",
        "location": "Bench 1"})
    assert refused.status_code == 422 and refused.json()["rule"] == "check_not_certified"

    for who, code in (("frank", 403), ("prov.tech", 403)):
        assert _post(api, f"/runs/{run_id}/checks", who).status_code == code, who
    filed = _post(api, f"/runs/{run_id}/checks", "alice")
    assert filed.status_code == 201, filed.text
    body = filed.json()
    assert body["standard"] == "LAB-CAL-01" and body["status"] == "in_service"
    assert [c["point_key"] for c in body["checks"]] == ["+1V", "+10V", "-10V"]
    assert {c["run_id"] for c in body["checks"]} == {run_id}
    again = _post(api, f"/runs/{run_id}/checks", "alice")
    assert again.status_code == 201 and again.json()["checks"] == body["checks"]
    charts = api.call("GET", "/standards/LAB-CAL-01/checks", who="carol")
    assert [len(x["points"]) for x in charts["series"]] == [1, 1, 1]
    assert all(x["outcome"] == "baseline" and x["limits"] is None for x in charts["series"])
