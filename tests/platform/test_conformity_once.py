"""Conformity is decided once: the run's statement is its certificate's.

The engine's :func:`~labctl.uncertainty.decide_reported` rounds the error and U per EA-4/02
and decides on the rounded numbers; the procedures and the platform's ``report_points`` both
call it, the run's decision rule travels into the certificate, and the run's budget and
degrees of freedom are posted with its points. Runs are real: a simulated bench over
loopback, a real server on 127.0.0.1, a real SQLite file.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from alembic import command

from labctl.cli.demo import Api
from labctl.errors import ValidationError
from labctl.platform.db import alembic_config, migrate
from labctl.platform.models.certificates import PointIn, ResultPoint
from labctl.platform.results.reporting import report_points
from labctl.platform.stations.drafts import certificate_request, run_rule
from labctl.platform.stations.seam import DraftDetails, EmbeddedStation
from labctl.procedures.results import BudgetLine, PointResult, RunResult
from labctl.uncertainty import DecisionRule, Outcome, decide, decide_reported
from tests.fixtures.db import World
from tests.platform.chain import Chain, build_chain
from tests.platform.helpers import draft, ok, point, uid
from tests.platform.live_bench import live_bench

SEED = 31
D = Decimal

# --- the engine function at the boundary ------------------------------------------------------

#: (rule, error, U, tolerance, unrounded statement, statement on the reported numbers): the
#: error and U as a bench computes them, the tolerance ±T. Rounded per EA-4/02 (U to two
#: significant digits, the error to the same place) the statement changes.
BOUNDARY = [
    # 0.00000354 → 0.0000035, on the limit: inside (limits belong to the interval)
    (DecisionRule.SIMPLE, 3.54e-6, 2.31e-6, 3.5e-6, Outcome.FAIL, Outcome.PASS),
    (DecisionRule.SIMPLE, -3.54e-6, 2.31e-6, 3.5e-6, Outcome.FAIL, Outcome.PASS),
    # ILAC-G8 w = U: acceptance limit T − U = 0.0000012; the error 0.00000124 → 0.0000012
    (DecisionRule.GUARDED_ACCEPTANCE, 1.24e-6, 2.31e-6, 3.5e-6, Outcome.FAIL, Outcome.PASS),
    # rejection limit T + U = 0.0000058; 0.00000584 → 0.0000058
    (DecisionRule.GUARDED_REJECTION, 5.84e-6, 2.31e-6, 3.5e-6, Outcome.FAIL, Outcome.PASS),
    (DecisionRule.NON_BINARY, 1.24e-6, 2.31e-6, 3.5e-6, Outcome.CONDITIONAL_PASS,
     Outcome.PASS),
    (DecisionRule.NON_BINARY, 3.54e-6, 2.31e-6, 3.5e-6, Outcome.CONDITIONAL_FAIL,
     Outcome.CONDITIONAL_PASS),
    # U 0.0000234 rounds to 0.000023 (−1.7 %): the guard band shrinks, the error 0.0000117
    # lies beyond T − U unrounded (0.0000116) and on it reported (0.000035 − 0.000023)
    (DecisionRule.GUARDED_ACCEPTANCE, 1.17e-5, 2.34e-5, 3.5e-5, Outcome.FAIL, Outcome.PASS),
]


@pytest.mark.parametrize(("rule", "error", "U", "tol", "unrounded", "reported"), BOUNDARY)
def test_statements_on_reported_values_differ_from_unrounded_ones(rule, error, U, tol,
                                                                  unrounded, reported):
    assert decide(error, U, -tol, tol, rule).outcome is unrounded
    got = decide_reported(error, U, -tol, tol, rule)
    assert got.decision.outcome is reported and got.decision.rule is rule
    assert got.decision.conforms == (reported in (Outcome.PASS, Outcome.CONDITIONAL_PASS))
    # the numbers decided are the ones a certificate prints: U to two significant digits,
    # the error to the same decimal place
    assert isinstance(got.value, Decimal) and len(got.U.as_tuple().digits) == 2
    assert got.U.as_tuple().exponent == got.value.as_tuple().exponent
    # the same from measured and reference values: the error taken exactly in decimal
    measured, reference = 10.0 + error, 10.0
    via_reference = decide_reported(measured, U, -tol, tol, rule, reference=reference)
    assert via_reference.decision.outcome is reported


def test_the_decision_is_exact_in_decimal_where_binary_floats_tie_wrongly():
    # 0.2 ± 0.1 against ±0.3 under guarded acceptance: on the acceptance limit 0.3 − 0.1
    # (pass), though 0.3 − 0.1 in binary is 0.19999999999999998 (decide says fail)
    assert decide(0.2, 0.1, -0.3, 0.3, "guarded_acceptance").outcome is Outcome.FAIL
    assert decide_reported(0.2, 0.1, -0.3, 0.3, "guarded_acceptance").decision.outcome \
        is Outcome.PASS
    assert decide_reported(-0.2, 0.1, -0.3, 0.3, "non_binary").decision.outcome is Outcome.PASS


def test_the_engine_function_is_vectorised_and_refuses_bad_input_by_name():
    got = decide_reported([10.00000354, 10.00000124, 9.99999], [2.31e-6, 2.31e-6, 2.31e-6],
                          [-3.5e-6] * 3, [3.5e-6] * 3, "non_binary",
                          reference=[10.0, 10.0, 10.0], k=[2.0, 2.1, 2.0])
    assert list(got.decision.outcome) == [Outcome.CONDITIONAL_PASS, Outcome.PASS,
                                          Outcome.FAIL]
    assert list(got.value) == [D("0.0000035"), D("0.0000012"), D("-0.0000100")]
    assert list(got.U) == [D("0.0000023")] * 3
    with pytest.raises(ValidationError) as caught:
        decide_reported(0.1, float("nan"), -1, 1)
    assert caught.value.field == "U"
    with pytest.raises(ValidationError) as caught:
        decide_reported(0.1, 0.01, -1, 1, "lenient")
    assert caught.value.field == "rule"
    with pytest.raises(ValidationError) as caught:
        decide_reported([0.1, float("inf")], 0.01, -1, 1)
    assert caught.value.field == "value[1]"
    with pytest.raises(ValidationError) as caught:
        decide_reported(0.1, 0.01, 1, -1)
    assert caught.value.field == "upper"


def _row(error: float, U: float, tol: float, i: int = 0) -> ResultPoint:
    """A point as the platform stores it from a run (``certificate_request``'s digits)."""
    measured = 10.0 + error
    return ResultPoint(certificate_id=1, posting_id=1, seq=i, table_title="t",
                       quantity="DC voltage", unit="V", nominal=D(10), reference_value=D(10),
                       measured_value=D(repr(measured)), expanded_uncertainty=D(repr(U)),
                       coverage_factor=D(2), coverage_probability=D("0.95"),
                       lower_limit=D(repr(-tol)), upper_limit=D(repr(tol)))


@pytest.mark.parametrize(("rule", "error", "U", "tol", "unrounded", "reported"), BOUNDARY)
def test_report_points_states_what_the_engine_function_states(rule, error, U, tol,
                                                              unrounded, reported):
    (r,) = report_points([_row(error, U, tol)], rule)
    assert r.conformity == reported.value != unrounded.value
    engine = decide_reported(10.0 + error, U, -tol, tol, rule, reference=10.0)
    assert (r.error, r.U) == (engine.value, engine.U)


# --- the rule travels with the run ---------------------------------------------------------


def _run(points: list[tuple[float, float, float, str | None, str]]) -> RunResult:
    """A completed run whose points carry (error, U, tolerance, conformity, rule)."""
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    pts = tuple(PointResult(
        key=f"p{i}", index=i, stage="as-found", quantity="DC voltage", unit="V",
        range_label="10 V", nominal=10.0, reference_value=10.0, measured_value=10.0 + e,
        error=e, U=U, k=2.0, coverage_probability=0.95, dof=41.3,
        budget=(BudgetLine("V_ind", 10.0 + e, U / 2.2, "normal", 1.0, U / 2.2, 0.8, 9.0),
                BudgetLine("g_cal", 3.1e-6, 4.5e-7, "normal", -10.0, 4.5e-6, 0.2,
                           float("inf"))),
        readings=(10.0 + e,), lower_limit=-tol, upper_limit=tol, conformity=c,
        decision_rule=rule, started=t0 + timedelta(minutes=i),
        finished=t0 + timedelta(minutes=i, seconds=30))
        for i, (e, U, tol, c, rule) in enumerate(points))
    return RunResult(run_id="r-1", procedure_id="dmm-dcv-direct", procedure_version="1.0",
                     status="completed", dut={"serial_number": "MY1"}, operator="alice",
                     checker="bob", started=t0, finished=t0 + timedelta(hours=1), points=pts,
                     conditions=(), standards=({"id": "LAB-CAL-01"},), instruments={},
                     events=())


def _request(run: RunResult, **kw: Any) -> tuple[Any, Any]:
    return certificate_request(run, laboratory_code="ACAL", customer_name="C",
                               customer_code=None, item_description="DMM", method="m",
                               location="l", **kw)


def test_the_run_rule_dof_and_budget_go_into_the_certificate_request():
    rule = DecisionRule.GUARDED_ACCEPTANCE
    run = _run([(1.24e-6, 2.31e-6, 3.5e-6, "pass", rule.value),
                (-0.5e-6, 2.31e-6, 3.5e-6, "pass", rule.value)])
    assert run_rule(run) is rule
    create, results = _request(run)
    assert create.decision_rule is rule
    first = results.points[0]
    assert first.dof == 41.3
    assert [b.name for b in first.budget] == ["V_ind", "g_cal"]
    assert first.budget[1].sensitivity == D("-10.0") and first.budget[1].dof is None
    assert first.budget[1].standard_uncertainty == D("4.5E-7")
    assert first.budget[0].unit is None  # the engine's budget names no units
    # a request naming the run's own rule is still taken (compatibility)
    assert _request(run, decision_rule="guarded_acceptance")[0].decision_rule is rule


def test_a_request_naming_another_rule_or_a_run_of_mixed_rules_is_refused():
    run = _run([(1.24e-6, 2.31e-6, 3.5e-6, "pass", "guarded_acceptance")])
    with pytest.raises(ValidationError) as caught:
        _request(run, decision_rule="simple")
    assert caught.value.field == "decision_rule" and caught.value.value == "simple"
    assert "'guarded_acceptance'" in caught.value.allowed
    mixed = _run([(0.0, 2.31e-6, 3.5e-6, "pass", "simple"),
                  (0.0, 2.31e-6, 3.5e-6, "pass", "non_binary")])
    with pytest.raises(ValidationError) as caught:
        _request(mixed)
    assert caught.value.field == "result.points[1].decision_rule"
    assert caught.value.value == "non_binary" and "'simple'" in caught.value.allowed
    unknown = _run([(0.0, 2.31e-6, 3.5e-6, "pass", "lenient")])
    with pytest.raises(ValidationError) as caught:
        _request(unknown)
    assert caught.value.field == "result.points[0].decision_rule"
    # a run that made no statement certifies without one; naming a rule then is refused
    silent = _run([(0.0, 2.31e-6, 3.5e-6, None, "")])
    assert _request(silent)[0].decision_rule is None
    with pytest.raises(ValidationError) as caught:
        _request(silent, decision_rule="simple")
    assert caught.value.field == "decision_rule"


@pytest.mark.parametrize(("rule", "error", "U", "tol", "unrounded", "reported"), BOUNDARY)
def test_a_run_decided_on_unrounded_values_is_refused_its_certificate_would_disagree(
        rule, error, U, tol, unrounded, reported):
    ok = _run([(error, U, tol, reported.value, rule.value)])
    _request(ok)  # the statement the certificate will make: taken
    stale = _run([(error, U, tol, unrounded.value, rule.value)])  # e.g. an older station
    with pytest.raises(ValidationError) as caught:
        _request(stale)
    assert caught.value.field == "result.points[0].conformity"
    assert caught.value.value == unrounded.value and f"'{reported.value}'" in \
        caught.value.allowed


@pytest.mark.parametrize("change", [
    {"dof": 0.0}, {"dof": float("inf")}, {"dof": 2e9},
    {"budget": [{"name": "x", "estimate": "NaN", "standard_uncertainty": "1",
                 "distribution": "normal", "sensitivity": "1", "contribution": "1"}]},
    {"budget": [{"name": "x", "estimate": "1", "standard_uncertainty": "-1",
                 "distribution": "normal", "sensitivity": "1", "contribution": "1"}]},
    {"budget": [{"name": "x" * 101, "estimate": "1", "standard_uncertainty": "1",
                 "distribution": "normal", "sensitivity": "1", "contribution": "1"}]},
    {"budget": [{"name": "x", "estimate": "1", "standard_uncertainty": "1",
                 "distribution": "normal", "sensitivity": "1", "contribution": "1",
                 "unit": "furlong"}]},
    {"budget": [{"name": "x", "estimate": "1", "standard_uncertainty": "1",
                 "distribution": "normal", "sensitivity": "1", "contribution": "1"}] * 101},
])
def test_point_dof_and_budget_are_bounded(change):
    base = {"table_title": "t", "quantity": "DC voltage", "unit": "V", "nominal": "10",
            "reference_value": "10", "measured_value": "10.00001",
            "expanded_uncertainty": "0.00002"}
    PointIn(**base)  # neither is required
    with pytest.raises(Exception) as caught:
        PointIn(**base, **change)
    assert next(iter(change)) in str(caught.value)


# --- real runs: the run's statement is its certificate's, for every rule -------------------

#: A DMM whose 10 V range sits at its tolerance: ±(0.0035 % of reading + 0.0005 % of range)
#: is ±50 µV at zero, ±225 µV at 5 V, ±400 µV at ±10 V. Gain 36 µV/V and offset 40 µV put the
#: errors at about 40, 220, 400 and −320 µV: within a U or so of the limits.
NEAR_LIMIT_DMM = {"dcv": {10.0: {"gain": 3.6e-5, "offset": 4.0e-5, "tc_gain": 0.0,
                                 "tc_offset": 0.0}}}


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, Any, str]]:
    with live_bench(tmp_path_factory.mktemp("conformity"), SEED,
                    dmm_truth=NEAR_LIMIT_DMM) as live:
        yield live.api, live.sim, live.settings.database_url


