"""Bad input to the domain data gets a clear 4xx naming the field, never a 500 or stored
nonsense (issue 9): result points, station runs, certificates, registry entries.

Every case goes through the live server's HTTP API on the real database; "nothing stored" is
read back from the database itself.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session, func, select

from labctl.platform.models import Certificate, Organisation, ResultPoint, StandardCalibration
from labctl.procedures.results import BudgetLine, ConditionStats, PointResult, RunEvent, RunResult
from tests.fixtures.db import World
from tests.platform.helpers import draft, ok, point, publish_cmc, publish_standard, uid


def refused(resp: httpx.Response, field: str, status: int = 422) -> str:
    """The answer refuses ``field`` (in labctl's error body or pydantic's list, whichever
    answers); returns the text saying what is allowed."""
    assert resp.status_code == status, f"{resp.status_code}: {resp.text[:2000]}"
    body = resp.json()
    if isinstance(body.get("detail"), list):  # request validation
        for err in body["detail"]:
            if field.lower() in ".".join(map(str, err["loc"])).lower():
                return str(err["msg"])
        raise AssertionError(f"{field} not among {[e['loc'] for e in body['detail']]}")
    assert field.lower() in str(body.get("field")).lower(), body
    return str(body.get("allowed") or body.get("detail"))


@pytest.fixture(scope="module")
def lab(api_module: httpx.Client, world: World) -> dict[str, Any]:
    """The world's laboratory with a published working standard and a DC voltage CMC."""
    std = publish_standard(api_module, world, "lab", kind="working")
    publish_cmc(api_module, world, "lab", range_min="0", range_max="100",
                uncertainty_relative="0.0000001", uncertainty_absolute="0.0000001")
    return {"standard": std["identifier"]}


@pytest.fixture(scope="module")
def api_module(platform_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform_url, timeout=60) as client:
        yield client


def _count(engine: sa.Engine, model: Any, *where: Any) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


def _lab_certificates(engine: sa.Engine, world: World) -> int:
    with Session(engine) as session:
        org = session.exec(select(Organisation).where(
            Organisation.code == world.orgs["lab"])).one()
    return _count(engine, Certificate, Certificate.organisation_id == org.id)


def _post(api: httpx.Client, world: World, number: str, points: list[dict],
          key: str | None = None) -> httpx.Response:
    return api.post(f"/api/v1/certificates/{number}/results", json={"points": points},
                    headers={**world.station("lab"), "Idempotency-Key": key or uid("k")})


# --- 1. values the schema allowed crashed the reporting ----------------------------------------


@pytest.mark.parametrize(("overrides", "field"), [
    ({"measured_value": "123456789012345678901234567890"}, "measured_value"),  # 30 digits
    ({"measured_value": "10.000000000000000000001"}, "measured_value"),  # 23 significant
    ({"expanded_uncertainty": "1e-29"}, "expanded_uncertainty"),
    ({"expanded_uncertainty": "1e29"}, "expanded_uncertainty"),
    ({"expanded_uncertainty": "1e-14"}, "expanded_uncertainty"),  # 1e-15 relative at 10 V
    ({"expanded_uncertainty": "NaN"}, "expanded_uncertainty"),
    ({"expanded_uncertainty": "-0.00003"}, "expanded_uncertainty"),
    ({"nominal": "1e-30", "reference_value": "1e-30", "measured_value": "1e-30"}, "nominal"),
    ({"lower_limit": "-1e40"}, "lower_limit"),
    ({"lower_limit": "0.0001", "upper_limit": "-0.0001"}, "upper_limit"),
    ({"upper_limit": None}, "upper_limit"),
    ({"unit": "furlong"}, "unit"),
])
def test_points_out_of_bounds_are_refused_by_field_and_nothing_is_stored(
        api_module: httpx.Client, world: World, lab: dict, db_engine: sa.Engine,
        overrides: dict, field: str) -> None:
    cert = draft(api_module, world, "lab", standards=[lab["standard"]])
    r = _post(api_module, world, cert["number"], [point(), point(**overrides)])
    allowed = refused(r, field)
    assert allowed  # says what is allowed
    # nothing half-stored: the certificate still reads (no 500) and holds no point
    got = ok(api_module.get(f"/api/v1/certificates/{cert['number']}",
                            headers=world.headers("lab", "technician")))
    assert got["points"] == []
    with Session(db_engine) as session:
        cid = session.exec(select(Certificate.id).where(
            Certificate.number == cert["number"])).one()
    assert _count(db_engine, ResultPoint, ResultPoint.certificate_id == cid) == 0


