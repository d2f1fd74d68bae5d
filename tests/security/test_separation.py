"""Separation of duties on every path (issue 9): a refused request changes nothing; the two-
and three-person rules hold however the roles are combined; registry review excludes everyone
who entered or edited the content; external calibrations are reviewed; a run's checker is a
checker of the laboratory.

A live server on the session's database (SQLite, and PostgreSQL when configured); rows and
audit events are counted in that database before and after each refused request.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from labctl.procedures.results import ConditionStats, PointResult, RunResult
from tests.fixtures.db import World
from tests.platform.chain import Chain, build_chain
from tests.platform.helpers import draft, ok, point, publish_standard, uid
from tests.platform.live_bench import live_bench
from tests.security._accounts import counts, person, results


@pytest.fixture(scope="module")
def chain(platform_url: str, world: World) -> Chain:
    with httpx.Client(base_url=platform_url, timeout=60) as api:
        return build_chain(api, world)


# --- a refused request changes nothing -----------------------------------------------------


def _run(world: World, *, operator: str | None = None, checker: str | None = None,
         U: float = 3e-5, standard: str) -> dict[str, Any]:
    """A completed DC voltage run of the lab's bench, as a station posts it."""
    begin = datetime.now(UTC) - timedelta(hours=3)
    pts = tuple(PointResult(
        key=f"10V-{i}", index=i, stage="as-found", quantity="DC voltage", unit="V",
        range_label="10V", nominal=10.0, reference_value=10.0, measured_value=10.000012,
        error=0.000012, U=U, k=2.0, coverage_probability=0.95, dof=float("inf"), budget=(),
        readings=(10.000012,), lower_limit=-0.0001, upper_limit=0.0001,
        started=begin + timedelta(minutes=i), finished=begin + timedelta(minutes=i + 1))
        for i in range(2))
    result = RunResult(
        run_id=f"run-{secrets.token_hex(6)}", procedure_id="dmm-dcv-direct",
        procedure_version="1", status="completed",
        dut={"manufacturer": "Keysight", "model": "34465A", "serial_number": "MY-RUN-1"},
        operator=operator or world.usernames[("lab", "technician")],
        checker=checker if checker is not None else world.usernames[("lab", "checker")],
        started=begin, finished=begin + timedelta(minutes=3), points=pts,
        conditions=(ConditionStats("temperature", "°C", 22.9, 23.1, 23.0, 10),),
        standards=({"id": standard},), instruments={}, events=())
    return {"result": result.to_dict(), "customer_name": "Customer Ltd",
            "customer_code": world.orgs["cust"], "item_description": "Digital multimeter",
            "method": "Direct comparison", "location": "Bench 1"}


def test_a_station_run_refused_below_the_cmc_leaves_no_draft_however_often_it_is_retried(
        api: httpx.Client, world: World, chain: Chain, db_engine: sa.Engine) -> None:
    body = _run(world, U=1e-8, standard=chain.working)  # far below the lab's CMC
    before = counts(db_engine)
    for _ in range(3):
        r = api.post("/api/v1/stations/runs", json=body, headers=world.station("lab"))
        assert r.status_code == 422 and r.json()["rule"] == "u_below_cmc", r.text
    assert counts(db_engine) == before
    good = ok(api.post("/api/v1/stations/runs", json=_run(world, standard=chain.working),
                       headers=world.station("lab")), 201)
    assert good["performed_by"] == world.usernames[("lab", "technician")]


@pytest.mark.parametrize("checker", ["nobody-such", "operator", "approver"])
def test_a_station_runs_checker_must_be_another_person_holding_the_checker_role(
        api: httpx.Client, world: World, chain: Chain, db_engine: sa.Engine,
        checker: str) -> None:
    name = {"nobody-such": "nobody-" + secrets.token_hex(3),
            "operator": world.usernames[("lab", "technician")],
            "approver": world.usernames[("lab", "approver")]}[checker]
    before = counts(db_engine)
    r = api.post("/api/v1/stations/runs", json=_run(world, checker=name, standard=chain.working),
                 headers=world.station("lab"))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "result.checker" and r.json()["value"] == name
    assert "checker" in r.json()["allowed"]
    assert counts(db_engine) == before


def test_a_station_run_whose_operator_is_no_technician_of_the_lab_is_refused(
        api: httpx.Client, world: World, chain: Chain, db_engine: sa.Engine) -> None:
    before = counts(db_engine)
    r = api.post("/api/v1/stations/runs", headers=world.station("lab"), json=_run(
        world, operator=world.usernames[("prov", "technician")], standard=chain.working))
    assert r.status_code in (403, 422), r.text
    assert counts(db_engine) == before


def test_the_performer_is_the_caller_not_someone_named(
        api: httpx.Client, world: World, chain: Chain, db_engine: sa.Engine) -> None:
    name, me = person(api, world, "lab", "technician", "checker")
    other = world.usernames[("lab", "technician")]
    before = counts(db_engine)
    r = api.post("/api/v1/certificates", headers=me, json=_draft_body(
        world, chain, performed_by=other))
    assert r.status_code == 403 and "performed_by" in r.json()["detail"], r.text
    assert counts(db_engine) == before
    mine = ok(api.post("/api/v1/certificates", headers=me,
                       json=_draft_body(world, chain, performed_by=name)), 201)
    assert mine["performed_by"] == name


