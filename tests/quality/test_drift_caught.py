"""The done-when test of issue 12's checks: a drifting calibrator is caught by its checks.

On the simulated bench (real servers on 127.0.0.1, the real drivers and runner), the
dmm-calibrator-check procedure runs once a simulated day; each completed run is delivered by
the station seam to the platform (a real SQLite file, seeded through the API as the demo
seeds it), which files the checks on the calibrator's control charts. Five in-control checks
set the limits; then the calibrator drifts. Nothing here is told what to find: the chart
rule fires on the platform's own evaluation, the calibrator goes under investigation (the
runner then warns when it is used), and once a check leaves the stated tolerance it is
quarantined with the certificates issued since the last good check flagged.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlmodel import Session, select

from labctl.cli.bench import simulated_bench_config
from labctl.cli.demo import CUST, LAB, _point, issue_certificate
from labctl.drivers.factory import open_bench
from labctl.errors import PreconditionError
from labctl.platform.admin import verify_audit
from labctl.platform.models.certificates import Certificate, CertificateFlag
from labctl.platform.models.quality import CheckResult
from labctl.platform.stations.seam import DraftDetails, EmbeddedStation
from labctl.procedures.dmm_calibrator_check import DmmCalibratorCheck
from labctl.procedures.journal import SqliteJournal
from labctl.procedures.runner import Runner
from labctl.quantities import Quantity
from tests.quality.world import DAY, Scene, scene

SEED = 1212
#: relative per simulated second: 1.73 ppm a day, 17 µV a day at 10 V; the calibrator's
#: stated accuracy at 10 V is 12 µV/V·10 V + 2 µV = 122 µV
RATE = 2e-11
LABCTL = [sys.executable, "-m", "labctl"]
DETAILS = DraftDetails("", None, "", "", "Bench 1")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    with scene(tmp_path_factory.mktemp("drift"), SEED, days=25.0) as s:
        yield s


def _check(runner: Runner, s: Scene) -> Any:
    cal = s.sim.truth()["calibrator"]
    result = runner.run(DmmCalibratorCheck(), dut={
        "manufacturer": "Fluke", "model": "5522A", "serial_number": cal["serial"]},
        operator="alice", checker="bob")
    assert result.status == "completed", result.reason
    return result


def _certificate(s: Scene, when_offset: float, serial: str) -> str:
    """A customer's DC voltage certificate that used the calibrator at the bench's now."""
    when = s.clock.utcnow() + timedelta(seconds=when_offset)
    return issue_certificate(
        s.api, LAB, item=None, standards=["LAB-CAL-01"], when=when,
        description="Digital multimeter", quantity=Quantity.DC_VOLTAGE,
        points=[_point("DC voltage", Quantity.DC_VOLTAGE, "V", "10 V", 10.0, 10.0,
                       10.00001, 3e-5)],
        customer=("Example Instruments Ltd", CUST), staff=("alice", "bob", "carol"),
        item_fields={"item_serial_number": serial, "item_manufacturer": "Keysight",
                     "item_model": "34465A"},
        procedure="dmm-dcv-direct", key=f"cert-{serial}")["number"]


@pytest.mark.timeout(300)
def test_a_drifting_calibrator_is_caught_by_its_checks(world: Scene, tmp_path: Path):
    s = world
    station = EmbeddedStation(s.engine, LAB)
    delivered: list[str] = []
    with SqliteJournal(tmp_path / "journal.sqlite") as journal, \
            open_bench(simulated_bench_config(s.sim.resources)) as bench:
        runner = Runner(instruments=dict(bench), register=station.register(),
                        journal=journal, clock=s.clock, sample_interval=10.0,
                        background_sampling=False)
        # five checks in control, one a day: they set each point's limits
        for day in range(5):
            result = _check(runner, s)
            delivered.append(station.deliver(result, DETAILS))
            if day == 1:
                before_last_good = _certificate(s, 3600.0, "MY-1")
            s.clock.advance(DAY)
        after_last_good = _certificate(s, -3600.0, "MY-2")  # after the fifth check
        charts = s.api.call("GET", "/standards/LAB-CAL-01/checks", who="erin")
        assert charts["status"] == "in_service" and not charts["events"]
        assert {x["point_key"] for x in charts["series"]} == {"+1V", "+10V", "-10V"}
        for series in charts["series"]:
            assert series["limits"]["n_baseline"] == 5, series
            assert series["outcome"] == "in_control", series
            assert all(p["en_ok"] and not p["beyond_tolerance"] for p in series["points"])

        # the calibrator starts to drift: the next checks leave the chart's limits
        s.sim.set_drift("calibrator", rate=RATE)
        statuses = []
        for _ in range(12):
            result = _check(runner, s)
            delivered.append(station.deliver(result, DETAILS))
            statuses.append(s.api.call("GET", "/standards/LAB-CAL-01", who="erin")["status"])
            if statuses[-1] == "quarantined":
                break
            s.clock.advance(DAY)
        assert "under_investigation" in statuses, statuses
        first_signal = statuses.index("under_investigation")
        assert statuses[:first_signal] == ["in_service"] * first_signal
        assert statuses[-1] == "quarantined", statuses
        # the station's answer says what the checks did
        assert any("status under_investigation" in d for d in delivered), delivered
        assert "status quarantined; event" in delivered[-1]

    events = s.api.call("GET", "/quality-events?standard=LAB-CAL-01", who="erin")
    kinds = [e["kind"] for e in reversed(events)]
    assert kinds[0] in ("chart_rule", "en_failed") and kinds[-1] == "beyond_tolerance", events
    investigation, quarantine = events[-1], events[0]
    assert investigation["standard_status"] == "under_investigation"
    assert any(r in investigation["rules"] for r in
               ("beyond_3_sigma", "two_of_three_beyond_2_sigma", "trend", "run_one_side",
                "moving_range_beyond_limit"))
    assert quarantine["standard_status"] == "quarantined"
    assert "beyond_tolerance" in quarantine["rules"] and quarantine["impact"]["flagged"]
    # the impact report: the certificate issued after the last good check, not the one
    # before it
    listed = quarantine["impact"]["certificates"]
    assert any(c.startswith(after_last_good) for c in listed), listed
    assert not any(c.startswith(before_last_good) for c in listed), listed
    with Session(s.engine) as session:
        flagged = {session.get(Certificate, f.certificate_id).number
                   for f in session.exec(select(CertificateFlag)).all()}
    assert after_last_good in flagged and before_last_good not in flagged

    # the drift line through the checks since the calibration: up at +10 V, down at -10 V
    # (a relative drift), significant at both; the newest check of one of them is beyond
    # the tolerance
    charts = s.api.call("GET", "/standards/LAB-CAL-01/checks", who="erin")
    series = {x["point_key"]: x for x in charts["series"]}
    up, down = series["+10V"]["drift"], series["-10V"]["drift"]
    assert up["slope_per_day"] > 3 * up["u_slope_per_day"]
    assert down["slope_per_day"] < -3 * down["u_slope_per_day"]
    assert any(x["points"][-1]["beyond_tolerance"] for x in series.values())
    outcomes = {series[k]["outcome"] for k in ("+10V", "-10V")}
    assert "out_of_tolerance" in outcomes and outcomes <= {"investigate", "out_of_tolerance"}
    assert verify_audit(s.settings.database_url, keys_dir=s.settings.keys_dir).ok

    # the register a station downloads carries the drift per checked point to the budgets
    # (the DC-voltage procedure weighs it against the stated allowance)
    truth = s.sim.truth()["calibrator"]
    cal = station.register().find_standard(manufacturer="Fluke", model="5522A",
                                           serial_number=truth["serial"],
                                           at=s.clock.utcnow())
    drifts = {d.nominal: d for d in cal.drifts}
    assert set(drifts) == {1.0, 10.0, -10.0}
    for nominal, d in drifts.items():
        assert d.unit == "V" and d.n == len(delivered)
        # five flat checks then the ramp: the line's slope is of the ramp's sign, below it
        assert 0 < d.slope / nominal < RATE and abs(d.slope) > 3 * d.u_slope, nominal


@pytest.mark.timeout(120)
def test_the_runner_warns_of_a_standard_under_investigation(world: Scene, tmp_path: Path):
    """A standard under investigation is used with a warning in the journal; a quarantined
    one is still refused."""
    s = world
    s.clock.advance(DAY)
    s.api.call("POST", "/standards/LAB-DMM-01/status", who="erin", body={
        "status": "under_investigation", "reason": "a check of it signalled",
        "effective_at": s.clock.utcnow().isoformat()})
    station = EmbeddedStation(s.engine, LAB)
    cal = s.sim.truth()["calibrator"]
    dut = {"manufacturer": "Fluke", "model": "5522A", "serial_number": cal["serial"]}
    with SqliteJournal(tmp_path / "journal.sqlite") as journal, \
            open_bench(simulated_bench_config(s.sim.resources)) as bench:
        runner = Runner(instruments=dict(bench), register=station.register(),
                        journal=journal, clock=s.clock, sample_interval=10.0,
                        background_sampling=False)
        s.clock.advance(60.0)
        result = runner.run(DmmCalibratorCheck(), dut=dut, operator="alice", checker="bob")
        assert result.status == "completed", result.reason
        warnings = [e for e in result.events if e.kind == "warning"]
        assert len(warnings) == 1 and "LAB-DMM-01" in warnings[0].message
        assert warnings[0].data == {"standard": "LAB-DMM-01", "status": "under_investigation"}
        journaled = journal.result(result.run_id)
        assert [e.kind for e in journaled.events].count("warning") == 1

        s.clock.advance(3600.0)
        s.api.call("POST", "/standards/LAB-DMM-01/status", who="erin", body={
            "status": "quarantined", "reason": "found beyond its limits",
            "effective_at": s.clock.utcnow().isoformat()})
        s.clock.advance(60.0)
        with pytest.raises(PreconditionError) as refused:
            runner.run(DmmCalibratorCheck(), dut=dut, operator="alice", checker="bob")
        assert refused.value.rule == "standard_not_in_service"
    s.clock.advance(60.0)
    s.api.call("POST", "/standards/LAB-DMM-01/status", who="erin", body={
        "status": "in_service", "reason": "no quality event: returned by its reviewer",
        "effective_at": s.clock.utcnow().isoformat()})


@pytest.mark.timeout(120)
def test_the_check_report_and_the_staff_page_show_the_charts(world: Scene):
    """The PDF check report (API) and the staff standard page (inline SVG charts) for the
    laboratory's staff; nobody else reads them (404, as for the checks)."""
    s = world
    if s.api.call("GET", "/standards/LAB-CAL-01", who="erin")["status"] != "quarantined":
        pytest.skip("needs the drift test of this module first")
    pdf = s.api.call("GET", "/standards/LAB-CAL-01/checks.pdf", who="erin")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    for key in ("+1V", "+10V", "-10V"):
        assert f"LAB-CAL-01 {key}" in text
    assert "beyond_tolerance" in text and "quarantined" in text
    for who in ("frank", "prov.tech"):  # a customer; another laboratory's technician
        outsider = s.api.client.get("/api/v1/standards/LAB-CAL-01/checks.pdf", headers={
            "Authorization": f"Bearer {s.api.tokens[who]}"})
        assert outsider.status_code == 404, who
        assert s.api.client.get("/staff/standards/LAB-CAL-01/checks.pdf", headers={
            "Cookie": f"labctl_session={s.api.tokens[who]}"}).status_code in (403, 404), who
    cookies = {"Cookie": f"labctl_session={s.api.tokens['erin']}"}
    page = s.api.client.get("/staff/standards/LAB-CAL-01", headers=cookies)
    assert page.status_code == 200
    filed = sum(len(x["points"]) for x in s.api.call(
        "GET", "/standards/LAB-CAL-01/checks", who="erin")["series"])
    assert page.text.count('<g class="check') == filed  # a marker for every check filed
    svgs = page.text.count("<svg")
    assert svgs >= 3 and 'id="check-report"' in page.text
    report = s.api.client.get("/staff/standards/LAB-CAL-01/checks.pdf", headers=cookies)
    assert report.status_code == 200 and report.content.startswith(b"%PDF")


