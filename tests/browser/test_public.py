"""The public pages in a real browser, as a visitor without an account uses them: search
(quantity, value in range, free text; sorting and paging; bad input answered beside its
field), a standard, its organisation, its traceability graph, certificate verification by a
typed number and by the certificate's own QR link (read from its PDF), a readable 404 for a
wrong number, the ledger, Chinese labels, phone width and accessibility."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from pypdf import PdfReader

from labctl.cli.demo import PASSWORD, _publish
from tests.browser.conftest import assert_accessible, shot, sign_in

EXTRA_CMCS = 12  # DC current CMCs of the laboratory: more than one page of 10
RANGES = ("0.001", "0.02", "0.3", "4", "0.005", "0.06", "0.7", "8", "0.009", "0.1", "1.1", "12")


@pytest.fixture(scope="module")
def site(portal: Any) -> Any:
    """The demo platform plus a dozen published DC current CMCs (for paging) and one draft
    standard (which no visitor may see)."""
    for i in range(EXTRA_CMCS):
        _publish(portal.api, "capabilities", {
            "organisation_code": "ACAL", "domain": "electrical DC", "quantity": "DC current",
            "unit": "A", "range_min": "0", "range_max": RANGES[i],
            "uncertainty_relative": f"0.0000{i + 10}", "uncertainty_absolute": "0.000001",
            "method": f"Shunt method {i}"}, "dave", "erin")
    portal.api.call("POST", "/standards", who="dave", body={
        "identifier": "ACAL-DRAFT-1", "kind": "working", "description": "Unreviewed shunt",
        "domain": "electrical DC", "quantity": "DC current", "unit": "A", "range_min": "0",
        "range_max": "10", "uncertainty_relative": "0.0001", "uncertainty_absolute": "0",
        "organisation_code": "ACAL"})
    return portal


def _certificate(site: Any) -> str:
    """The number of the certificate that calibrated the laboratory's calibrator (issued by
    the provincial institute in the demo's chain)."""
    std = site.api.call("GET", "/standards/LAB-CAL-01")
    return str(std["current_calibration"]["certificate_number"])


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the page scrolls sideways ({width} px)"


def test_search_by_quantity_and_value_sorts_and_pages(page: Any, site: Any) -> None:
    page.goto(f"{site.url}/")
    page.get_by_label("Quantity").select_option("DC current")
    page.get_by_label("Results per page").select_option("10")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r".*quantity=DC\+current.*"))
    assert page.get_by_role("status").first.inner_text().startswith(f"Results found: {EXTRA_CMCS}")
    rows = page.locator("table.results tbody tr")
    assert rows.count() == 10
    assert "quantity=DC+current" in page.url  # a GET form: the results have a URL
    pager = page.get_by_role("navigation", name="Pages of results")
    assert "Page 1 of 2" in pager.inner_text()
    pager.get_by_role("link", name="Next page").click()
    page.wait_for_url(re.compile(r".*page=2.*"))
    assert rows.count() == EXTRA_CMCS - 10
    assert "Page 2 of 2" in pager.inner_text()
    page.goto(page.url.replace("page=2", "page=999"))  # past the end: the last page
    assert rows.count() == EXTRA_CMCS - 10 and "Page 2 of 2" in pager.inner_text()
    page.go_back()
    # sorting by range: the header link, marked with aria-sort, back to page 1
    page.get_by_role("link", name="Range").click()
    page.wait_for_url(re.compile(r".*sort=range.*"))
    header = page.locator("th[aria-sort]")
    assert header.inner_text().startswith("Range") and header.get_attribute(
        "aria-sort") == "ascending"
    assert "sort=range" in page.url and "page=" not in page.url
    first = rows.first.locator("td").nth(2).inner_text()
    assert first.startswith("0 … 0.001 A")

    # a value the range must cover, with the uncertainty there
    page.goto(f"{site.url}/?quantity=DC+voltage&value=10")
    labs = [r.locator("td").first.inner_text() for r in rows.all()]
    assert len(labs) == 3 and any("Acme Calibration Laboratory" in t for t in labs)
    assert page.get_by_label("Value in range").input_value() == "10"
    assert "Uncertainty at the value" in page.locator("table.results thead").inner_text()
    assert "10.2 µV" in rows.last.inner_text() or "10.2 µV" in rows.first.inner_text()
    page.goto(f"{site.url}/?quantity=DC+voltage&value=10&max_uncertainty=0.00001015")
    assert page.get_by_role("status").first.inner_text().startswith("Results found: 2")
    assert "Acme" not in page.locator("table.results").inner_text()  # 10.2 µV at 10 V: too wide
    assert_accessible(page)