def _completed_run(api: Api, sim: Any, rule: str) -> dict[str, Any]:
    started = api.call("POST", "/benches/bench-1/runs", who="alice", body={
        "procedure": "dmm-dcv-direct",
        "parameters": {"ranges": [10.0], "settle_time": 1.0, "decision_rule": rule},
        "dut": {"manufacturer": "Keysight Technologies", "model": "34465A",
                "serial_number": sim.truth()["dmm"]["serial"]},
        "checker": "bob"})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = api.call("GET", f"/runs/{started['run_id']}", who="alice")
        if status["status"] in ("completed", "paused", "aborted", "refused", "failed"):
            break
        time.sleep(0.2)
    assert status["status"] == "completed", status
    return status  # type: ignore[no-any-return]


CERTIFY = {"customer_name": "Example Instruments Ltd", "customer_code": "CUST",
           "item_description": "Digital multimeter", "method": "Direct comparison",
           "location": "Bench 1"}


def _counts(database_url: str) -> tuple[int, int, int]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            return tuple(conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one()
                         for t in ("certificate", "result_point", "audit_event"))  # type: ignore[return-value]
    finally:
        engine.dispose()


@pytest.mark.timeout(600)
def test_for_every_rule_a_run_and_its_certificate_make_the_same_statements(platform):
    api, sim, database_url = platform
    statements: dict[DecisionRule, list[str]] = {}
    for rule in DecisionRule:
        run = _completed_run(api, sim, rule.value)
        points = run["points"]
        assert {p["decision_rule"] for p in points} == {rule.value}
        other = next(r for r in DecisionRule if r is not rule)
        before = _counts(database_url)
        refused = api.client.post(f"/api/v1/runs/{run['run_id']}/certificate",
                                  json={**CERTIFY, "decision_rule": other.value},
                                  headers={"Authorization": f"Bearer {api.tokens['alice']}"})
        assert refused.status_code == 422, refused.text
        body = refused.json()
        assert body["field"] == "decision_rule" and body["value"] == other.value
        assert f"'{rule.value}'" in body["allowed"]
        assert _counts(database_url) == before  # a refused request changes nothing

        cert = api.call("POST", f"/runs/{run['run_id']}/certificate", who="alice",
                        body=CERTIFY)  # no rule named: the run's
        assert cert["decision_rule"] == rule.value
        assert [p["conformity"] for p in cert["points"]] == \
            [p["conformity"] for p in points]
        # the statements are the engine function's on the run's own numbers
        for p, c in zip(points, cert["points"], strict=True):
            engine = decide_reported(p["measured_value"], p["U"], p["lower_limit"],
                                     p["upper_limit"], rule, reference=p["reference_value"])
            assert c["conformity"] == engine.decision.outcome.value
            assert (c["error"], c["expanded_uncertainty"]) == (str(engine.value),
                                                              str(engine.U))
        # a station delivering the same run (labctl run, the server's benches) states no
        # rule of its own: the run's travels, and the draft is the one already made
        result = RunResult.from_dict(api.call("GET", f"/runs/{run['run_id']}/result",
                                              who="alice"))
        station = EmbeddedStation.open(database_url, Path(database_url.removeprefix(
            "sqlite:///")).parent / "keys", "ACAL")
        try:
            assert station.deliver(result, DraftDetails.for_run(
                result, customer_name=CERTIFY["customer_name"],
                customer_code=CERTIFY["customer_code"],
                location=CERTIFY["location"])) == cert["number"]
        finally:
            station.close()
        statements[rule] = [p["conformity"] for p in points]
        if rule is DecisionRule.SIMPLE:  # the certificate prints it; the DCC carries it
            api.call("POST", f"/certificates/{cert['number']}/check", who="bob")
            issued = api.call("POST", f"/certificates/{cert['number']}/issue", who="carol")
            assert issued["status"] == "issued"
    # the points lie near their limits: the rules do not all say the same
    assert len({tuple(s) for s in statements.values()}) > 1, statements


