"""One RunResult (the journal's), one register snapshot (the platform's), one station seam.

A real server (uvicorn on 127.0.0.1) with a simulated bench over loopback and a real SQLite
file; ``labctl run`` as a subprocess for the embedded and offline stations. The network is
seeded through the API exactly as ``labctl demo`` does it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from labctl.cli.demo import Api
from labctl.platform.admin import verify_audit
from labctl.platform.db import make_engine
from labctl.platform.models.certificates import Certificate
from labctl.platform.settings import Settings
from labctl.platform.stations.register import register_snapshot
from labctl.platform.stations.seam import (
    DraftDetails,
    EmbeddedStation,
    OfflineStation,
    RemoteStation,
)
from labctl.procedures.journal import SqliteJournal
from labctl.procedures.register import RegisterSnapshot
from labctl.procedures.results import RunResult
from tests.platform.live_bench import LiveBench, live_bench

SEED = 83
PRT_DUT = {"manufacturer": "Example Sensors", "model": "Pt100 4-wire, class A",
           "serial_number": "PRT-2026-0117", "identifier": "EX-PRT-0117"}
DRAFT = {"customer_name": "Example Instruments Ltd", "customer_code": "CUST",
         "item_description": "Platinum resistance thermometer",
         "method": "Comparison with a reference thermometer", "location": "Bench 1"}


Platform = LiveBench


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with live_bench(tmp_path_factory.mktemp("seam"), SEED) as live:
        yield live


def _wait_ended(api: Api, run_id: str) -> dict[str, Any]:
    with api.client.stream("GET", f"/api/v1/runs/{run_id}/events", timeout=120,
                           headers={"Authorization": f"Bearer {api.tokens['alice']}"}) as r:
        for _ in r.iter_lines():  # the stream ends when the run has ended
            pass
    return api.call("GET", f"/runs/{run_id}", who="alice")


def _certificates(settings: Settings) -> list[str]:
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            return sorted(c.number for c in session.exec(select(Certificate)).all())
    finally:
        engine.dispose()


# -- one RunResult: the journal's ---------------------------------------------------------------


@pytest.mark.timeout(240)
def test_a_prt_run_through_the_api_keeps_its_fit_and_instruments(platform: Platform):
    api, sim = platform.api, platform.sim
    sim.set_dmm_terminals("REAR")
    try:
        started = api.call("POST", "/benches/bench-1/runs", who="alice", body={
            "procedure": "prt-comparison", "dut": PRT_DUT, "checker": "bob"})
        run_id = started["run_id"]
        status = _wait_ended(api, run_id)
    finally:
        sim.set_dmm_terminals("FRON")
    assert status["status"] == "completed", status["reason"]
    returned = platform.app.state.runs.wait(run_id, timeout=60)  # what the runner returned
    assert isinstance(returned, RunResult) and returned.status == "completed"

    served = api.call("GET", f"/runs/{run_id}/result", who="bob")
    result = RunResult.from_dict(served)
    assert result == returned  # the API's result is the runner's, field for field
    assert served == returned.to_dict()
    fit = result.analysis["coefficients"]
    assert set(fit) == {"R0", "A", "B"} and 99 < fit["R0"] < 101  # a Pt100's fit
    assert abs(fit["A"] - 3.9083e-3) < 5e-5
    roles = {"thermometer", "dmm", "temperature_source", "environment"}
    assert roles <= set(result.instruments)
    assert all("snapshot" in result.instruments[r] for r in roles)
    assert result.instruments["dmm"]["identity"]["serial"] == sim.truth()["dmm"]["serial"]
    assert sorted(s["role"] for s in result.standards) == ["dmm", "thermometer"]
    assert result.finished is not None and result.finished >= result.points[-1].finished
    assert [c.quantity for c in result.conditions] == ["temperature", "humidity", "pressure"]
    assert result.conditions[0].samples > 0

    # the certificate drafted from it is the run's: points, standards, the operator
    draft = api.call("POST", f"/runs/{run_id}/certificate", who="alice", body=DRAFT)
    assert len(draft["points"]) == len(result.points) == 5
    assert [s["identifier"] for s in draft["standards"]] == [
        s["id"] for s in result.standards]
    assert draft["performed_by"] == "alice"

    # the same RunResult in its wire format, posted by the station, is the same draft
    # (idempotent on the run id): the typed input takes what the journal gives
    again = api.call("POST", "/stations/runs", who="station",
                     body={"result": served, **DRAFT})
    assert again["number"] == draft["number"]

    # a journal written before standards, instruments and analysis had their table: the
    # result keeps what the events logged (the standards' ids, the final event's fit)
    old = platform.tmp / "old-journal.sqlite"
    with closing(sqlite3.connect(platform.tmp / "bench-1.journal.sqlite")) as src, \
            closing(sqlite3.connect(old)) as dst:
        src.backup(dst)
        dst.execute("DELETE FROM run_data")
        dst.commit()
    with SqliteJournal(old) as jr:
        before = jr.result(run_id)
    assert before.analysis == result.analysis and before.instruments == {}
    assert sorted(s["id"] for s in before.standards) == sorted(
        s["id"] for s in result.standards)
    assert before.points == result.points and before.conditions == result.conditions


@pytest.mark.timeout(240)
def test_a_malformed_posted_run_is_refused_naming_the_field(platform: Platform):
    api, sim = platform.api, platform.sim
    started = api.call("POST", "/benches/bench-1/runs", who="alice", body={
        "procedure": "dmm-dcv-direct", "parameters": {"ranges": [10.0], "settle_time": 1.0},
        "dut": {"manufacturer": "Keysight Technologies", "model": "34465A",
                "serial_number": sim.truth()["dmm"]["serial"]}, "checker": "bob"})
    assert _wait_ended(api, started["run_id"])["status"] == "completed"
    wire = api.call("GET", f"/runs/{started['run_id']}/result", who="alice")
    before = _certificates(platform.settings)
    hdr = {"Authorization": f"Bearer {api.tokens['station']}",
           "Content-Type": "application/json"}
    for path, value, field in (
            (("points", 0, "U"), -1e-6, "body.result.points.0.U"),
            (("points", 1, "readings"), ["a lot"], "body.result.points.1.readings.0"),
            (("analysis",), {f"k{i}": i for i in range(51)}, "body.result.analysis"),
            (("instruments", "dmm"), "a string", "body.result.instruments.dmm"),
            (("conditions", 0, "mean"), float("inf"), "body.result.conditions.0.mean")):
        bad = json.loads(json.dumps(wire))
        node = bad
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
        resp = api.client.post("/api/v1/stations/runs", headers=hdr,
                               content=json.dumps({"result": bad, **DRAFT}).replace(
                                   "Infinity", "1e400"))
        assert resp.status_code == 422, (field, resp.text)
        assert resp.json()["field"] == field, resp.json()["field"]
    assert _certificates(platform.settings) == before  # nothing written


# -- one register snapshot: the platform's ------------------------------------------------------


def test_the_register_snapshot_has_a_schema_and_is_the_platforms(platform: Platform):
    api = platform.api
    doc = api.client.get("/openapi.json").json()
    answer = doc["paths"]["/api/v1/stations/register"]["get"]["responses"]["200"]
    ref = answer["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert {"taken_at", "max_age_days", "standards", "authorisations"} <= set(
        schema["properties"])

    served = api.call("GET", "/stations/register", who="station")
    snap = RegisterSnapshot.from_dict(served)  # what a station loads (and saves to a file)
    engine = make_engine(platform.settings.database_url)
    try:
        with Session(engine) as session:
            direct = register_snapshot(session, "ACAL", at=snap.taken_at)
    finally:
        engine.dispose()
    assert snap == direct  # the route only serves the platform's function
    assert snap.is_authorised(person="alice", procedure_id="prt-comparison", at=snap.taken_at)
    saved = platform.tmp / "register.json"
    snap.save(saved)
    assert RegisterSnapshot.load(saved) == snap  # the file format round-trips


def test_remote_and_offline_stations_read_the_same_register(platform: Platform):
    remote = RemoteStation(platform.url, platform.api.tokens["station"])
    fetched = remote.register()
    saved = platform.tmp / "offline.json"
    fetched.save(saved)
    assert OfflineStation(saved).register() == fetched
    assert OfflineStation(saved).deliver(None, None) is None  # type: ignore[arg-type]
    refused = RemoteStation(platform.url, platform.api.tokens["alice"])
    with pytest.raises(ValueError, match="403"):  # a person's token is not a station's
        refused.register()
    with pytest.raises(ValueError, match="station token"):
        RemoteStation(platform.url, "")
    with pytest.raises(ValueError, match="a platform that answers"):
        RemoteStation("http://127.0.0.1:9", "x").register()  # nothing listens there


# -- the embedded station: labctl run --lab ----------------------------------------------------


@pytest.mark.timeout(240)
def test_labctl_run_lab_delivers_into_the_embedded_database(platform: Platform,
                                                           tmp_path: Path):
    out, journal = tmp_path / "run.json", tmp_path / "j.sqlite"
    env = {**os.environ, "LABCTL_DATABASE_URL": platform.settings.database_url,
           "LABCTL_KEYS_DIR": str(platform.settings.keys_dir)}
    env.pop("LABCTL_STATION_TOKEN", None)
    done = subprocess.run(
        [sys.executable, "-m", "labctl", "run", "dmm-dcv-direct", "--sim", "--seed",
         str(SEED), "--lab", "ACAL", "--operator", "alice", "--checker", "bob",
         "--dut-serial", platform.sim.truth()["dmm"]["serial"], "--param", "ranges=10",
         "--customer-name", "Example Instruments Ltd", "--customer-code", "CUST",
         "--journal", str(journal), "--json", str(out)],
        capture_output=True, text=True, timeout=200, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    number = next(w for w in done.stdout.split() if w.startswith("ACAL-"))
    cert = platform.api.call("GET", f"/certificates/{number}", who="bob")
    assert cert["status"] == "draft" and cert["performed_by"] == "alice"
    assert len(cert["points"]) == 4
    assert [s["identifier"] for s in cert["standards"]] == ["LAB-CAL-01"]

    # what the command wrote is the journal's result of that run
    written = RunResult.from_dict(json.loads(out.read_text()))
    with SqliteJournal(journal) as jr:
        assert jr.result(written.run_id) == written
    assert written.instruments["dmm"]["identity"]["serial"] == platform.sim.truth()[
        "dmm"]["serial"]

    # the draft's audit events were sealed as the server's are: the trail verifies
    report = verify_audit(platform.settings.database_url, keys_dir=platform.settings.keys_dir)
    assert report.ok, report

    # and a second delivery of the same run (a retry) makes nothing new
    before = _certificates(platform.settings)
    station = EmbeddedStation.open(platform.settings.database_url,
                                   platform.settings.keys_dir, "ACAL")
    try:
        again = station.deliver(written, DraftDetails.for_run(
            written, customer_name="Example Instruments Ltd", customer_code="CUST",
            location="laboratory"))
    finally:
        station.close()
    assert again == number and _certificates(platform.settings) == before
