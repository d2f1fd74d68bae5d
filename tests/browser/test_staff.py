"""The laboratory's pages in a real browser, against the platform seeded as ``labctl demo``
seeds it: the queues, registry review (two people), certificates checked and issued by the
people the rules allow (and refused to the others, forged forms included), the certificate
list, a run on bench-1 followed live, stopped and resumed, standards and stations."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from labctl.cli.demo import LAB, PASSWORD
from tests.browser.conftest import assert_accessible, fill_run_start, shot, sign_in


@contextmanager
def _client(portal: Any, who: str) -> Iterator[tuple[httpx.Client, str]]:
    """A signed-in page session outside the browser (for forged forms) and its CSRF value."""
    with httpx.Client(base_url=portal.url, headers={"Accept": "text/html"}) as client:
        yield _signed(client, who)


def _signed(client: httpx.Client, who: str) -> tuple[httpx.Client, str]:
    page = client.get("/signin")
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    signed = client.post("/signin", data={"username": who, "password": PASSWORD,
                                          "csrf": csrf, "next": "/staff"})
    assert signed.status_code == 303, signed.text[:300]
    home = client.get("/staff")
    return client, home.text.split('name="csrf" value="')[1].split('"')[0]


def _wait_status(portal: Any, run_id: str, statuses: set[str], timeout: float = 40) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        got: dict = portal.api.call("GET", f"/runs/{run_id}", who="alice")
        if got["status"] in statuses:
            return got
        assert time.monotonic() < deadline, got
        time.sleep(0.1)


@pytest.fixture(scope="module")
def draft(portal: Any) -> str:
    """A draft certificate alice performed: a run on bench-1 (through the API) made into a
    draft with its points."""
    api = portal.api
    started = api.call("POST", "/benches/bench-1/runs", who="alice", body={
        "procedure": "dmm-dcv-direct", "parameters": {"ranges": [10.0], "settle_time": 1.0},
        "dut": {"serial_number": portal.sim.truth()["dmm"]["serial"]}, "checker": "bob"})
    _wait_status(portal, started["run_id"], {"completed", "failed", "refused", "paused"})
    cert = api.call("POST", f"/runs/{started['run_id']}/certificate", who="alice", body={
        "customer_name": "Example Instruments Ltd", "customer_code": "CUST",
        "item_description": "Digital multimeter", "method": "Direct comparison",
        "location": "Bench 1"})
    return str(cert["number"])


def test_a_customer_and_a_stranger_get_a_readable_refusal(page: Any, portal: Any) -> None:
    response = page.goto(f"{portal.url}/staff/certificates")
    assert response is not None and response.status == 401
    assert page.get_by_role("heading", level=1).inner_text() == "Please sign in"
    sign_in(page, portal.url, "frank", PASSWORD)
    for path in ("/staff", "/staff/reviews", "/staff/certificates/queue", "/staff/runs",
                 "/staff/standards", "/staff/stations"):
        response = page.goto(f"{portal.url}{path}")
        assert response is not None and response.status == 403, path
        assert page.get_by_role("heading", level=1).inner_text() == "Not allowed"
        assert "for laboratory staff" in page.inner_text("main")
    assert_accessible(page)


def test_reviewer_publishes_what_data_entry_entered_and_dave_cannot(page: Any,
                                                                     portal: Any) -> None:
    api = portal.api
    ident = "LAB-DCV-REF-7"
    api.call("POST", "/standards", who="dave", body={
        "identifier": ident, "kind": "reference", "description": "Zener DC voltage reference",
        "manufacturer": "Fluke", "model": "732C", "serial_number": "9120007",
        "domain": "electrical DC", "quantity": "DC voltage", "unit": "V", "range_min": "1",
        "range_max": "10", "uncertainty_relative": "0.000001", "uncertainty_absolute": "0",
        "organisation_code": LAB, "calibration_interval_days": 365})
    api.call("POST", f"/standards/{ident}/submit", who="dave")

    sign_in(page, portal.url, "dave", PASSWORD)
    page.goto(f"{portal.url}/staff/reviews")
    row = page.locator(f"#entry-standard-{ident}")
    assert "Dave Fischer" in row.inner_text()
    assert row.get_by_role("button", name="Publish").is_disabled()
    assert row.get_by_role("button", name="Send back").is_disabled()
    assert "You entered or edited this entry: a second person must review it." in \
        row.inner_text()
    # a forged form by dave: refused by the same rule, nothing changed
    with _client(portal, "dave") as (client, csrf):
        forged = client.post(f"/staff/reviews/standard/{ident}",
                             data={"csrf": csrf, "decision": "publish"})
    assert forged.status_code == 403 and "reviewer" in forged.text
    assert api.call("GET", f"/standards/{ident}", who="dave")["review_state"] == "submitted"

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, portal.url, "erin", PASSWORD)
    page.goto(f"{portal.url}/staff")
    assert int(page.locator("#count-reviews").inner_text()) >= 1
    shot(page, "staff-home")
    assert_accessible(page)
    page.get_by_role("link", name="Open the review queue").click()
    row = page.locator(f"#entry-standard-{ident}")
    assert row.get_by_role("button", name="Publish").is_enabled()
    assert_accessible(page)
    shot(page, "staff-reviews")
    # sending back needs a reason: the form is refused without one, and nothing changes
    row.get_by_role("button", name="Send back").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Please check what you entered"
    assert api.call("GET", f"/standards/{ident}", who="erin")["review_state"] == "submitted"
    page.goto(f"{portal.url}/staff/reviews")
    page.locator(f"#entry-standard-{ident}").get_by_role("button", name="Publish").click()
    assert f"{ident} is published." in page.get_by_role("status").inner_text()
    published = api.call("GET", f"/standards/{ident}")
    assert published["review_state"] == "published"
    assert page.locator(f"#entry-standard-{ident}").count() == 0

    # a CMC goes the same way: sent back with the reviewer's reason, back to draft
    cmc = api.call("POST", "/capabilities", who="dave", body={
        "organisation_code": LAB, "domain": "electrical DC", "quantity": "DC voltage",
        "unit": "V", "range_min": "0.1", "range_max": "100",
        "uncertainty_relative": "0.000002", "uncertainty_absolute": "0.0000005",
        "method": "Direct comparison with a Zener reference"})
    api.call("POST", f"/capabilities/{cmc['id']}/submit", who="dave")
    page.goto(f"{portal.url}/staff/reviews")
    row = page.locator(f"#entry-capability-{cmc['id']}")
    row.get_by_label("Comment (required to send back)").fill("State the range in mV too")
    row.get_by_role("button", name="Send back").click()
    assert "was sent back" in page.get_by_role("status").inner_text()
    assert api.call("GET", f"/capabilities/{cmc['id']}", who="dave")["review_state"] == \
        "draft"
    # someone else's or no such entry by URL: refused or not found, never a crash
    with _client(portal, "erin") as (client, csrf):
        for path in ("/staff/reviews/capability/99999999999", "/staff/reviews/capability/x",
                     "/staff/reviews/standard/NO-SUCH"):
            r = client.post(path, data={"csrf": csrf, "decision": "publish"})
            assert r.status_code == 404, (path, r.status_code)


def test_bob_checks_what_alice_performed_and_carol_issues(page: Any, portal: Any,
                                                          draft: str) -> None:
    api = portal.api
    sign_in(page, portal.url, "alice", PASSWORD)
    page.goto(f"{portal.url}/staff/certificates/queue")
    row = page.locator(f"#cert-{draft}")
    assert "alice" in row.inner_text()
    assert row.get_by_role("button", name="Check").is_disabled()
    assert "You performed, posted or edited this revision" in row.inner_text()
    with _client(portal, "alice") as (client, csrf):
        forged = client.post(f"/staff/certificates/{draft}/check", data={"csrf": csrf})
        assert forged.status_code == 403
        no_csrf = client.post(f"/staff/certificates/{draft}/check", data={})
        assert no_csrf.status_code == 403
    assert api.call("GET", f"/certificates/{draft}", who="alice")["status"] == "draft"

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, portal.url, "bob", PASSWORD)
    page.goto(f"{portal.url}/staff/certificates/queue")
    assert_accessible(page)
    shot(page, "staff-certificate-queue")
    page.locator(f"#cert-{draft}").get_by_role("button", name="Check").click()
    assert f"Certificate {draft} is checked" in page.get_by_role("status").inner_text()
    row = page.locator(f"#cert-{draft}")  # now waiting for issue: bob may not issue it
    assert "bob" in row.inner_text()
    assert row.get_by_role("button", name="Issue").is_disabled()
    assert api.call("GET", f"/certificates/{draft}", who="bob")["checked_by"] == "bob"

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, portal.url, "carol", PASSWORD)
    page.goto(f"{portal.url}/staff/certificates/queue")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#cert-{draft}").get_by_role("button", name="Issue").click()
    assert f"Certificate {draft} is issued" in page.get_by_role("status").inner_text()
    issued = api.call("GET", f"/certificates/{draft}", who="carol")
    assert issued["status"] == "issued" and issued["approved_by"] == "carol"

    # the list: filters, documents and the verification link
    page.goto(f"{portal.url}/staff/certificates")
    page.get_by_label("Number or text").fill(draft)
    page.get_by_label("Status").select_option("issued")
    page.get_by_role("button", name="Filter").click()
    assert "1 certificates found" in page.locator("#found").inner_text()
    table = page.locator("#certificates")
    assert draft in table.inner_text() and "Example Instruments Ltd" in table.inner_text()
    assert_accessible(page)
    shot(page, "staff-certificates")
    with page.expect_download() as download:
        table.get_by_role("link", name=f"PDF {draft}").click()
    assert download.value.suggested_filename.endswith(".pdf")
    assert table.get_by_role("link", name=f"Verify {draft}").get_attribute("href") == \
        f"/verify/{draft}"
    page.goto(f"{portal.url}/staff/certificates?customer=nobody-such&issued_from=bad")
    assert "0 certificates found" in page.locator("#found").inner_text()
    assert page.get_by_role("alert").is_visible()  # the date not understood is said
    page.goto(f"{portal.url}/staff/certificates?status=draft&q={draft}")
    assert "0 certificates found" in page.locator("#found").inner_text()

    # the same list through the API: what a caller may read, filtered
    listed = api.call("GET", f"/certificates?q={draft}", who="bob")
    assert [c["number"] for c in listed["items"]] == [draft]
    assert listed["items"][0]["contributors"] == ["alice"]
    mine = api.call("GET", "/certificates?status=issued", who="frank")
    assert draft in [c["number"] for c in mine["items"]]
    nmi = api.call("GET", f"/certificates?q={draft}", who="nmi.check")
    assert nmi["total"] == 0  # another laboratory's staff read none of it


@pytest.mark.timeout(90)
def test_a_run_shows_live_progress_and_conditions_stops_and_resumes(page: Any,
                                                                    portal: Any) -> None:
    env = portal.sim.instruments["environment"]
    env.faults.latency = 0.3  # the room's settle takes several seconds of wall time
    try:
        sign_in(page, portal.url, "alice", PASSWORD)
        page.goto(f"{portal.url}/staff/runs")
        page.get_by_label("Checker (username)").fill("bob")
        page.get_by_label("Item serial number").fill(portal.sim.truth()["dmm"]["serial"])
        page.get_by_label("Procedure").select_option("dmm-dcv-direct")
        # only the chosen procedure's parameters are shown, each its own field
        assert not page.locator("#p-prt-comparison-stability_window").is_visible()
        page.locator("#p-dmm-dcv-direct-ranges").fill("10")
        settle = page.locator("#p-dmm-dcv-direct-settle_time")
        assert settle.is_visible() and page.get_by_label(
            "DMM ranges (V), separated by commas; empty for all").is_visible()
        assert settle.get_attribute("placeholder") == "2"  # the procedure's default
        settle.fill("a second")  # not a number: said in words, nothing started
        assert_accessible(page)
        shot(page, "staff-run-start")
        runs_before = portal.app.state.runs.journal("bench-1").runs()
        page.get_by_role("button", name="Start").click()
        assert page.get_by_role("heading", level=1).inner_text() == \
            "Please check what you entered"
        assert "“settle time” is not allowed: a number" in page.get_by_role("alert").inner_text()
        assert portal.app.state.runs.journal("bench-1").runs() == runs_before
        page.goto(f"{portal.url}/staff/runs")
        fill_run_start(page, checker="bob", ranges="10", settle_time="1",
                       serial=portal.sim.truth()["dmm"]["serial"])
        page.wait_for_url("**/staff/runs/*?done=started")
        run_id = page.url.split("/staff/runs/")[1].split("?")[0]
        assert "The run is started." in page.get_by_role("status").inner_text()
        assert "of 4 points" in page.locator("#run-progress").inner_text()
        # stopped in the room's settle (the runner waits for stable conditions first)
        page.locator("#run-live").get_by_role("button", name="Stop").click()
        assert "pause at the next safe moment" in page.get_by_role("status").inner_text()
    finally:
        env.faults.latency = 0.0
    paused = _wait_status(portal, run_id, {"paused", "completed", "failed", "refused"})
    assert paused["status"] == "paused", paused
    # the page follows by itself (no reload): paused, and the resume button appears
    resume = page.locator("#run-live").get_by_role("button", name="Resume")
    resume.wait_for(timeout=10_000)
    assert "paused" in page.locator("#run-status").inner_text()
    assert_accessible(page)
    resume.click()
    assert "continues from its next point" in page.get_by_role("status").inner_text()
    # not "paused": the run reads paused until its runner has taken the resume up (a wait
    # that stopped at "paused" raced it); paused again would show as the wait's timeout
    done = _wait_status(portal, run_id, {"completed", "failed", "refused"})
    assert done["status"] == "completed", done
    # live again: progress to the end and the room's conditions, without a reload
    page.locator("#run-status .badge.ok").wait_for(timeout=10_000)
    assert "4 of 4 points" in page.locator("#run-progress").inner_text()
    assert "°C" in page.locator("#run-live dd.temperature").inner_text()
    assert "%rh" in page.locator("#run-live dd.humidity").inner_text()
    assert "hPa" in page.locator("#run-live dd.pressure").inner_text()
    assert page.locator("#run-points tbody tr").count() == 4
    shot(page, "staff-run")
    page.reload()
    page.get_by_label("Customer name").fill("Example Instruments Ltd")
    page.get_by_label("Customer code (optional)").fill("CUST")
    page.get_by_label("Item description").fill("Digital multimeter")
    page.get_by_label("Method").fill("Direct comparison")
    page.get_by_label("Location").fill("Bench 1")
    page.get_by_role("button", name="Make the draft").click()
    assert "Draft certificate" in page.get_by_role("status").inner_text()

    page.goto(f"{portal.url}/staff/runs")
    assert run_id[:8] in page.locator("#benches").inner_text()
    assert_accessible(page)
    shot(page, "staff-runs")


def test_a_checker_cannot_resume_or_stop_a_run(portal: Any) -> None:
    runs = portal.app.state.runs.journal("bench-1").runs()
    paused_or_done = runs[0]["run_id"]
    with _client(portal, "bob") as (client, csrf):
        r = client.post(f"/staff/runs/{paused_or_done}/resume", data={"csrf": csrf})
        assert r.status_code in (403, 409)
        r = client.post("/staff/runs/start", data={
            "csrf": csrf, "bench": "bench-1", "procedure": "dmm-dcv-direct",
            "checker": "alice", "p.dmm-dcv-direct.settle_time": "1"})
        assert r.status_code == 403  # a checker does not start runs
        for bad in ("NaN", "1e999", "-inf", "2,5,6"):
            r = client.post("/staff/runs/start", data={
                "csrf": csrf, "bench": "bench-1", "procedure": "dmm-dcv-direct",
                "checker": "alice", "p.dmm-dcv-direct.settle_time": bad})
            assert r.status_code == 422, bad


def test_other_peoples_ids_in_urls_are_refused(portal: Any, draft: str) -> None:
    run_id = portal.app.state.runs.journal("bench-1").runs()[0]["run_id"]
    with _client(portal, "nmi.check") as (client, csrf):  # staff of another organisation
        assert client.get(f"/staff/runs/{run_id}").status_code == 403
        assert client.get(f"/staff/runs/{run_id}/live").status_code == 403
        assert client.post(f"/staff/runs/{run_id}/stop", data={"csrf": csrf}
                           ).status_code == 403
        assert client.get("/staff/runs/not-a-run").status_code == 404
        assert client.get(f"/staff/certificates/{draft}/pdf").status_code == 403
        r = client.post(f"/staff/certificates/{draft}/check", data={"csrf": csrf})
        assert r.status_code == 403
        assert "0 certificates found" in client.get(f"/staff/certificates?q={draft}").text
        assert client.get("/staff/standards/LAB-CAL-01").status_code == 200  # published
        assert "LAB-CAL-01" not in client.get("/staff/standards").text  # not theirs
        r = client.post("/staff/standards/LAB-CAL-01/status",
                        data={"csrf": csrf, "status": "retired", "reason": "x"})
        assert r.status_code == 403
    assert portal.api.call("GET", "/standards/LAB-CAL-01")["status"] != "retired"


def test_stations_created_snapshot_downloaded_and_revoked(page: Any, portal: Any) -> None:
    sign_in(page, portal.url, "admin", PASSWORD)
    page.goto(f"{portal.url}/staff/stations")
    page.get_by_label("Organisation").select_option(LAB)
    page.get_by_label("Station name").fill("bench-2")
    page.get_by_role("button", name="Create the station").click()
    token = page.locator("#token-value").input_value()
    assert token and "shown only this once" in page.locator("#new-token").inner_text()
    assert_accessible(page)
    shot(page, "staff-stations")
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{portal.url}/api/v1/stations/register", headers=headers
                     ).status_code == 200
    page.goto(f"{portal.url}/staff/stations")
    assert token not in page.content()  # never shown again
    row = page.locator("#stations tr", has_text="bench-2")
    with page.expect_download() as download:
        row.get_by_role("link", name="Download bench-2").click()
    snapshot = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert any(s["id"] == "LAB-CAL-01" for s in snapshot["standards"])
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke bench-2").click()
    assert "Every token of bench-2 is revoked" in page.get_by_role("status").inner_text()
    assert httpx.get(f"{portal.url}/api/v1/stations/register", headers=headers
                     ).status_code == 401
    # a technician neither sees the stations nor downloads a snapshot
    with _client(portal, "alice") as (client, _):
        assert client.get("/staff/stations").status_code == 403
        station_id = row.get_attribute("id") or ""
        assert client.get(f"/staff/stations/{station_id.split('-')[-1]}/register.json"
                          ).status_code == 403
        assert client.get("/staff/stations/99999999999/register.json").status_code == 422
    with _client(portal, "admin") as (client, csrf):
        too_long = client.post("/staff/stations", data={
            "csrf": csrf, "organisation": LAB, "name": "x", "valid_days": "100000"})
        assert too_long.status_code == 422
        elsewhere = client.post("/staff/stations", data={
            "csrf": csrf, "organisation": "NO-SUCH", "name": "x"})
        assert elsewhere.status_code == 404


def test_standards_due_dates_impact_and_status(page: Any, portal: Any) -> None:
    sign_in(page, portal.url, "alice", PASSWORD)
    page.goto(f"{portal.url}/staff/standards/LAB-CAL-01")
    assert page.get_by_role("button", name="Record the status").is_disabled()
    assert "Only a reviewer or administrator" in page.inner_text("main")
    with _client(portal, "alice") as (client, csrf):
        forged = client.post("/staff/standards/LAB-CAL-01/status",
                             data={"csrf": csrf, "status": "quarantined", "reason": "x"})
        assert forged.status_code == 403
    assert portal.api.call("GET", "/standards/LAB-CAL-01")["status"] == "in_service"
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, portal.url, "erin", PASSWORD)
    page.goto(f"{portal.url}/staff/standards")
    assert "LAB-CAL-01" in page.locator("#standards").inner_text()
    assert_accessible(page)
    shot(page, "staff-standards")
    page.get_by_role("link", name="LAB-CAL-01").click()
    assert page.locator("#impact").count() == 1  # the runs' certificates used it
    page.get_by_label("New status").select_option("quarantined")
    page.get_by_label("Reason").fill("Dropped during transport; to be checked")
    page.get_by_role("button", name="Record the status").click()
    assert "quarantined" in page.locator("#std-status").inner_text()
    assert_accessible(page)
    page.goto(f"{portal.url}/staff/standards?show=quarantined")
    assert "LAB-CAL-01" in page.locator("#standards").inner_text()
    page.goto(f"{portal.url}/staff/standards/LAB-CAL-01")
    page.get_by_label("New status").select_option("out_of_tolerance")
    page.get_by_label("Reason").fill("Found 30 µV/V off")
    page.get_by_label("Error found, relative (out of tolerance)").fill("NaN")
    page.get_by_role("button", name="Record the status").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Please check what you entered"
    page.goto(f"{portal.url}/staff/standards/LAB-CAL-01")
    page.get_by_label("New status").select_option("in_service")
    page.get_by_label("Reason").fill("Checked against the reference: in tolerance")
    page.get_by_role("button", name="Record the status").click()
    assert "in service" in page.locator("#std-status").inner_text()


@pytest.mark.viewport(390, 844)
def test_staff_pages_fit_a_phone_and_speak_chinese(page: Any, portal: Any) -> None:
    sign_in(page, portal.url, "bob", PASSWORD)
    for path in ("/staff", "/staff/certificates/queue", "/staff/certificates", "/staff/runs"):
        page.goto(f"{portal.url}{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
    page.get_by_role("link", name="中文").click()
    page.goto(f"{portal.url}/staff")
    assert page.get_by_role("heading", level=1).inner_text() == "实验室工作队列"
    assert_accessible(page)