@pytest.mark.timeout(300)
def test_the_certificate_stores_dof_and_budget_and_its_dcc_states_them(platform):
    api, sim, database_url = platform
    run = _completed_run(api, sim, "non_binary")
    cert = api.call("POST", f"/runs/{run['run_id']}/certificate", who="alice", body=CERTIFY)
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT p.dof, p.budget FROM result_point p JOIN certificate c "
                "ON c.id = p.certificate_id WHERE c.number = :n ORDER BY p.seq"),
                {"n": cert["number"]}).all()
    finally:
        engine.dispose()
    assert len(rows) == len(run["points"])
    for (dof, budget), p in zip(rows, run["points"], strict=True):
        assert dof == pytest.approx(p["dof"]) if p["dof"] is not None else dof is None
        lines = json.loads(budget) if isinstance(budget, str) else budget
        assert [b["name"] for b in lines] == [b["name"] for b in p["budget"]]
        for b, posted in zip(lines, p["budget"], strict=True):
            assert D(b["standard_uncertainty"]) == D(repr(posted["u"]))
            assert D(b["contribution"]) == D(repr(posted["contribution"]))
            assert b["unit"] == posted["unit"] and b["unit"] in {"V", "1"}  # as the run says
    api.call("POST", f"/certificates/{cert['number']}/check", who="bob")
    api.call("POST", f"/certificates/{cert['number']}/issue", who="carol")
    dcc = api.client.get(f"/api/v1/certificates/{cert['number']}/dcc",
                         headers={"Authorization": f"Bearer {api.tokens['alice']}"})
    assert dcc.status_code == 200, dcc.text
    xml = dcc.content.decode()
    assert xml.count('refType="labctl_uncertaintyBudget"') >= len(run["points"])
    assert xml.count('refType="labctl_effectiveDegreesOfFreedom"') >= len(run["points"])
    assert "Non-binary statement" in xml  # the run's rule, stated in its words
    # every input's estimate is a quantity with its unit, none only text
    assert "unit not stated" not in xml
    assert xml.count('refType="labctl_budgetEstimate"') == xml.count("<si:valueStandardMU>")


