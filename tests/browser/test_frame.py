"""The frame every page shares, in a real browser: sign in and out through the form, the
language switch, error pages a person can read, CSRF and the content security policy."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from labctl.cli.demo import PASSWORD
from tests.browser.conftest import assert_accessible, shot, sign_in


def test_sign_in_wrong_password_then_right_then_out(page: Any, portal: Any) -> None:
    page.goto(f"{portal.url}/signin")
    page.get_by_label("Username").fill("frank")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    assert "username or password is not right" in alert.inner_text()
    assert page.get_by_label("Username").input_value() == "frank"  # kept, the password not
    assert page.get_by_label("Password").input_value() == ""
    assert_accessible(page)
    shot(page, "signin-error")

    sign_in(page, portal.url, "frank", PASSWORD)
    assert page.get_by_text("Frank Meyer").is_visible()
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["labctl_session"]["httpOnly"] is True
    assert cookies["labctl_session"]["sameSite"] == "Lax"

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{portal.url}/")
    assert page.get_by_role("link", name="Sign in").is_visible()
    # the token behind the cookie is revoked, not merely forgotten by the browser
    token = cookies["labctl_session"]["value"]
    me = httpx.get(f"{portal.url}/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401


def test_language_switch_shows_chinese_and_remembers_it(page: Any, portal: Any) -> None:
    page.goto(f"{portal.url}/signin")
    page.get_by_role("link", name="中文").click()
    page.wait_for_url(f"{portal.url}/signin")
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    assert page.get_by_role("heading", level=1).inner_text() == "登录"
    page.goto(f"{portal.url}/no/such/page")
    assert page.get_by_role("heading", level=1).inner_text() == "未找到"
    page.get_by_role("link", name="English").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Not found"


def test_unknown_page_is_a_page_for_people_and_json_for_programs(page: Any, portal: Any) -> None:
    response = page.goto(f"{portal.url}/no/such/page")
    assert response is not None and response.status == 404
    assert page.get_by_role("heading", level=1).inner_text() == "Not found"
    assert "Check the address" in page.inner_text("main")
    assert_accessible(page)
    shot(page, "not-found")
    api = httpx.get(f"{portal.url}/api/v1/no/such", headers={"Accept": "text/html"})
    assert api.status_code == 404 and api.json()["error"] == "NotFoundError"


def test_forms_without_the_pages_csrf_value_change_nothing(portal: Any) -> None:
    with httpx.Client(base_url=portal.url) as client:
        # no csrf field: refused before the password is even looked at (no failure counted)
        r = client.post("/signin", data={"username": "frank", "password": PASSWORD},
                        headers={"Accept": "text/html"})
        assert r.status_code == 403 and "labctl_session" not in r.cookies
        page = client.get("/signin", headers={"Accept": "text/html"})
        csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
        # from another site, even with the right value
        r = client.post("/signin", data={"username": "frank", "password": PASSWORD,
                                         "csrf": csrf},
                        headers={"Origin": "http://evil.example", "Accept": "text/html"})
        assert r.status_code == 403 and "labctl_session" not in r.cookies
        r = client.post("/signin", data={"username": "frank", "password": PASSWORD,
                                         "csrf": csrf, "next": "//evil.example/x"},
                        headers={"Origin": portal.url})
        assert r.status_code == 303 and r.headers["location"] == "/"


@pytest.mark.viewport(390, 844)
def test_sign_in_page_fits_a_phone(page: Any, portal: Any) -> None:
    page.goto(f"{portal.url}/signin")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    assert_accessible(page)
