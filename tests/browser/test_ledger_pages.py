"""The primary-standards ledger in a real browser, against the platform seeded as ``labctl
demo`` seeds it: the national institute's data entry person opens the ledger record of the
Josephson standard from the public ledger, enters it and a core component through the forms,
sees the history; the public ledger then shows its class, component and the report's chart;
the pages pass axe. A provincial reviewer finds the forms disabled with the reason."""

from __future__ import annotations

from typing import Any

from labctl.cli.demo import PASSWORD
from tests.browser.conftest import assert_accessible, shot, sign_in


def test_the_holder_enters_a_record_and_the_public_ledger_shows_it(page: Any,
                                                                   portal: Any) -> None:
    sign_in(page, portal.url, "nmi.entry", PASSWORD)
    page.goto(f"{portal.url}/ledger")
    page.locator("tr", has_text="NMI-JVS-1").get_by_role(
        "link", name="Edit the ledger record").click()
    page.wait_for_url(f"{portal.url}/staff/ledger/NMI-JVS-1")
    assert_accessible(page)
    page.get_by_label("Metrology area").select_option("electricity-magnetism")
    page.get_by_label("Self-reliance").select_option("partly")
    page.get_by_label("Risks").fill("Cryocooler from a single foreign supplier")
    page.get_by_role("button", name="Save the record").click()
    page.wait_for_url(f"{portal.url}/staff/ledger/NMI-JVS-1?done=record")
    assert page.get_by_role("status").inner_text() == "The ledger record is saved."
    form = page.locator("form[action='/staff/ledger/NMI-JVS-1/components']")
    form.get_by_label("Component").fill("Pulse-tube cryocooler")
    form.get_by_label("Function").fill("cools the array to 4 K")
    form.get_by_label("Origin").select_option("imported")
    form.get_by_label("Supplier", exact=True).fill("Cryo GmbH")
    form.get_by_label("Supplier's country").fill("DE")
    form.get_by_label("Domestic alternative").select_option("in_development")
    form.get_by_role("button", name="Save the component").click()
    page.wait_for_url(f"{portal.url}/staff/ledger/NMI-JVS-1?done=component")
    history = page.locator("table.ledger-history tbody tr")
    added = history.filter(has_text="Pulse-tube cryocooler")
    assert added.count() == 1 and "nmi.entry" in added.inner_text()
    assert history.filter(has_text="Risks").inner_text().endswith(
        "Cryocooler from a single foreign supplier")
    assert_accessible(page)
    shot(page, "ledger-record")
    page.goto(f"{portal.url}/ledger")
    row = page.locator("table.ledger tbody tr", has_text="NMI-JVS-1")
    assert "Partly self-reliant" in row.inner_text()
    assert "Pulse-tube cryocooler" in row.inner_text()
    chart = page.locator("svg.ledger-chart")
    assert chart.get_attribute("role") == "img"
    assert "Electricity and magnetism: total 1; fully self-reliant 0, partly 1, not 0" in \
        chart.locator("desc").text_content()
    assert page.get_by_role("link", name="Download CSV").get_attribute("href") == \
        "/api/v1/ledger/aggregates.csv"
    assert_accessible(page)
    shot(page, "ledger-report")


def test_another_institute_sees_the_forms_disabled(page: Any, portal: Any) -> None:
    sign_in(page, portal.url, "prov.review", PASSWORD)
    page.goto(f"{portal.url}/staff/ledger/NMI-QHR-1")
    assert "may change its ledger record" in page.locator("#why-ledger").inner_text()
    assert page.get_by_role("button", name="Save the record").is_disabled()
    assert_accessible(page)