# --- the migration --------------------------------------------------------------------------


def test_migration_0007_adds_dof_and_budget_and_keeps_old_points(fresh_database_url: str):
    # SQLite here without its foreign-key pragma: an old point is inserted on its own
    engine = sa.create_engine(fresh_database_url)

    def columns() -> dict[str, Any]:
        return {c["name"]: c for c in sa.inspect(engine).get_columns("result_point")}

    try:
        migrate(engine, "0006")
        assert "dof" not in columns() and "budget" not in columns()
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            with engine.begin() as conn:  # a point posted before the migration
                conn.exec_driver_sql(
                    "INSERT INTO result_point (certificate_id, posting_id, seq, table_title, "
                    "quantity, unit, range_label, nominal, reference_value, measured_value, "
                    "expanded_uncertainty, coverage_factor, coverage_probability) VALUES "
                    "(1, 1, 0, 't', 'DC voltage', 'V', '', '10', '10', '10.00001', "
                    "'0.00002', '2', '0.95')")
        migrate(engine, "0007")
        assert columns()["dof"]["nullable"] and columns()["budget"]["nullable"]
        if sqlite:
            with engine.connect() as conn:
                assert conn.exec_driver_sql("SELECT measured_value, dof, budget FROM "
                                            "result_point").one() == ("10.00001", None, None)
        cfg = alembic_config(engine)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0006")
        assert "dof" not in columns() and "budget" not in columns()
    finally:
        engine.dispose()