def test_the_bounds_are_stated_in_the_answer(api_module: httpx.Client, world: World,
                                             lab: dict) -> None:
    cert = draft(api_module, world, "lab", standards=[lab["standard"]])
    text = refused(_post(api_module, world, cert["number"],
                         [point(expanded_uncertainty="1e29")]), "expanded_uncertainty")
    assert "1e-15" in text and "1e+15" in text and "17 significant digits" in text
    text = refused(_post(api_module, world, cert["number"],
                         [point(expanded_uncertainty="1e-14")]), "expanded_uncertainty")
    assert "1e-12" in text


def test_values_at_the_bounds_are_taken_and_reported(api_module: httpx.Client, world: World,
                                                      lab: dict) -> None:
    """What a bench really sends: 17-digit floats, a zero nominal, U of 1 µV/V."""
    cert = draft(api_module, world, "lab", standards=[lab["standard"]])
    zero = point(nominal="0", error="0.0000224", U="0.0000021", lower_limit="-0.00005",
                 upper_limit="0.00005")
    zero["reference_value"] = "1.635864175616707e-07"
    fine = point(nominal="10", error="0.00001", U="0.00002")
    fine["measured_value"] = "10.000010346984863"  # 17 significant digits
    posted = ok(_post(api_module, world, cert["number"], [zero, fine]), 201)
    assert [p["expanded_uncertainty"] for p in posted["points"]] == ["0.0000021", "0.000020"]


# --- 2. a station's run is a typed model -------------------------------------------------------


def _run(world: World, standard: str, **changes: Any) -> dict[str, Any]:
    """A completed DC voltage run as ``RunResult.to_dict()`` writes it."""
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    cond = ConditionStats("temperature", "°C", 22.9, 23.1, 23.0, 12)
    points = tuple(PointResult(
        key=f"10V/{i}", index=i, stage="as-found", quantity="DC voltage", unit="V",
        range_label="10 V", nominal=v, reference_value=v + 1.6e-7, measured_value=v + 2.2e-5,
        error=2.2e-5 - 1.6e-7, U=2e-5, k=2.0, coverage_probability=0.95, dof=float("inf"),
        budget=(BudgetLine("V_ind", v, 8e-6, "normal", 1.0, 8e-6, 1.0, float("inf")),),
        readings=(v + 2.2e-5,) * 5, lower_limit=-0.0001, upper_limit=0.0001,
        conformity="pass", decision_rule="simple", started=t0 + timedelta(minutes=i),
        finished=t0 + timedelta(minutes=i, seconds=30), conditions=(cond,))
        for i, v in enumerate((1.0, 5.0, 10.0)))
    result = RunResult(
        run_id=secrets.token_hex(16), procedure_id="dmm-dcv-direct", procedure_version="1.0",
        status="completed", dut={"manufacturer": "Keysight Technologies", "model": "34465A",
                                 "serial_number": "MY" + secrets.token_hex(3)},
        operator=world.usernames[("lab", "technician")],
        checker=world.usernames[("lab", "checker")], started=t0,
        finished=t0 + timedelta(minutes=5), points=points, conditions=(cond,),
        standards=({"id": standard, "description": "Zener", "role": "calibrator"},),
        instruments={"dmm": {"identity": {"model": "34465A"}}},
        events=(RunEvent("started", t0, "dmm-dcv-direct 1.0"),
                RunEvent("completed", t0 + timedelta(minutes=5))))
    data = result.to_dict()
    for path, value in changes.items():
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value
    return data


_DELETE = object()


