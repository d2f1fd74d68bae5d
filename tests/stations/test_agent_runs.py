"""Runs on a bench behind a station agent: started, followed, stopped, resumed and certified
through the platform's API exactly as on a bench of the server's own, with the agent a real
``labctl station serve`` subprocess connecting outward to a live platform.

Nothing is mocked: the agent serves the simulated bench (real SCPI / Modbus servers on
127.0.0.1) and journals the run on its side; the platform only ever sees what it posts.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.stations.agents import (
    AgentPlatform,
    agent,
    agent_platform,
    journal_points,
    sse,
)

SEED = 91


@pytest.fixture(scope="module", params=[
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres)])
def platform(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[AgentPlatform]:
    """The platform on each backend: on PostgreSQL the queue is claimed with SKIP LOCKED and
    the events reach their subscribers through LISTEN/NOTIFY."""
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_database_factory")()
    with agent_platform(tmp_path_factory.mktemp("agents"), SEED, url) as live:
        yield live


@pytest.mark.timeout(240)
def test_a_run_through_the_agent_is_followed_certified_and_issued(platform):
    api = platform.api
    with agent(platform, "agent-1"):
        bench = next(b for b in api.call("GET", "/benches", who="alice")
                     if b["name"] == "agent-1")
        assert bench["laboratory_code"] == "ACAL" and bench["simulated_time"] is True
        assert {"calibrator", "dmm", "environment"} <= set(bench["roles"])
        run_id = platform.start("agent-1")
        events = sse(api, run_id)  # follows the run live until it ends
        kinds = [e["event"] for e in events]
        assert kinds[0] == "started" and kinds[-1] == "completed", kinds
        assert kinds.count("point_done") == 4
        assert [int(e["id"]) for e in events] == list(range(len(events)))
        again = sse(api, run_id, "bob", last=events[2]["id"])  # a reconnect continues
        assert [e["id"] for e in again] == [e["id"] for e in events[3:]]
        status = platform.status(run_id, "bob")
        assert status["status"] == "completed" and status["points_done"] == 4
        assert status["bench"] == "agent-1" and status["operator"] == "alice"
        keys = journal_points(platform.tmp / "agent-1.journal.sqlite", run_id)
        assert [p["key"] for p in status["points"]] == keys and len(set(keys)) == 4
        result = api.call("GET", f"/runs/{run_id}/result", who="alice")
        assert result["run_id"] == run_id and len(result["points"]) == 4
        body = {"customer_name": "Example Instruments Ltd", "customer_code": "CUST",
                "item_description": "Digital multimeter", "method": "Direct comparison",
                "location": "Bench behind an agent"}
        draft = api.call("POST", f"/runs/{run_id}/certificate", who="alice", body=body)
        retry = api.call("POST", f"/runs/{run_id}/certificate", who="alice", body=body)
        assert retry["number"] == draft["number"] and len(draft["points"]) == 4
        api.call("POST", f"/certificates/{draft['number']}/check", who="bob")
        issued = api.call("POST", f"/certificates/{draft['number']}/issue", who="carol")
        assert issued["status"] == "issued"


@pytest.mark.timeout(240)
def test_stop_pauses_with_the_bench_safe_and_a_colleague_resumes_every_point_once(platform):
    api = platform.api
    with agent(platform, "agent-2", latency=0.02):
        run_id = platform.start("agent-2", ranges=(1.0, 10.0))
        platform.wait_status(run_id, {"running"})
        deadline = time.monotonic() + 60
        while platform.status(run_id)["points_done"] < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert api.call("POST", f"/runs/{run_id}/stop", who="alice")["status"] == "stopping"
        paused = platform.wait_status(run_id, {"paused"})
        assert paused["bench_safe"] is True
        done_then = paused["points_done"]
        assert 2 <= done_then < 8
        again = api.client.post(f"/api/v1/runs/{run_id}/stop",
                                headers={"Authorization": f"Bearer {api.tokens['alice']}"})
        assert again.status_code == 409  # not running any more
        api.call("POST", f"/runs/{run_id}/resume", who="alice")
        done = platform.wait_status(run_id, {"completed"})
        assert done["points_done"] == 8 and done["resumed_by"] == ["alice"]
        keys = [p["key"] for p in done["points"]]
        assert len(keys) == len(set(keys)) == 8
        assert keys == journal_points(platform.tmp / "agent-2.journal.sqlite", run_id)
        kinds = [e["event"] for e in sse(api, run_id)]
        assert kinds.count("paused") == 1 and kinds.count("resumed_run") == 1


@pytest.mark.timeout(300)
def test_an_agent_killed_mid_run_resumes_from_its_journal_every_point_once(platform):
    api = platform.api
    journal = platform.tmp / "agent-3.journal.sqlite"
    with agent(platform, "agent-3", latency=0.02) as proc:
        run_id = platform.start("agent-3", ranges=(1.0, 10.0))
        deadline = time.monotonic() + 60
        while len(journal_points(journal, run_id)) < 3 if journal.exists() else True:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    killed_at = len(journal_points(journal, run_id))
    assert platform.status(run_id)["status"] in ("running", "created")
    with agent(platform, "agent-3"):
        done = platform.wait_status(run_id, {"completed"}, timeout=120)
    keys = [p["key"] for p in done["points"]]
    assert len(keys) == len(set(keys)) == 8 and killed_at < 8
    assert keys == journal_points(journal, run_id)
    kinds = [e["event"] for e in sse(api, run_id)]
    assert kinds.count("resumed_run") == 1 and kinds[-1] == "completed"


@pytest.mark.timeout(120)
def test_a_station_reaches_only_its_own_bench_and_people_only_their_laboratory(platform):
    api = platform.api
    other = api.call("POST", "/organisations/PROV/stations", who="admin",
                     body={"name": "another-station"})["access_token"]
    with agent(platform, "agent-4"), httpx.Client(base_url=platform.url, timeout=30) as c:
        mine = {"Authorization": f"Bearer {platform.token}"}
        theirs = {"Authorization": f"Bearer {other}"}
        # the name is the other station's: refused, and its bench unchanged
        taken = c.put("/api/v1/stations/benches/agent-4", headers=theirs, json={"roles": []})
        assert taken.status_code == 409, taken.text
        assert c.get("/api/v1/stations/benches/agent-4/work", params={"wait": 0},
                     headers=theirs).status_code == 404
        run_id = platform.start("agent-4")
        platform.wait_status(run_id, {"completed"})
        forged = c.post(f"/api/v1/stations/bench-runs/{run_id}/progress", headers=theirs,
                        json={"status": "failed", "reason": "forged"})
        assert forged.status_code == 404
        assert platform.status(run_id)["status"] == "completed"
        # a person's token is not a station's
        user = {"Authorization": f"Bearer {api.tokens['alice']}"}
        assert c.get("/api/v1/stations/benches/agent-4/work", params={"wait": 0},
                     headers=user).status_code == 403
        # a person of another laboratory neither sees the bench nor reads the run
        assert all(b["name"] != "agent-4" for b in api.call("GET", "/benches",
                                                            who="prov.tech"))
        assert api.client.get(f"/api/v1/runs/{run_id}", headers={
            "Authorization": f"Bearer {api.tokens['prov.tech']}"}).status_code == 403
        # bad input to the agent's routes names the field and stores nothing
        bad = c.post(f"/api/v1/stations/bench-runs/{run_id}/progress", headers=mine,
                     json={"status": "completed", "events": [
                         {"seq": -1, "kind": "x", "data": {}}]})
        assert bad.status_code == 422 and "seq" in bad.text
        assert c.get("/api/v1/stations/benches/agent-4/work", params={"wait": 99},
                     headers=mine).status_code == 422
