"""Runs through the API: stop, resume and who may resume; run parameters checked up front.

A real server (uvicorn on 127.0.0.1), a real SQLite file, the simulated bench over loopback on
a manual clock shared with the runner (the room's 5 min settle takes simulated time only).

Reproductions (issue 9): ``stop`` during the settle made the run ``failed`` with a traceback;
``resume`` right after ``paused`` answered 409 "bench busy"; anyone could resume another's run
and nobody was recorded; ``"table": "/etc/passwd"`` returned the file's first line in the 422
and a missing path a 500; ``nplc`` = −5 / NaN was accepted and failed later.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlmodel import Session, create_engine, select

from labctl.cli.demo import LAB, PASSWORD, Api
from labctl.platform.models import AuditEvent
from tests.platform.live_bench import live_bench

SEED = 78


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, Any, str]]:
    with live_bench(tmp_path_factory.mktemp("runs-safety"), SEED,
                    instrument_timeout=1.0) as live:
        api, sim = live.api, live.sim
        # gina: a second technician authorised for the procedure; hank: not authorised
        for who in ("gina", "hank"):
            api.call("POST", f"/organisations/{LAB}/users", who="admin", body={
                "username": who, "full_name": who.title(), "password": PASSWORD,
                "roles": ["technician"]})
            api.login(who)
        api.call("POST", f"/organisations/{LAB}/users/gina/authorisations", who="admin",
                 body={"quantity": "DC voltage", "procedure": "dmm-dcv-direct",
                       "valid_from": "2024-01-01", "valid_until": "2030-12-31"})
        yield api, sim, live.settings.database_url


def _start(api: Api, sim: Any, who: str = "alice", **parameters: Any) -> httpx.Response:
    body = {"procedure": "dmm-dcv-direct",
            "parameters": {"ranges": [10.0], "settle_time": 1.0, **parameters},
            "dut": {"serial_number": sim.truth()["dmm"]["serial"]}, "checker": "bob"}
    return api.client.post("/api/v1/benches/bench-1/runs", content=json.dumps(body),
                           headers={"Authorization": f"Bearer {api.tokens[who]}",
                                    "Content-Type": "application/json"})


def _post(api: Api, path: str, who: str) -> httpx.Response:
    return api.client.post(f"/api/v1{path}",
                           headers={"Authorization": f"Bearer {api.tokens[who]}"})


def _status(api: Api, run_id: str) -> dict[str, Any]:
    return api.call("GET", f"/runs/{run_id}", who="alice")


def _until(api: Api, run_id: str, statuses: set[str], timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        got = _status(api, run_id)
        if got["status"] in statuses:
            return got
        assert time.monotonic() < deadline, got
        time.sleep(0.01)


def _audit(url: str, action: str, run_id: str) -> list[AuditEvent]:
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            return list(session.exec(select(AuditEvent).where(
                AuditEvent.action == action, AuditEvent.entity_id == run_id)))
    finally:
        engine.dispose()


@pytest.mark.timeout(240)
def test_stop_in_the_settle_pauses_and_an_authorised_colleague_resumes_at_once(station):
    api, sim, url = station
    env = sim.instruments["environment"]
    env.faults.latency = 0.05  # the 30 room samples of the settle take ~1.5 s of wall time
    seen = len(env.commands)
    try:
        started = _start(api, sim)
        assert started.status_code == 202, started.text
        run_id = started.json()["run_id"]
        deadline = time.monotonic() + 30
        while len([c for c in env.commands[seen:] if "read_input" in c]) < 3:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert _status(api, run_id)["points_done"] == 0
        # Closing the bench after the pause takes a while (a slow calibrator link).
        sim.instruments["calibrator"].faults.latency = 0.3
        assert _post(api, f"/runs/{run_id}/stop", "alice").status_code == 202
    finally:
        env.faults.latency = 0.0
    paused = _until(api, run_id, {"paused", "failed", "refused", "completed"})
    assert paused["status"] == "paused", paused
    assert paused["reason"] == "stopped on request", paused
    assert paused["bench_safe"] is True
    sim.instruments["calibrator"].faults.latency = 0.0

    # Not authorised for the procedure, or not a technician: refused, nothing changes.
    for who in ("hank", "bob"):
        resp = _post(api, f"/runs/{run_id}/resume", who)
        assert resp.status_code == 403, (who, resp.text)
    assert _status(api, run_id)["status"] == "paused"
    assert _audit(url, "run.resume", run_id) == []

    # At once after the pause (the bench is still being closed): accepted, not 409.
    resumed = _post(api, f"/runs/{run_id}/resume", "gina")
    assert resumed.status_code == 202, resumed.text
    done = _until(api, run_id, {"completed", "failed", "refused", "aborted"}, timeout=120)
    assert done["status"] == "completed", done
    assert done["operator"] == "alice" and done["resumed_by"] == ["gina"]
    events = api.call("GET", f"/runs/{run_id}", who="gina")
    assert events["points_done"] == 4
    audited = _audit(url, "run.resume", run_id)
    assert [(e.actor, e.data["resumed_by"], e.data["operator"]) for e in audited] == [
        (audited[0].actor, "gina", "alice")]
    assert "gina" in audited[0].actor
    assert sim.truth()["calibrator"]["operate"] is False


@pytest.mark.timeout(60)
@pytest.mark.parametrize("table", ["/etc/passwd", "/nonexistent/points.csv", "points.csv"])
def test_a_point_table_path_is_refused_over_the_api(station, table):
    api, sim, _ = station
    resp = _start(api, sim, table=table)
    assert resp.status_code == 422, resp.text
    assert "parameters.table" in resp.text
    assert "root:" not in resp.text and "reviewed point table" in resp.text
    assert api.call("GET", "/benches", who="alice")[0]["busy_with"] is None


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("value", "allowed"), [
    (-5, "0.02, 0.06, 0.2, 1, 10, 100"), (3, "0.02, 0.06, 0.2, 1, 10, 100"),
    ("NaN", "a finite number"), ("Infinity", "a finite number"), ("10", "a finite number"),
    (True, "a finite number")])
def test_nplc_is_checked_up_front_with_what_is_allowed(station, value, allowed):
    api, sim, _ = station
    if value in ("NaN", "Infinity"):  # JSON literals Python's json module writes
        value = float(value.lower() if value == "NaN" else "inf")
    resp = _start(api, sim, nplc=value)
    assert resp.status_code == 422, resp.text
    body = resp.text
    assert "nplc" in body and allowed in body


@pytest.mark.timeout(90)
def test_an_output_that_will_not_switch_off_is_shown_in_the_run_status(station):
    api, sim, _ = station
    from tests.safety._bench import scpi

    cal = sim.instruments["calibrator"]
    scpi(sim, "calibrator", "OUT 100 V;OPER")
    cal.faults.stuck_output = True
    try:
        started = _start(api, sim)
        assert started.status_code == 202, started.text
        run_id = started.json()["run_id"]
        got = _until(api, run_id, {"refused", "paused", "failed", "completed"})
        deadline = time.monotonic() + 30
        while api.call("GET", "/benches", who="alice")[0]["busy_with"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        cal.faults.clear()
        scpi(sim, "calibrator", "STBY")
    assert got["status"] == "refused" and got["bench_safe"] is False
    assert got["reason"].startswith("BENCH NOT CONFIRMED SAFE: switch calibrator off by hand")


@pytest.mark.timeout(90)
def test_a_calibrator_hung_when_the_run_opens_the_bench_is_shown_as_possibly_live(station):
    api, sim, _ = station
    cal = sim.instruments["calibrator"]
    cal.faults.no_reply = True
    try:
        started = _start(api, sim)
        assert started.status_code == 202, started.text
        run_id = started.json()["run_id"]
        got = _until(api, run_id, {"refused", "paused", "failed", "completed"})
    finally:
        cal.faults.clear()
    assert got["status"] == "failed" and got["bench_safe"] is False, got
    assert "switch calibrator off by hand now" in got["reason"]
    assert "output state is unknown" in got["reason"]
