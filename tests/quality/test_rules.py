"""Every rule and refusal of the checks, their events and the return to service.

A live platform on a real SQLite file (and on PostgreSQL, marked ``postgres``), seeded as
the demo seeds it; each test works on its own standard of the laboratory (entered by dave,
published by erin). Checks are filed through the service with the principals of the
people's and stations' real tokens, or through the HTTP API; refused requests are shown to
change nothing (rows counted, the audit trail verified).
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import Session, func, select

from labctl.cli.demo import LAB, PROV, DemoError, _publish
from labctl.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from labctl.platform import quality
from labctl.platform.accounts.auth import principal_for_token
from labctl.platform.admin import verify_audit
from labctl.platform.models.audit import AuditEvent
from labctl.platform.models.quality import CheckResult, QualityEvent, ReturnToServiceIn
from labctl.platform.quality import CheckPointIn, CheckRun
from tests.quality.world import DAY, Scene, scene

SEED = 77
counter = itertools.count(1)


@pytest.fixture(scope="module", params=[
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Scene]:
    url = request.getfixturevalue("postgres_database_factory")() \
        if request.param == "postgresql" else None
    with scene(tmp_path_factory.mktemp("rules"), SEED, days=25.0, database_url=url) as s:
        prov_station = s.api.call("POST", f"/organisations/{PROV}/stations", who="admin",
                                  body={"name": "prov-bench"})
        s.api.tokens["prov-station"] = prov_station["access_token"]
        yield s


def new_standard(s: Scene) -> str:
    """A DC voltage standard of the laboratory, ±(10 µV/V + 2 µV), in service."""
    ident = f"LAB-QC-{next(counter):03d}"
    _publish(s.api, "standards", {
        "identifier": ident, "kind": "working", "description": "DC voltage reference",
        "manufacturer": "Fluke", "model": "732B", "serial_number": f"S{ident}",
        "domain": "electrical DC", "quantity": "DC voltage", "unit": "V", "range_min": "0",
        "range_max": "10", "uncertainty_relative": "0.00001", "uncertainty_absolute": "0.000002",
        "organisation_code": LAB, "calibration_interval_days": 365}, "dave", "erin")
    return ident


def principal(s: Scene, who: str) -> Any:
    with Session(s.engine) as session:
        return principal_for_token(session, s.api.tokens[who])


T0 = datetime.now().astimezone() - timedelta(days=20)


def run(day: float, value: float, *, u: float = 1e-6, key: str = "+10V", operator: str = "alice",
        run_id: str | None = None) -> CheckRun:
    """One check at 10 V on ``day`` (after T0) finding ``value`` V."""
    return CheckRun(run_id=run_id or f"run-{next(counter)}", procedure="dmm-calibrator-check",
                    measured_at=T0 + timedelta(seconds=day * DAY), operator=operator,
                    points=[CheckPointIn(key, 10.0, "V", value, u)])


def file(s: Scene, who: str, ident: str, r: CheckRun) -> Any:
    with Session(s.engine, expire_on_commit=False) as session:
        return quality.file_check(session, principal(s, who), identifier=ident, run=r)


def rows(s: Scene) -> tuple[int, int, int]:
    with Session(s.engine) as session:
        return (session.exec(select(func.count()).select_from(CheckResult)).one(),
                session.exec(select(func.count()).select_from(QualityEvent)).one(),
                session.exec(select(func.count()).select_from(AuditEvent)).one())


BASELINE = (3.0e-6, 3.4e-6, 2.8e-6, 3.2e-6, 3.1e-6)  # V, in control about 3.1 µV


def baseline(s: Scene, ident: str, operator: str = "alice") -> None:
    for day, v in enumerate(BASELINE):
        filed = file(s, "station", ident, run(day, v, operator=operator))
        assert filed.status == "in_service" and not filed.events


def status(s: Scene, ident: str) -> str:
    return s.api.call("GET", f"/standards/{ident}", who="erin")["status"]  # type: ignore[no-any-return]


def back(s: Scene, who: str, ident: str, **body: Any) -> httpx.Response:
    return s.api.client.post(f"/api/v1/standards/{ident}/return-to-service",
                             json={"reason": "verified", **body},
                             headers={"Authorization": f"Bearer {s.api.tokens[who]}"})


# -- filing ------------------------------------------------------------------------------------


def test_a_point_beyond_3_sigma_puts_the_standard_under_investigation(world: Scene):
    s = world
    ident = new_standard(s)
    baseline(s, ident)
    filed = file(s, "station", ident, run(5, 3.1e-6))  # in control
    assert filed.status == "in_service" and not filed.events
    filed = file(s, "station", ident, run(6, 9e-6))  # far beyond 3σ, well within ±102 µV
    assert filed.status == "under_investigation"
    [event] = filed.events
    assert event.kind == "chart_rule" and "beyond_3_sigma" in event.rules
    assert event.check_ids == [c.id for c in filed.checks]
    assert event.standard_status == "under_investigation" and not event.impact["flagged"]
    assert status(s, ident) == "under_investigation"
    # a further signal joins the open event instead of opening another
    filed = file(s, "station", ident, run(7, 9.5e-6))
    assert [e.id for e in filed.events] == [event.id]
    assert len(filed.events[0].check_ids) == 2
    charts = s.api.call("GET", f"/standards/{ident}/checks", who="station")
    [series] = charts["series"]
    assert series["outcome"] == "investigate" and series["limits"]["n_baseline"] == 5
    assert series["centre"] == pytest.approx(sum(BASELINE) / 5)
    assert series["points"][-2]["rules"][0] == "beyond_3_sigma"
    # the moving range that fired with it implicates the check before: the last good one is
    # the one before that
    assert series["last_good_check_id"] == series["points"][4]["check_id"]


def test_a_run_on_one_side_fires_the_run_rule(world: Scene):
    s = world
    ident = new_standard(s)
    baseline(s, ident)
    codes = []
    for day in range(5, 13):  # 8 checks just above the centre, inside 1σ
        filed = file(s, "station", ident, run(day, 3.15e-6))
        codes.append([r for e in filed.events for r in e.rules])
    assert codes[-1] and "run_one_side" in codes[-1]
    assert not any(codes[:-1])  # the 8th completes it
    assert status(s, ident) == "under_investigation"


def test_a_check_beyond_tolerance_quarantines(world: Scene):
    s = world
    ident = new_standard(s)
    baseline(s, ident)
    filed = file(s, "station", ident, run(5, 3.1e-6 + 150e-6))  # tolerance ±102 µV at 10 V
    assert filed.status == "quarantined"
    [event] = filed.events
    assert event.kind == "beyond_tolerance" and "beyond_tolerance" in event.rules
    assert event.impact["flagged"] is True and event.impact["certificates"] == []
    # a quarantined standard is still checked (its verification)
    good = file(s, "station", ident, run(6, 3.0e-6))
    assert good.status == "quarantined"
    # the moving range back from the outlier fires too: it joins the open event
    assert [e.id for e in good.events] == [event.id]
    assert {"beyond_tolerance", "moving_range_beyond_limit"} <= set(good.events[0].rules)


def test_a_failed_en_before_the_baseline_opens_an_en_event(world: Scene):
    """With the certificate's correction (U = 10 µV) the En test is sharper than the
    tolerance (±102 µV): a check 30 µV from the first fails En, not the tolerance."""
    s = world
    ident = new_standard(s)
    s.api.call("POST", f"/standards/{ident}/corrections", who="dave", body={
        "nominal": "10", "correction": "0.000004", "uncertainty": "0.00001",
        "valid_from": (T0 - timedelta(days=1)).date().isoformat()})
    assert not file(s, "station", ident, run(0, 3e-6, u=1e-7)).events
    assert not file(s, "station", ident, run(1, 3e-6 + 9e-6, u=1e-7)).events  # En ≈ 0.9
    filed = file(s, "station", ident, run(2, 3e-6 + 30e-6, u=1e-7))  # En ≈ 3
    [event] = filed.events
    assert event.kind == "en_failed" and event.rules == ["en_failed"]
    assert filed.status == "under_investigation"
    charts = s.api.call("GET", f"/standards/{ident}/checks", who="erin")
    [series] = charts["series"]
    assert series["certified_value"] == pytest.approx(4e-6)
    assert series["certified_expanded"] == pytest.approx(1e-5)
    assert series["limits"] is None and series["outcome"] == "investigate"
    assert [p["en_ok"] for p in series["points"]] == [True, True, False]


def test_refiling_a_run_answers_the_stored_checks_and_changes_nothing(world: Scene):
    s = world
    ident = new_standard(s)
    r = run(0, 3e-6)
    first = file(s, "station", ident, r)
    before = rows(s)
    again = file(s, "station", ident, r)
    assert [c.id for c in again.checks] == [c.id for c in first.checks]
    assert rows(s) == before
    other = CheckRun(run_id=r.run_id, procedure=r.procedure, measured_at=r.measured_at,
                     points=[CheckPointIn("+10V", 10.0, "V", 4e-6, 1e-6)])
    with pytest.raises(ConflictError) as err:
        file(s, "station", ident, other)
    assert err.value.reason == "run_id_reused"
    assert rows(s) == before


@pytest.mark.parametrize(("field", "point"), [
    ("points[0].value", CheckPointIn("+10V", 10.0, "V", math.nan, 1e-6)),
    ("points[0].value", CheckPointIn("+10V", 10.0, "V", math.inf, 1e-6)),
    ("points[0].value", CheckPointIn("+10V", 10.0, "V", 1e300, 1e-6)),
    ("points[0].u", CheckPointIn("+10V", 10.0, "V", 1e-6, 0.0)),
    ("points[0].u", CheckPointIn("+10V", 10.0, "V", 1e-6, -1e-6)),
    ("points[0].u", CheckPointIn("+10V", 10.0, "V", 1e-6, math.nan)),
    ("points[0].nominal", CheckPointIn("+10V", -math.inf, "V", 1e-6, 1e-6)),
    ("points[0].unit", CheckPointIn("+10V", 10.0, "Ω", 1e-6, 1e-6)),
])
def test_bad_values_are_refused_naming_the_field(world: Scene, field: str, point: CheckPointIn):
    s = world
    ident = new_standard(s)
    before = rows(s)
    bad = CheckRun(run_id=f"bad-{next(counter)}", procedure="dmm-calibrator-check",
                   measured_at=T0, points=[point])
    with pytest.raises(ValidationError) as err:
        file(s, "station", ident, bad)
    assert err.value.field == field
    assert rows(s) == before


def test_a_time_in_the_future_or_without_zone_is_refused(world: Scene):
    s = world
    ident = new_standard(s)
    for when in (datetime.now().astimezone() + timedelta(days=1), datetime(2026, 1, 1)):
        bad = CheckRun(run_id=f"t-{next(counter)}", procedure="p", measured_at=when,
                       points=[CheckPointIn("+10V", 10.0, "V", 1e-6, 1e-6)])
        with pytest.raises(ValidationError) as err:
            file(s, "station", ident, bad)
        assert err.value.field == "measured_at"


def test_only_the_holders_station_or_technician_files_checks(world: Scene):
    s = world
    ident = new_standard(s)
    before = rows(s)
    for who, rule in (("prov.tech", "role"), ("erin", "role"), ("frank", "role"),
                      ("prov-station", "station")):
        with pytest.raises(PermissionDeniedError) as err:
            file(s, who, ident, run(0, 3e-6))
        assert err.value.rule in (rule, ""), (who, err.value.rule)
    assert rows(s) == before
    file(s, "alice", ident, run(0, 3e-6))  # the laboratory's technician may


def test_checks_of_a_retired_standard_are_refused(world: Scene):
    s = world
    ident = new_standard(s)
    s.api.call("POST", f"/standards/{ident}/status", who="erin",
               body={"status": "retired", "reason": "scrapped"})
    with pytest.raises(ConflictError) as err:
        file(s, "station", ident, run(0, 3e-6))
    assert err.value.reason == "standard_status"


def test_the_station_route_files_a_run_and_refuses_people_and_other_laboratories(
        world: Scene):
    s = world
    ident = new_standard(s)
    result = _run_result(ident)
    r = s.api.client.post("/api/v1/stations/checks", json={"result": result},
                          headers={"Authorization": f"Bearer {s.api.tokens['station']}"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["standard"] == ident and [c["point_key"] for c in body["checks"]] == ["+10V"]
    again = s.api.client.post("/api/v1/stations/checks", json={"result": result},
                              headers={"Authorization": f"Bearer {s.api.tokens['station']}"})
    assert again.status_code == 201 and again.json()["checks"] == body["checks"]
    for who, code in (("alice", 403), ("prov-station", 404)):
        r = s.api.client.post("/api/v1/stations/checks", json={"result": {
            **result, "run_id": f"x-{next(counter)}"}},
            headers={"Authorization": f"Bearer {s.api.tokens[who]}"})
        assert r.status_code == code, (who, r.text)
    nan = s.api.client.post(
        "/api/v1/stations/checks", headers={
            "Authorization": f"Bearer {s.api.tokens['station']}",
            "Content-Type": "application/json"},
        content=_json(result).replace('"value": 3e-06', '"value": NaN'))
    assert nan.status_code == 422


@pytest.mark.timeout(90)
def test_a_run_posted_by_racing_retries_is_filed_once_and_every_retry_gets_its_answer(
        world: Scene):
    # A station whose first post timed out retries while the first is still in flight: the
    # posts race. One files the checks, the others answer the stored checks -- none a 500.
    s = world
    ident = new_standard(s)
    result = _run_result(ident)
    before = rows(s)
    gate = threading.Barrier(6)

    def post(_: int) -> httpx.Response:
        with httpx.Client(base_url=s.url, timeout=60) as c:
            gate.wait(timeout=30)
            return c.post("/api/v1/stations/checks", json={"result": result},
                          headers={"Authorization": f"Bearer {s.api.tokens['station']}"})

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(post, range(6)))
    assert [r.status_code for r in answers] == [201] * 6, [r.text for r in answers]
    assert len({_json(r.json()["checks"]) for r in answers}) == 1
    checks, _, audit = rows(s)
    assert (checks, audit) == (before[0] + 1, before[2] + 1)  # one point, one filing


def _run_result(ident: str) -> dict[str, Any]:
    t = (T0 + timedelta(days=1)).isoformat()
    point = {"key": "+10V", "index": 0, "stage": "check", "quantity": "DC voltage",
             "unit": "V", "range_label": "11 V", "nominal": 10.0, "reference_value": 10.0,
             "measured_value": 10.000003, "error": 3e-6, "U": 2e-6, "k": 2.0,
             "coverage_probability": 0.95, "dof": 50.0, "budget": [], "readings": [10.000003],
             "started": t, "finished": t, "extra": {"u": 1e-6}}
    return {"run_id": f"route-{next(counter)}", "procedure_id": "dmm-calibrator-check",
            "procedure_version": "1.0", "status": "completed",
            "dut": {"identifier": ident, "manufacturer": "Fluke", "model": "732B",
                    "serial_number": f"S{ident}"},
            "operator": "alice", "checker": "bob", "started": t, "finished": t,
            "points": [point], "conditions": [], "standards": [], "instruments": {},
            "events": [],
            "analysis": {"kind": "check", "checked_role": "calibrator",
                         "check_standard_role": "dmm",
                         "values": [{"key": "+10V", "nominal": 10.0, "value": 3e-6, "u": 1e-6,
                                     "U": 2e-6, "k": 2.0, "dof": 50.0, "unit": "V"}]}}


def _json(d: Any) -> str:
    import json

    return json.dumps(d)


def test_reading_checks_and_events_stays_in_the_laboratory(world: Scene):
    s = world
    ident = new_standard(s)
    file(s, "station", ident, run(0, 3e-6))
    assert s.api.call("GET", f"/standards/{ident}/checks", who="bob")["standard"] == ident
    for who in ("prov.review", "frank", "prov-station"):
        r = s.api.client.get(f"/api/v1/standards/{ident}/checks",
                             headers={"Authorization": f"Bearer {s.api.tokens[who]}"})
        assert r.status_code == 404, who
    assert s.api.call("GET", "/quality-events", who="prov.tech") == []
    r = s.api.client.get(f"/api/v1/quality-events?standard={ident}",
                         headers={"Authorization": f"Bearer {s.api.tokens['prov.tech']}"})
    assert r.status_code == 404


# -- return to service -------------------------------------------------------------------------


def _investigated(s: Scene, operator: str = "erin") -> tuple[str, Any]:
    """A standard whose check, made by ``operator``, put it under investigation."""
    ident = new_standard(s)
    baseline(s, ident, operator=operator)
    filed = file(s, "station", ident, run(6, 9e-6, operator=operator))
    assert filed.status == "under_investigation"
    return ident, filed.events[0]


def test_return_to_service_needs_a_verification_after_the_event(world: Scene):
    s = world
    ident, event = _investigated(s)
    before = rows(s)
    r = back(s, "admin", ident)
    assert r.status_code == 422 and r.json()["field"] == "verification_check_id"
    r = back(s, "admin", ident, verification_check_id=event.check_ids[0])  # the signal
    assert r.status_code == 422 and r.json()["field"] == "verification_check_id"
    r = back(s, "admin", ident, verification_check_id=999999)
    assert r.status_code == 404
    # a person may not put it back through the plain status change while an event is open
    r = s.api.client.post(f"/api/v1/standards/{ident}/status", json={
        "status": "in_service", "reason": "fine"},
        headers={"Authorization": f"Bearer {s.api.tokens['admin']}"})
    assert r.status_code == 409 and r.json()["rule"] == "quality_event_open", r.json()
    assert rows(s) == before and status(s, ident) == "under_investigation"

    outside = file(s, "station", ident, run(7, 3.1e-6 + 150e-6))  # verification fails…
    assert outside.status == "quarantined"  # …and escalates to quarantine
    r = back(s, "admin", ident, verification_check_id=outside.checks[0].id)
    assert r.status_code == 422

    good = file(s, "station", ident, run(8, 3.1e-6, operator="alice"))
    r = back(s, "admin", ident, verification_check_id=good.checks[0].id)
    assert r.status_code == 200, r.text
    closed = r.json()
    assert {e["status"] for e in closed} == {"closed"} and len(closed) == 2
    assert all(e["verification"]["check_id"] == good.checks[0].id for e in closed)
    assert status(s, ident) == "in_service"
    assert back(s, "admin", ident, verification_check_id=good.checks[0].id).status_code == 409
    assert verify_audit(s.settings.database_url, keys_dir=s.settings.keys_dir).ok


def test_the_person_whose_check_opened_the_event_does_not_return_it(world: Scene):
    s = world
    ident, _ = _investigated(s, operator="erin")  # erin made the checks (and is a reviewer)
    good = file(s, "station", ident, run(8, 3.1e-6, operator="alice"))
    before = rows(s)
    r = back(s, "erin", ident, verification_check_id=good.checks[0].id)
    assert r.status_code == 403 and r.json()["rule"] == "separation", r.json()
    for who in ("carol", "alice", "station", "prov.review"):  # no reviewer/admin of the lab
        assert back(s, who, ident, verification_check_id=good.checks[0].id).status_code == 403
    assert rows(s) == before
    r = back(s, "admin", ident, verification_check_id=good.checks[0].id)
    assert r.status_code == 200


def test_a_quarantine_by_a_person_is_not_lifted_by_the_same_person(world: Scene):
    s = world
    ident = new_standard(s)
    baseline(s, ident)
    s.api.call("POST", f"/standards/{ident}/status", who="erin", body={
        "status": "quarantined", "reason": "dropped on the floor"})
    good = file(s, "station", ident, run(9, 3.1e-6))
    r = back(s, "erin", ident, verification_check_id=good.checks[0].id)
    assert r.status_code == 403 and r.json()["rule"] == "separation"
    r = back(s, "admin", ident, verification_check_id=good.checks[0].id)
    assert r.status_code == 200 and r.json() == []  # no quality event was open
    assert status(s, ident) == "in_service"


def test_return_of_a_standard_in_service_is_a_conflict(world: Scene):
    s = world
    ident = new_standard(s)
    r = back(s, "admin", ident, calibration_id=1)
    assert r.status_code == 409 and r.json()["rule"] == "standard_status"


def test_return_with_a_calibration_recorded_after_the_event(world: Scene):
    s = world
    ident, _ = _investigated(s)
    cal = s.api.call("POST", f"/standards/{ident}/calibrations", who="dave", body={
        "certificate_number": f"EXT-{ident}", "issuer": "Provincial Institute",
        "calibrated_on": datetime.now().date().isoformat(),
        "due_date": (datetime.now().date() + timedelta(days=365)).isoformat()})
    r = back(s, "admin", ident, calibration_id=cal["id"])
    assert r.status_code == 422 and r.json()["field"] == "calibration_id"  # not yet published
    s.api.call("POST", f"/standards/{ident}/calibrations/{cal['id']}/review", who="erin",
               body={"approve": True})
    r = back(s, "admin", ident, calibration_id=cal["id"])
    assert r.status_code == 200, r.text
    assert r.json()[0]["verification"]["calibration_id"] == cal["id"]
    with pytest.raises(DemoError):
        s.api.call("POST", f"/standards/{ident}/return-to-service", who="admin",
                   body={"reason": "x", "calibration_id": cal["id"],
                         "verification_check_id": 1})


def test_services_refuse_unknown_standards(world: Scene):
    s = world
    with pytest.raises(NotFoundError):
        file(s, "station", "LAB-NOPE-1", run(0, 1e-6))
    with Session(s.engine) as session, pytest.raises(NotFoundError):
        quality.return_to_service(session, principal(s, "admin"), "LAB-NOPE-1",
                                  ReturnToServiceIn(reason="x", calibration_id=1))


def test_an_edited_check_value_or_event_shows_in_the_audit(world: Scene, tmp_path):
    """The checks and events are rows the audit trail explains: an edit made in the
    database behind the platform's back shows (on a copy of the database)."""
    import sqlite3

    s = world
    if not s.settings.database_url.startswith("sqlite"):
        pytest.skip("edits a copy of the SQLite file")
    _investigated(s)
    src = s.settings.database_url.removeprefix("sqlite:///")
    assert verify_audit(s.settings.database_url, keys_dir=s.settings.keys_dir).ok
    for table, sql in (("check_result", "UPDATE check_result SET value = '0.000001' "
                                        "WHERE id = (SELECT max(id) FROM check_result)"),
                       ("quality_event", "UPDATE quality_event SET status = 'closed' "
                                         "WHERE id = (SELECT max(id) FROM quality_event)")):
        copy = tmp_path / f"{table}.sqlite"
        # the backup API copies what the write-ahead log holds too (a file copy would not)
        with sqlite3.connect(src) as live, sqlite3.connect(copy) as conn:
            live.backup(conn)
            assert conn.execute(sql).rowcount == 1
        result = verify_audit(f"sqlite:///{copy}", keys_dir=s.settings.keys_dir,
                              checkpoint_if_clean=False)
        assert not result.ok
        assert table in result.model_dump_json()


def test_a_remote_station_delivers_a_check_run_as_checks(world: Scene):
    """``RemoteStation.deliver`` of a check run posts it to ``/stations/checks`` (not as a
    certificate draft) and says what it did; the retry answers the same checks."""
    from labctl.platform.stations.seam import DraftDetails, RemoteStation
    from labctl.procedures.results import RunResult

    s = world
    ident = new_standard(s)
    result = RunResult.from_dict(_run_result(ident))
    station = RemoteStation(s.url, s.api.tokens["station"])
    said = station.deliver(result, DraftDetails("", None, "", "", "Bench 1"))
    assert said == f"checks of {ident} filed (1 points); status in_service"
    assert station.deliver(result, DraftDetails("", None, "", "", "Bench 1")) == said
    charts = s.api.call("GET", f"/standards/{ident}/checks", who="erin")
    assert [len(x["points"]) for x in charts["series"]] == [1]