def test_free_text_finds_a_standard_and_its_pages(page: Any, site: Any) -> None:
    page.goto(f"{site.url}/?what=standards&kind=national_primary")
    assert page.get_by_label("Kind of standard").is_visible()  # "More filters" open: in use
    assert page.get_by_role("status").first.inner_text().startswith("Results found: 3")
    page.goto(f"{site.url}/?what=standards&status=quarantined")
    assert page.get_by_role("status").first.inner_text().startswith("Results found: 0")
    # the page's chain is the JSON API's
    api = httpx.get(f"{site.url}/api/v1/standards/LAB-CAL-01/traceability").json()
    assert api["complete"] is True and api["national_primary_standards"] == ["NMI-JVS-1"]
    for nothing in ("NMI-JVS-1", "ACAL-DRAFT-1", "NO-SUCH-STD"):
        assert httpx.get(f"{site.url}/api/v1/standards/{nothing}/traceability").status_code == 404
    page.goto(f"{site.url}/")
    page.get_by_label("Search in").select_option("standards")
    page.get_by_label("Words").fill("5522")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r".*q=5522.*"))
    assert page.get_by_role("status").first.inner_text().startswith("Results found: 1")
    shot(page, "search")
    page.get_by_role("link", name="LAB-CAL-01").click()
    page.wait_for_url(f"{site.url}/standards/LAB-CAL-01")
    assert page.get_by_role("heading", level=1).inner_text().startswith("LAB-CAL-01")
    crumbs = page.get_by_role("navigation", name="Place in the national hierarchy")
    assert [t.strip().split(" (")[0] for t in crumbs.locator("li").all_inner_texts()] == [
        "National Institute of Metrology", "Provincial Institute of Metrology",
        "Acme Calibration Laboratory"]
    main = page.inner_text("main")
    assert "In service" in main and "Calibration valid" in main
    assert _certificate(site) in main
    assert_accessible(page)
    shot(page, "standard")

    page.get_by_role("link", name="Traceability chain").click()
    page.wait_for_url(re.compile(r".*/traceability.*"))
    svg = page.locator("svg[role=img]")
    assert svg.is_visible()
    title_id = svg.get_attribute("aria-labelledby").split()[0]
    assert "LAB-CAL-01" in page.locator(f"#{title_id}").text_content()
    assert "Unbroken chain to the national primary standards NMI-JVS-1" in page.inner_text(
        "main")
    links = page.locator("table.chain-links tbody tr")
    assert links.count() == 2  # LAB-CAL-01 → PROV-DCV-1 → NMI-JVS-1
    assert "valid at the time of use" in links.first.inner_text()
    assert links.locator("a[href^='/verify/']").count() >= 1
    assert_accessible(page)
    shot(page, "traceability")

    page.goto(f"{site.url}/standards/LAB-CAL-01")
    page.locator("dl.facts").get_by_role("link", name="Acme Calibration Laboratory").click()
    page.wait_for_url(f"{site.url}/organisations/ACAL")
    assert page.get_by_role("heading", level=1).inner_text() == "Acme Calibration Laboratory"
    main = page.inner_text("main")
    assert "LAB-CAL-01" in main and "LAB-REF-01" in main and "DC current" in main
    assert "ACAL-DRAFT-1" not in main  # a draft is not public
    assert_accessible(page)
    shot(page, "organisation")


def test_bad_search_input_is_answered_beside_the_field(page: Any, site: Any) -> None:
    for value, words in (("abc", "Enter a number"), ("NaN", "finite number"),
                         ("1e999", "between -10^30 and 10^30")):
        page.goto(f"{site.url}/?quantity=DC+voltage&q=fluke&value={value}")
        message = page.locator("#e-value")
        assert words in message.inner_text()
        assert page.get_by_label("Value in range").get_attribute("aria-invalid") == "true"
        assert page.get_by_label("Words").input_value() == "fluke"  # the rest is kept
        assert page.get_by_label("Quantity").input_value() == "DC voltage"
        assert page.get_by_role("alert").is_visible()
        assert page.locator("table.results").count() == 0
    page.goto(f"{site.url}/?max_uncertainty=0.001")
    assert "Give a value as well" in page.locator("#e-max_uncertainty").inner_text()
    page.goto(f"{site.url}/?max_relative_uncertainty=-1&q=" + "x" * 201)
    assert "cannot be negative" in page.locator("#e-max_relative_uncertainty").inner_text()
    assert "at most 200 characters" in page.locator("#e-q").inner_text()
    assert_accessible(page)
    shot(page, "search-error")