def _station_post(api: httpx.Client, world: World, result: dict) -> httpx.Response:
    return api.post("/api/v1/stations/runs", headers=world.station("lab"), json={
        "result": result, "customer_name": "Customer Ltd", "customer_code": world.orgs["cust"],
        "item_description": "Digital multimeter", "method": "Direct", "location": "Room 1"})


def test_a_well_formed_station_run_becomes_a_draft(api_module: httpx.Client, world: World,
                                                    lab: dict) -> None:
    cert = ok(_station_post(api_module, world, _run(world, lab["standard"])), 201)
    assert cert["status"] == "draft" and len(cert["points"]) == 3
    assert cert["performed_by"] == world.usernames[("lab", "technician")]


@pytest.mark.parametrize(("changes", "field"), [
    ({"points": []}, "points"),
    ({"points.0.started": _DELETE}, "started"),
    ({"points.1.finished": None}, "finished"),
    ({"points.0.U": "NaN"}, "U"),
    ({"points.0.U": -2e-5}, "U"),
    ({"points.2.U": 1e29}, "U"),
    ({"points.0.unit": "furlong"}, "unit"),
    ({"points.0.measured_value": 1.2345678901234567e29}, "measured_value"),
    ({"standards": [{"description": "a standard without id"}]}, "id"),
    ({"standards": [{"id": "../../etc"}]}, "id"),
    ({"run_id": "a/b"}, "run_id"),
    ({"status": "paused"}, "status"),
    ({"started": "2099-01-01T00:00:00+00:00"}, "started"),
    ({"points.0.finished": "2099-01-01T00:00:00+00:00"}, "finished"),
    ({"conditions.0.unit": "furlong"}, "unit"),
    ({"reason": "x" * 1_000_000}, "reason"),
    ({"operator": None}, "operator"),
])
def test_a_malformed_station_run_is_refused_by_field_before_any_write(
        api_module: httpx.Client, world: World, lab: dict, db_engine: sa.Engine,
        changes: dict, field: str) -> None:
    before = _lab_certificates(db_engine, world)
    r = _station_post(api_module, world, _run(world, lab["standard"], **changes))
    refused(r, field)
    assert _lab_certificates(db_engine, world) == before


# --- 3. accepted nonsense ----------------------------------------------------------------------


def test_statement_text_is_bounded(api_module: httpx.Client, world: World, lab: dict,
                                   db_engine: sa.Engine) -> None:
    before = _lab_certificates(db_engine, world)
    megabyte = "A" * 1_000_000
    r = api_module.post("/api/v1/certificates", headers=world.headers("lab", "technician"),
                        json=_draft_body(world, lab, statements=[megabyte] * 20))
    if r.status_code != 413:  # a body-size limit in front may answer first
        refused(r, "statements")
    refused(api_module.post("/api/v1/certificates", headers=world.headers("lab", "technician"),
                            json=_draft_body(world, lab, statements=["x" * 2001])), "statements")
    assert _lab_certificates(db_engine, world) == before
    cert = draft(api_module, world, "lab", standards=[lab["standard"]],
                 statements=["y" * 2000])  # the bound itself is taken
    refused(api_module.patch(f"/api/v1/certificates/{cert['number']}",
                             headers=world.headers("lab", "technician"),
                             json={"reason": "typo", "statements": ["x" * 2001]}),
            "statements")


def _draft_body(world: World, lab: dict, **overrides: Any) -> dict[str, Any]:
    begin = datetime.now(UTC) - timedelta(days=1)
    body = {"laboratory_code": world.orgs["lab"], "customer_name": "C",
            "item_description": "DMM", "quantity": "DC voltage", "procedure": "P",
            "method": "m", "location": "l", "calibration_begin": begin.isoformat(),
            "calibration_end": (begin + timedelta(hours=1)).isoformat(),
            "standards": [lab["standard"]]}
    body.update(overrides)
    return body