# --- posted through the API, on both backends -------------------------------------------


@pytest.fixture(scope="module")
def chain(platform_url: str, world: World) -> Chain:
    with httpx.Client(base_url=platform_url, timeout=60) as client:
        return build_chain(client, world)


BUDGET_IN = [
    {"name": "V_ind", "estimate": "10.000012", "standard_uncertainty": "0.0000061",
     "unit": "V", "distribution": "normal", "sensitivity": "1", "contribution": "0.0000061",
     "dof": 9},
    {"name": "g_cal", "estimate": "0.0000031", "standard_uncertainty": "0.00000045",
     "distribution": "normal", "sensitivity": "-10", "contribution": "0.0000045"},
]


def test_posted_dof_and_budget_are_stored_replayed_and_reach_the_dcc(
        api: httpx.Client, world: World, chain: Chain, db_engine: sa.Engine):
    # drafted by hand (no run): the certificate chooses its rule, as before
    cert = draft(api, world, "lab", standards=[chain.working], decision_rule="non_binary")
    assert cert["decision_rule"] == "non_binary"
    number = cert["number"]
    points = [point(dof=23.87, budget=BUDGET_IN), point(nominal="5")]
    key = uid("k")
    hdr = {**world.station("lab"), "Idempotency-Key": key}
    first = ok(api.post(f"/api/v1/certificates/{number}/results", json={"points": points},
                        headers=hdr), 201)
    again = ok(api.post(f"/api/v1/certificates/{number}/results", json={"points": points},
                        headers=hdr))  # the same body again: replayed, nothing added
    assert again == first
    changed = [point(dof=24.0, budget=BUDGET_IN), point(nominal="5")]
    assert api.post(f"/api/v1/certificates/{number}/results", json={"points": changed},
                    headers=hdr).status_code == 409  # the budget is part of the body
    with db_engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT p.dof, p.budget FROM result_point p JOIN certificate c ON "
            "c.id = p.certificate_id WHERE c.number = :n ORDER BY p.seq"), {"n": number}).all()
    assert len(rows) == 2
    (dof, budget), (no_dof, no_budget) = rows
    lines = json.loads(budget) if isinstance(budget, str) else budget
    assert dof == 23.87 and lines[0]["standard_uncertainty"] == "0.0000061"
    assert lines[1]["unit"] is None and lines[1]["dof"] is None
    assert no_dof is None and no_budget is None
    ok(api.post(f"/api/v1/certificates/{number}/check", headers=world.headers("lab", "checker")))
    ok(api.post(f"/api/v1/certificates/{number}/issue", headers=world.headers("lab",
                                                                              "approver")))
    dcc = api.get(f"/api/v1/certificates/{number}/dcc",
                  headers=world.headers("lab", "approver")).content.decode()
    assert dcc.count('refType="labctl_uncertaintyBudget"') == 2  # the metaData and its list
    assert dcc.count('refType="labctl_budgetLine"') == 2
    assert "<si:valueStandardMU>0.0000061</si:valueStandardMU>" in dcc
    assert "Non-binary statement" in dcc


def test_a_bad_posted_budget_is_refused_by_field_and_changes_nothing(
        api: httpx.Client, world: World, chain: Chain, db_engine: sa.Engine):
    cert = draft(api, world, "lab", standards=[chain.working])
    bad = [{**BUDGET_IN[0], "standard_uncertainty": "-1"}]
    resp = api.post(f"/api/v1/certificates/{cert['number']}/results",
                    json={"points": [point(budget=bad)]},
                    headers={**world.station("lab"), "Idempotency-Key": uid("k")})
    assert resp.status_code == 422
    assert "budget" in resp.json()["field"] and "standard_uncertainty" in resp.json()["field"]
    with db_engine.connect() as conn:
        assert conn.execute(sa.text(
            "SELECT count(*) FROM result_point p JOIN certificate c ON c.id = p.certificate_id "
            "WHERE c.number = :n"), {"n": cert["number"]}).scalar_one() == 0