def test_verify_by_typed_number_and_by_the_qr_link(page: Any, site: Any) -> None:
    number = _certificate(site)
    page.goto(f"{site.url}/")
    page.get_by_role("link", name="Verify a certificate").click()
    page.wait_for_url(f"{site.url}/verify")
    page.get_by_label("Certificate number").fill(number)
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{site.url}/verify/{number}")
    verdict = page.locator(".verdict")
    assert "Genuine and current" in verdict.inner_text()
    main = page.inner_text("main")
    for shown in ("Issued", "Provincial Institute of Metrology", "valid", "consistent"):
        assert shown in main
    content_hash = page.locator("code.hash").inner_text()
    assert re.fullmatch(r"[0-9a-f]{64}", content_hash)
    assert_accessible(page)
    shot(page, "verify")

    # the QR code's target, as printed on the certificate
    pdf = site.api.call("GET", f"/certificates/{number}/pdf", who="prov.sign")
    text = re.sub(r"\s+", "", "".join(p.extract_text() for p in PdfReader(
        io.BytesIO(pdf)).pages))
    printed = f"{site.settings.public_url}/verify/{number}"  # the QR code's target
    assert f"Verifythiscertificate:{printed}" in text
    page.goto(f"{site.url}{urlsplit(printed).path}")
    assert "Genuine and current" in page.locator(".verdict").inner_text()
    # an old QR code (the JSON address) is sent to the same page
    page.goto(f"{site.url}/api/v1/verify/{number}")
    assert page.url == f"{site.url}/verify/{number}"
    assert "Genuine and current" in page.locator(".verdict").inner_text()
    page.get_by_role("link", name="Traceability chain").click()
    page.wait_for_url(re.compile(r".*/traceability.*"))
    assert page.locator("svg[role=img]").is_visible()


def test_a_wrong_number_gets_a_page_a_person_can_read(page: Any, site: Any) -> None:
    response = page.goto(f"{site.url}/verify/NO-SUCH-2026-1")
    assert response is not None and response.status == 404
    assert page.get_by_role("heading", level=1).inner_text() == "No certificate with this number"
    assert "Check the number on the certificate" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("Certificate number").is_visible()  # try again right here
    assert_accessible(page)
    shot(page, "verify-not-found")
    # the same for a wrong number typed in, other people's drafts and absurd paths
    for path in ("/standards/ACAL-DRAFT-1", "/standards/ACAL-DRAFT-1/traceability",
                 "/capabilities/99999999999", "/capabilities/NaN", "/organisations/NOPE",
                 "/certificates/NO-SUCH-1/traceability",
                 f"/certificates/{_certificate(site)}/traceability?revision=abc"):
        response = page.goto(f"{site.url}{path}")
        assert response is not None and response.status == 404, path
        assert page.get_by_role("heading", level=1).inner_text() == "Not found", path


def test_a_draft_is_seen_by_its_organisation_only(page: Any, site: Any) -> None:
    response = page.goto(f"{site.url}/standards/ACAL-DRAFT-1")
    assert response is not None and response.status == 404
    sign_in(page, site.url, "dave", PASSWORD)  # who entered it, in its laboratory
    response = page.goto(f"{site.url}/standards/ACAL-DRAFT-1")
    assert response is not None and response.status == 200
    assert "Not published yet" in page.get_by_role("note").inner_text()
    sign_in(page, site.url, "frank", PASSWORD)  # a customer: another organisation
    response = page.goto(f"{site.url}/standards/ACAL-DRAFT-1")
    assert response is not None and response.status == 404


def test_the_ledger_of_national_primary_standards(page: Any, site: Any) -> None:
    page.goto(f"{site.url}/ledger?page=abc")  # an edited link: the first page
    assert page.get_by_role("heading", level=1).inner_text() == "National primary standards"
    page.goto(f"{site.url}/")
    page.get_by_role("link", name="National standards").click()
    page.wait_for_url(f"{site.url}/ledger")
    assert page.get_by_role("heading", level=1).inner_text() == "National primary standards"
    rows = page.locator("table.ledger tbody tr")
    assert sorted(r.locator("td").first.inner_text() for r in rows.all()) == [
        "NMI-ITS-1", "NMI-JVS-1", "NMI-QHR-1"]
    jvs = rows.filter(has_text="NMI-JVS-1")
    assert "National Institute of Metrology" in jvs.inner_text()
    assert "In service" in jvs.inner_text()
    assert jvs.locator("a[href^='/capabilities/']").count() == 1  # NMI's DC voltage CMC
    assert_accessible(page)
    shot(page, "ledger")