@pytest.mark.timeout(120)
def test_labctl_checks_shows_the_charts_events_and_drift(world: Scene):
    """``labctl checks`` on the platform's database after the drift was caught (this
    module's first test left the calibrator quarantined)."""
    s = world
    if s.api.call("GET", "/standards/LAB-CAL-01", who="erin")["status"] != "quarantined":
        pytest.skip("needs the drift test of this module first")
    report = s.tmp / "checks.pdf"
    done = subprocess.run([*LABCTL, "checks", "LAB-CAL-01", "--database-url",
                           s.settings.database_url, "--pdf", str(report)],
                          capture_output=True, text=True,
                          timeout=100, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "LAB-CAL-01: quarantined" in text
    for key in ("+1V", "+10V", "-10V"):
        assert f"LAB-CAL-01 at {key}" in text
    assert "TOLERANCE" in text and "beyond_3_sigma" in text
    pdf_text = "\n".join(p.extract_text() for p in PdfReader(report).pages)
    assert "LAB-CAL-01 +10V" in pdf_text
    assert "limits (baseline *, 5 checks)" in text
    assert text.count("drift:") == 3 and "/day" in text
    assert "beyond_tolerance" in text and "under investigation" in text
    missing = subprocess.run([*LABCTL, "checks", "LAB-NOPE-9", "--database-url",
                              s.settings.database_url], capture_output=True, text=True,
                             timeout=100)
    assert missing.returncode == 2 and "LAB-NOPE-9" in missing.stderr


@pytest.mark.timeout(180)
def test_labctl_run_files_a_check_on_the_embedded_platform(world: Scene, tmp_path: Path):
    """``labctl run dmm-calibrator-check --lab`` on the platform's machine: the completed
    check is filed on the calibrator's charts (not refused, not a certificate draft)."""
    s = world
    serial = s.sim.truth()["calibrator"]["serial"]
    with Session(s.engine) as session:
        before = session.exec(select(CheckResult)).all()
    done = subprocess.run(
        [*LABCTL, "run", "dmm-calibrator-check", "--sim", "--seed", str(SEED), "--lab", LAB,
         "--journal", str(tmp_path / "journal.sqlite"), "--operator", "alice", "--checker",
         "bob", "--dut-serial", str(serial)], capture_output=True, text=True, timeout=150,
        env={**os.environ, "LABCTL_DATABASE_URL": s.settings.database_url,
             "LABCTL_KEYS_DIR": str(s.settings.keys_dir), "COLUMNS": "200"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "checks of LAB-CAL-01 filed (3 points)" in done.stdout
    assert "draft certificate" not in done.stdout
    with Session(s.engine) as session:
        after = session.exec(select(CheckResult)).all()
    assert len(after) == len(before) + 3
    assert {c.operator for c in after[len(before):]} == {"alice"}
