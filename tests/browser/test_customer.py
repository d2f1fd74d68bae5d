"""The customer's side in a real browser: registering a company through the form (errors
said next to the field, the account usable at once), the customer's dashboard and
certificates (PDF, DCC, the verification link), and what another customer may not see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from labctl.cli.demo import CUST, LAB, PASSWORD, _point, issue_certificate
from labctl.platform.models.base import check_key
from labctl.platform.pages.my import form_key
from tests.browser.conftest import assert_accessible, shot, sign_in

NEW_PASSWORD = "Calibrate-2026!"


@pytest.fixture(autouse=True)
def patient(page: Any) -> None:
    """Longer waits than the fixture's 5 s: these pages run the desk's services on a machine
    shared with other jobs (a load of 5-7 on two cores was seen)."""
    page.set_default_timeout(15_000)


@pytest.fixture(scope="module")
def frank_certificate(portal: Any) -> str:
    """A certificate LAB issued to frank's company CUST through the API (draft by alice,
    results by the bench's station, checked by bob, issued by carol)."""
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=4)
    cert = issue_certificate(
        portal.api, LAB, item=None, standards=["LAB-CAL-01"], when=when,
        description="Digital multimeter", quantity="DC voltage",
        points=[_point("DC voltage", "DC voltage", "V", "10 V", 10.0, 10.0, 10.00002, 4e-5)],
        customer=("Example Instruments Ltd", CUST), staff=("alice", "bob", "carol"),
        procedure="dmm-dcv-direct",
        item_fields={"item_manufacturer": "Keysight", "item_model": "34465A",
                     "item_serial_number": "MY-60012345"}, key="my-cert-1")
    return str(cert["number"])


def test_register_a_company_errors_next_to_fields_then_account_works(page: Any,
                                                                      portal: Any) -> None:
    page.goto(f"{portal.url}/signin")
    page.get_by_role("link", name="Register as a customer").click()
    page.wait_for_url(f"{portal.url}/register")
    assert_accessible(page)
    page.get_by_label("Organisation name").fill("Precision Gauges Co.")
    page.get_by_label("Address (optional)").fill("12 Harbour Street\nPortsmouth")
    page.get_by_label("Your name").fill("Grace Hopper")
    page.get_by_label("E-mail address").fill("grace@not-an-address")
    page.get_by_label("Username", exact=True).fill("frank")  # taken
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    # one refusal at a time, said next to its field; what was typed is kept (never passwords)
    error = page.locator("#email-error")
    assert "valid e-mail address" in error.inner_text()
    assert page.get_by_label("E-mail address").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("Organisation name").input_value() == "Precision Gauges Co."
    assert page.get_by_label("Password", exact=True).input_value() == ""
    assert_accessible(page)
    shot(page, "register-error")

    page.get_by_label("E-mail address").fill("grace@gauges.example")
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    assert "already taken" in page.locator("#username-error").inner_text()

    page.get_by_label("Username", exact=True).fill("grace")
    page.get_by_label("Password", exact=True).fill("grace-grace-grace")  # contains the username
    page.get_by_label("Password again").fill("grace-grace-grace")
    page.get_by_role("button", name="Create my account").click()
    assert "must not contain your username" in page.locator("#password-error").inner_text()

    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Password again").fill(NEW_PASSWORD + "x")
    page.get_by_role("button", name="Create my account").click()
    assert "not the same" in page.locator("#password_again-error").inner_text()

    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    page.wait_for_url(f"{portal.url}/my?welcome=1")
    assert "customer account is ready" in page.get_by_role("status").inner_text()
    assert page.get_by_text("Precision Gauges Co.").is_visible()
    assert page.get_by_text("Grace Hopper").is_visible()  # signed in at once

    # the account is real: the API knows grace as a customer of a new industry organisation
    token = httpx.post(f"{portal.url}/api/v1/auth/token",
                       json={"username": "grace", "password": NEW_PASSWORD}).json()
    me = httpx.get(f"{portal.url}/api/v1/users/me",
                   headers={"Authorization": f"Bearer {token['access_token']}"}).json()
    assert me["full_name"] == "Grace Hopper" and me["email"] == "grace@gauges.example"
    [role] = me["roles"]
    assert role["role"] == "customer"
    org = portal.api.call("GET", f"/organisations/{role['organisation_code']}", who="admin")
    assert org["name"] == "Precision Gauges Co." and org["level"] == "industry"
    assert org["parent_code"] == "NMI"
    # the four refused attempts wrote nothing: one organisation of that name, the new one
    orgs = portal.api.call("GET", "/organisations", who="admin")
    orgs = orgs["items"] if isinstance(orgs, dict) else orgs
    assert [o["code"] for o in orgs if o["name"] == "Precision Gauges Co."] == [org["code"]]
    # organisation, person and role were written with their audit event (rows explained)
    check = portal.api.call("GET", "/audit/verify", who="admin")
    assert check["ok"], check


def test_registration_without_the_forms_csrf_value_creates_nothing(portal: Any) -> None:
    with httpx.Client(base_url=portal.url) as client:
        r = client.post("/register", data={
            "organisation_name": "Forged Ltd", "contact_name": "Mallory",
            "email": "m@forged.example", "username": "mallory", "password": NEW_PASSWORD,
            "password_again": NEW_PASSWORD}, headers={"Accept": "text/html"})
        assert r.status_code == 403
    r = httpx.post(f"{portal.url}/api/v1/auth/token",
                   json={"username": "mallory", "password": NEW_PASSWORD})
    assert r.status_code == 401


def test_my_certificates_list_download_and_verify(page: Any, portal: Any,
                                                  frank_certificate: str) -> None:
    sign_in(page, portal.url, "frank", PASSWORD)
    page.goto(f"{portal.url}/my/certificates")
    row = page.get_by_role("row").filter(has_text=frank_certificate)
    assert "Issued" in row.inner_text() and "MY-60012345" in row.inner_text()
    assert_accessible(page)
    shot(page, "my-certificates")
    with page.expect_download() as pdf:
        row.get_by_role("link", name=f"PDF of certificate {frank_certificate}").click()
    assert pdf.value.path().read_bytes().startswith(b"%PDF")
    with page.expect_download() as dcc:
        row.get_by_role("link", name="Digital calibration certificate").click()
    assert b"digitalCalibrationCertificate" in dcc.value.path().read_bytes()
    href = row.get_by_role("link", name=f"Verify certificate {frank_certificate}") \
        .get_attribute("href")
    assert href == f"/verify/{frank_certificate}"


def test_another_customer_cannot_download_franks_certificate(page: Any, portal: Any,
                                                             frank_certificate: str) -> None:
    sign_in(page, portal.url, "grace", NEW_PASSWORD)  # registered by the first test
    page.goto(f"{portal.url}/my/certificates")
    assert frank_certificate not in page.inner_text("main")
    response = page.goto(f"{portal.url}/my/certificates/{frank_certificate}/pdf")
    assert response is not None and response.status == 403
    assert page.get_by_role("heading", level=1).inner_text() == "Not allowed"


def test_form_keys_are_always_keys_the_desk_accepts() -> None:
    """A booking form's one-time key is the desk's idempotency key: one the service refused
    (a url-safe token starting with '-' or '_', about 1 form in 30) made the booking fail."""
    for _ in range(2000):
        key = form_key()
        assert check_key("Idempotency-Key", key) == key