@pytest.mark.parametrize(("overrides", "field"), [
    ({"calibration_begin": "2099-01-01T10:00:00+00:00",
      "calibration_end": "2099-01-01T11:00:00+00:00"}, "calibration_begin"),
    ({"receipt_date": "2099-01-01"}, "receipt_date"),
    ({"calibration_begin": "0001-01-01T10:00:00+00:00"}, "calibration_begin"),
    ({"customer_code": "../x"}, "customer_code"),
    ({"standards": ["a/b"]}, "standards"),
])
def test_certificate_dates_and_references_are_bounded(
        api_module: httpx.Client, world: World, lab: dict, db_engine: sa.Engine,
        overrides: dict, field: str) -> None:
    before = _lab_certificates(db_engine, world)
    refused(api_module.post("/api/v1/certificates", headers=world.headers("lab", "technician"),
                            json=_draft_body(world, lab, **overrides)), field)
    assert _lab_certificates(db_engine, world) == before


@pytest.mark.parametrize(("body", "field"), [
    ({"calibrated_on": "2099-01-01", "due_date": "2100-01-01"}, "calibrated_on"),
    ({"calibrated_on": "2026-01-01", "due_date": "9999-12-31"}, "due_date"),
    ({"calibrated_on": "2026-01-01", "due_date": "2026-01-01"}, "due_date"),
])
def test_external_calibration_dates_are_bounded(api_module: httpx.Client, world: World,
                                                db_engine: sa.Engine, body: dict,
                                                field: str) -> None:
    std = publish_standard(api_module, world, "lab", kind="working")["identifier"]
    r = api_module.post(f"/api/v1/standards/{std}/calibrations",
                        headers=world.headers("lab", "data_entry"),
                        json={"certificate_number": uid("EXT"), "issuer": "Outside", **body})
    refused(r, field)
    assert _count(db_engine, StandardCalibration,
                  StandardCalibration.certificate_number.like("EXT-%"),  # type: ignore[attr-defined]
                  StandardCalibration.due_date > date(2090, 1, 1)) == 0


def test_registry_values_and_dates_are_bounded(api_module: httpx.Client, world: World) -> None:
    de = world.headers("lab", "data_entry")
    base = {"organisation_code": world.orgs["lab"], "domain": "electrical DC",
            "quantity": "DC voltage", "unit": "V", "range_min": "0.1", "range_max": "10",
            "uncertainty_relative": "0.000002", "uncertainty_absolute": "0.0000005"}
    for change, field in (({"range_max": "1e29"}, "range_max"),
                          ({"uncertainty_relative": "5"}, "uncertainty_relative"),
                          ({"uncertainty_absolute": "1e-40"}, "uncertainty_absolute"),
                          ({"organisation_code": "../../x"}, "organisation_code")):
        refused(api_module.post("/api/v1/capabilities", headers=de, json={**base, **change}),
                field)
    std = publish_standard(api_module, world, "lab")["identifier"]
    refused(api_module.post(f"/api/v1/standards/{std}/corrections", headers=de, json={
        "nominal": "10", "correction": "0.00001", "uncertainty": "0.000002",
        "valid_from": "2099-01-01"}), "valid_from")
    refused(api_module.post(f"/api/v1/standards/{std}/status",
                            headers=world.headers("lab", "reviewer"),
                            json={"status": "quarantined", "reason": "later",
                                  "effective_at": "2099-01-01T00:00:00+00:00"}), "effective_at")


@pytest.mark.parametrize("key", ["a/b", "../x", "ключ", "a b", "x" * 201, "."])
def test_result_keys_used_in_urls_are_url_safe(api_module: httpx.Client, world: World,
                                               lab: dict, db_engine: sa.Engine,
                                               key: str) -> None:
    cert = draft(api_module, world, "lab", standards=[lab["standard"]])
    r = api_module.post(f"/api/v1/certificates/{cert['number']}/results",
                        json={"points": [point()]},
                        headers={**world.station("lab"), "Idempotency-Key": key.encode()})
    refused(r, "Idempotency-Key")
    with Session(db_engine) as session:
        cid = session.exec(select(Certificate.id).where(
            Certificate.number == cert["number"])).one()
    assert _count(db_engine, ResultPoint, ResultPoint.certificate_id == cid) == 0
    ok(_post(api_module, world, cert["number"], [point()], key="run-2026.01_a~b"), 201)