def _draft_body(world: World, chain: Chain, **overrides: Any) -> dict[str, Any]:
    begin = datetime.now(UTC) - timedelta(days=1)
    body = {
        "laboratory_code": world.orgs["lab"], "customer_name": "Customer Ltd",
        "customer_code": world.orgs["cust"], "item_description": "Digital multimeter",
        "item_serial_number": "MY123", "quantity": "DC voltage", "procedure": "DCV-01",
        "method": "Direct", "location": "Room 1", "calibration_begin": begin.isoformat(),
        "calibration_end": (begin + timedelta(hours=2)).isoformat(),
        "standards": [chain.working], "decision_rule": "simple"}
    body.update(overrides)
    return body


def test_whoever_posted_results_may_not_check_them(
        api: httpx.Client, world: World, chain: Chain, db_engine: sa.Engine) -> None:
    _, both = person(api, world, "lab", "technician", "checker")
    cert = draft(api, world, "lab", standards=[chain.working])  # another technician's draft
    ok(results(api, cert["number"], both), 201)
    before = counts(db_engine)
    r = api.post(f"/api/v1/certificates/{cert['number']}/check", headers=both)
    assert r.status_code == 403 and "two-person" in r.json()["detail"], r.text
    assert counts(db_engine) == before


def test_during_an_amendment_whoever_posts_may_not_check(
        api: httpx.Client, world: World, chain: Chain, db_engine: sa.Engine) -> None:
    from tests.platform.helpers import issue

    cert = draft(api, world, "lab", standards=[chain.working])
    issue(api, world, "lab", cert["number"])
    number = cert["number"]
    ok(api.post(f"/api/v1/certificates/{number}/amend", json={"reason": "wrong value"},
                headers=world.headers("lab", "approver")), 201)
    _, both = person(api, world, "lab", "technician", "checker")
    ok(results(api, number, both, [point(error="0.000010")]), 201)
    before = counts(db_engine)
    r = api.post(f"/api/v1/certificates/{number}/check", headers=both)
    assert r.status_code == 403, r.text
    assert counts(db_engine) == before
    ok(api.post(f"/api/v1/certificates/{number}/check", headers=world.headers("lab", "checker")))


def test_whoever_posted_results_may_not_issue_them(
        api: httpx.Client, world: World, chain: Chain, db_engine: sa.Engine) -> None:
    _, both = person(api, world, "lab", "technician", "approver")
    cert = draft(api, world, "lab", standards=[chain.working])
    ok(results(api, cert["number"], both), 201)
    ok(api.post(f"/api/v1/certificates/{cert['number']}/check",
                headers=world.headers("lab", "checker")))
    before = counts(db_engine)
    r = api.post(f"/api/v1/certificates/{cert['number']}/issue", headers=both)
    assert r.status_code == 403 and "two-person" in r.json()["detail"], r.text
    assert counts(db_engine) == before
    assert ok(api.post(f"/api/v1/certificates/{cert['number']}/issue",
                       headers=world.headers("lab", "approver")))["status"] == "issued"


# --- registry review --------------------------------------------------------------------------


@pytest.mark.parametrize("entity", ["standards", "capabilities"])
def test_nobody_who_entered_or_edited_an_entry_reviews_it(
        api: httpx.Client, world: World, db_engine: sa.Engine, entity: str) -> None:
    _, x = person(api, world, "lab", "data_entry", "reviewer", authorised=False)
    _, y = person(api, world, "lab", "data_entry", "reviewer", authorised=False)
    body = {"organisation_code": world.orgs["lab"], "domain": "electrical DC",
            "quantity": "DC voltage", "unit": "V", "range_min": "1", "range_max": "10",
            "uncertainty_relative": "0.00001"}
    if entity == "standards":
        key = uid("LAB-X")
        body |= {"identifier": key, "kind": "working", "description": "Calibrator"}
        ok(api.post("/api/v1/standards", json=body, headers=x), 201)
        edit = {"reason": "typo", "description": "Calibrater"}
    else:
        key = ok(api.post("/api/v1/capabilities", json=body, headers=x), 201)["id"]
        edit = {"reason": "typo", "method": "Direkt"}
    ok(api.patch(f"/api/v1/{entity}/{key}", json=edit, headers=y))
    ok(api.post(f"/api/v1/{entity}/{key}/submit", headers=y))
    before = counts(db_engine)
    for who in (x, y):  # the author of the values, and the editor of one word
        r = api.post(f"/api/v1/{entity}/{key}/review", json={"approve": True}, headers=who)
        assert r.status_code == 403 and "two-person" in r.json()["detail"], r.text
    assert counts(db_engine) == before
    done = ok(api.post(f"/api/v1/{entity}/{key}/review", json={"approve": True},
                       headers=world.headers("lab", "reviewer")))
    assert done["review_state"] == "published"