def test_chinese_labels_after_the_language_switch(page: Any, site: Any) -> None:
    page.goto(f"{site.url}/?quantity=DC+voltage")
    page.get_by_role("link", name="中文").click()
    page.wait_for_url(re.compile(r".*quantity=DC\+voltage"))
    assert page.get_by_label("量", exact=True).input_value() == "DC voltage"
    assert page.get_by_role("button", name="搜索").is_visible()
    assert "找到结果：3 条" in page.get_by_role("status").first.inner_text()
    assert "直流电压" in page.locator("table.results").inner_text()
    shot(page, "search-zh")
    page.goto(f"{site.url}/verify/{_certificate(site)}")
    assert "真实有效" in page.locator(".verdict").inner_text()
    page.goto(f"{site.url}/ledger")
    assert page.get_by_role("heading", level=1).inner_text() == "国家基准"


@pytest.mark.viewport(390, 844)
def test_phone_width(page: Any, site: Any) -> None:
    for path in ("/?quantity=DC+voltage&value=10", "/?what=standards",
                 f"/verify/{_certificate(site)}", "/standards/LAB-CAL-01/traceability",
                 "/ledger", "/organisations/ACAL"):
        page.goto(f"{site.url}{path}")
        _no_sideways_scroll(page)
        if path.startswith("/?quantity"):
            shot(page, "search-phone")
    page.goto(f"{site.url}/verify/{_certificate(site)}")
    shot(page, "verify-phone")


def test_a_standard_found_out_of_tolerance_shows_everywhere(page: Any, site: Any) -> None:
    """Last in this module: it changes the demo's chain. The provincial reference multimeter is
    declared out of tolerance since before it calibrated the laboratory's calibrator: that
    certificate is flagged (under review) and its link in the chain is broken."""
    number = _certificate(site)
    since = (datetime.now(UTC) - timedelta(days=40)).isoformat()
    site.api.call("POST", "/standards/PROV-DCV-1/status", who="prov.review", body={
        "status": "out_of_tolerance", "reason": "found 10 µV high at 10 V",
        "effective_at": since, "error_absolute": "0.00001", "impact_since": since})
    page.goto(f"{site.url}/verify/{number}")
    verdict = page.locator(".verdict")
    assert "Genuine, but under review" in verdict.inner_text()
    assert "Genuine and current" not in verdict.inner_text()
    assert "PROV-DCV-1" in page.locator("ul.flags").inner_text()
    assert_accessible(page)
    shot(page, "verify-under-review")

    page.goto(f"{site.url}/standards/LAB-CAL-01/traceability")
    assert "The chain is broken" in page.inner_text("main")
    broken = page.locator("table.chain-links tbody tr.broken")
    assert broken.count() == 1 and "out of tolerance at the time of use" in broken.inner_text()
    edge = page.locator("svg g.edge.bad")  # drawn dashed and marked ✗, not by colour alone
    assert edge.count() == 1 and "✗" in edge.locator("text").first.text_content()
    assert_accessible(page)
    shot(page, "traceability-broken")

    page.goto(f"{site.url}/standards/PROV-DCV-1")
    assert "Out of tolerance" in page.locator(".lead").inner_text()
    assert "not in service" in page.inner_text("main")


def test_a_withdrawn_certificate_says_so_and_breaks_the_chain(page: Any, site: Any) -> None:
    """Changes the chain too: the national institute withdraws the certificate of the
    provincial SPRT, the standard behind the laboratory's reference thermometer."""
    number = site.api.call("GET", "/standards/PROV-SPRT-1")["current_calibration"][
        "certificate_number"]
    site.api.call("POST", f"/certificates/{number}/withdraw", who="nmi.sign",
                  body={"reason": "wrong fixed-point cell recorded"})
    page.goto(f"{site.url}/verify/{number}")
    assert "Genuine, but withdrawn" in page.locator(".verdict").inner_text()
    assert "Withdrawn" in page.locator("dl.facts").inner_text()
    page.goto(f"{site.url}/standards/LAB-REF-01/traceability")
    broken = page.locator("table.chain-links tbody tr.broken")
    assert "its certificate was withdrawn" in broken.inner_text()
    # a typed number never leads off this site
    page.goto(f"{site.url}/verify?number=//evil.example/x")
    assert page.url.startswith(f"{site.url}/verify")
    assert page.get_by_role("heading", level=1).inner_text() == "No certificate with this number"