def _calibration(cal_on: str, due: str) -> dict[str, str]:
    return {"certificate_number": uid("EXT"), "issuer": "Outside Lab",
            "calibrated_on": cal_on, "due_date": due}


def test_an_external_calibration_counts_only_once_another_person_reviewed_it(
        api: httpx.Client, world: World, db_engine: sa.Engine) -> None:
    std = publish_standard(api, world, "lab", kind="working")["identifier"]
    _, x = person(api, world, "lab", "data_entry", "reviewer", authorised=False)
    today = datetime.now(UTC).date()
    cal = ok(api.post(f"/api/v1/standards/{std}/calibrations", headers=x, json=_calibration(
        (today - timedelta(days=10)).isoformat(), (today + timedelta(days=355)).isoformat())),
        201)
    assert cal["review_state"] == "submitted"
    shown = ok(api.get(f"/api/v1/standards/{std}"))
    assert shown["current_calibration"] is None and shown["due_date"] is None
    before = counts(db_engine)
    r = api.post(f"/api/v1/standards/{std}/calibrations/{cal['id']}/review",
                 json={"approve": True}, headers=x)
    assert r.status_code == 403 and "two-person" in r.json()["detail"], r.text
    assert counts(db_engine) == before
    done = ok(api.post(f"/api/v1/standards/{std}/calibrations/{cal['id']}/review",
                       json={"approve": True}, headers=world.headers("lab", "reviewer")))
    assert done["review_state"] == "published"
    shown = ok(api.get(f"/api/v1/standards/{std}"))
    assert shown["current_calibration"]["certificate_number"] == cal["certificate_number"]
    listed = ok(api.get(f"/api/v1/standards/{std}/calibrations"))
    assert [c["review_state"] for c in listed] == ["published"]


@pytest.mark.parametrize("cal_on, due, field", [
    ("today", "9999-12-31", "body.due_date"),
    ("tomorrow", "next year", "body.calibrated_on"),
    ("1850-01-01", "1851-01-01", "body.calibrated_on"),
])
def test_external_calibration_dates_are_bounded(
        api: httpx.Client, world: World, db_engine: sa.Engine, cal_on: str, due: str,
        field: str) -> None:
    std = publish_standard(api, world, "lab", kind="working")["identifier"]
    today = datetime.now(UTC).date()
    named = {"today": today, "tomorrow": today + timedelta(days=2),
             "next year": today + timedelta(days=365)}
    cal_on = str(named.get(cal_on, cal_on))
    due = str(named.get(due, due))
    before = counts(db_engine)
    r = api.post(f"/api/v1/standards/{std}/calibrations", json=_calibration(cal_on, due),
                 headers=world.headers("lab", "data_entry"))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field and r.json()["allowed"], r.text
    assert counts(db_engine) == before


# --- the runs API: certify a run --------------------------------------------------------------


@pytest.fixture(scope="module")
def bench_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any, Any]]:
    """A platform with a simulated bench, seeded as ``labctl demo`` does it."""
    tmp = tmp_path_factory.mktemp("sod-runs")
    with live_bench(tmp, 5) as live:
        engine = sa.create_engine(live.settings.database_url)
        yield live.api, live.sim, engine
        engine.dispose()


@pytest.mark.timeout(240)
def test_certifying_a_run_as_someone_who_may_not_post_changes_nothing(bench_platform) -> None:
    import time

    api, sim, engine = bench_platform
    run = api.call("POST", "/benches/bench-1/runs", who="alice", body={
        "procedure": "dmm-dcv-direct", "parameters": {"ranges": [10.0], "settle_time": 1.0},
        "dut": {"manufacturer": "Keysight Technologies", "model": "34465A",
                "serial_number": sim.truth()["dmm"]["serial"]}, "checker": "bob"})
    deadline = time.monotonic() + 200
    while api.call("GET", f"/runs/{run['run_id']}", who="alice")["status"] != "completed":
        assert time.monotonic() < deadline, "the run did not complete"
        time.sleep(0.5)
    body = {"customer_name": "Example Instruments Ltd", "customer_code": "CUST",
            "item_description": "Digital multimeter", "method": "Direct comparison",
            "location": "Bench 1"}
    before = counts(engine)
    for who in ("bob", "carol", "admin"):  # checker, approver, administrator
        r = api.client.post(f"/api/v1/runs/{run['run_id']}/certificate", json=body,
                            headers={"Authorization": f"Bearer {api.tokens[who]}"})
        assert r.status_code == 403, (who, r.text)
    assert counts(engine) == before
    cert = api.call("POST", f"/runs/{run['run_id']}/certificate", who="alice", body=body)
    assert cert["performed_by"] == "alice" and len(cert["points"]) == 4
    with engine.connect() as conn:
        actors = conn.execute(sa.text(
            "SELECT actor FROM audit_event WHERE entity_id = :e ORDER BY id"),
            {"e": f"{cert['number']}/0"}).scalars().all()
    assert actors == ["user:alice", "user:alice"]  # create and results, by who asked
