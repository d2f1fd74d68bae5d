"""Browser fixtures: Debian's Chromium (``/usr/bin/chromium``) driven headless by Playwright
for Python, against the real app on 127.0.0.1.

No browser is downloaded: Playwright launches the system Chromium by ``executable_path``.
Without it the browser tests are skipped with the reason, unless ``LABCTL_REQUIRE_BROWSER`` is
set (``.ci/run`` sets it after installing the package), when they fail. The browser reaches
nothing but 127.0.0.1 (every other host name resolves to nothing).

Each test gets a fresh context (cookies, language) and page with short default timeouts, and
fails if the page logged a script error or a content-security-policy refusal: an asset that
the policy blocks is a broken page. ``shot(page, name)`` saves a screenshot under
``screenshots/`` (or ``LABCTL_SCREENSHOTS``); ``assert_accessible(page)`` runs axe-core.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("LABCTL_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost"]
SCREENSHOTS = Path(os.environ.get("LABCTL_SCREENSHOTS",
                                  Path(__file__).resolve().parents[2] / "screenshots"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.timeout(60, method="signal"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Per module, not per session: Playwright's sync API keeps an event loop running in the
    main thread while it is open, and later tests that call ``asyncio.run`` (the simulators'
    async servers) must find none."""
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        reason = (f"Debian's Chromium is not installed ({CHROMIUM}); install it with "
                  "'apt-get install --no-install-recommends chromium'")
        if os.environ.get("LABCTL_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=20_000)
        try:
            yield chromium
        finally:
            chromium.close()


class PageProblems:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def console(self, message: Any) -> None:
        text = message.text
        if message.type == "error" and not re.search(r"status of (4\d\d|5\d\d)", text):
            self.errors.append(f"console: {text}")

    def page_error(self, error: Any) -> None:
        self.errors.append(f"script error: {error}")


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    marker = request.node.get_closest_marker("viewport")
    width, height = marker.args if marker else (1280, 900)
    context = browser.new_context(viewport={"width": width, "height": height},
                                  locale="en-GB", accept_downloads=True)
    context.set_default_timeout(5_000)
    context.set_default_navigation_timeout(10_000)
    pg = context.new_page()
    problems = PageProblems()
    pg.on("console", problems.console)
    pg.on("pageerror", problems.page_error)
    try:
        yield pg
    finally:
        context.close()
    assert not problems.errors, "the page reported problems:\n" + "\n".join(problems.errors)


def shot(page: Any, name: str) -> Path:
    """A full-page screenshot ``screenshots/<name>.png`` (kept for people to look at)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def assert_accessible(page: Any, *, impacts: tuple[str, ...] = ("serious", "critical")) -> None:
    """axe-core (WCAG 2 A/AA rules) finds nothing of ``impacts`` on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag",
                                                   "values": ["wcag2a", "wcag2aa"]}})
    bad = [v for v in results.response["violations"] if v.get("impact") in impacts]
    assert not bad, "accessibility problems:\n" + "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(n["target"]) for n in v["nodes"][:3]) for v in bad)


def sign_in(page: Any, base_url: str, username: str, password: str) -> None:
    """Signs in through the sign-in form, as a person does."""
    page.goto(f"{base_url}/signin")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The platform as ``labctl demo`` seeds it (national institute → provincial institute →
    laboratory ``LAB`` and customer ``CUST``; people alice (technician), bob (checker), carol
    (approver), dave (data entry), erin (reviewer), frank (customer), admin; password
    ``demo.PASSWORD``), with the laboratory's simulated bench ``bench-1``, served on
    127.0.0.1. ``portal.url`` is the base the browser opens."""
    from tests.platform.live_bench import live_bench

    with live_bench(tmp_path_factory.mktemp("portal"), seed=11) as bench:
        yield bench


def fill_run_start(page: Any, *, checker: str, ranges: str, settle_time: str,
                   serial: str | None = None) -> None:
    """Fills the start form of ``/staff/runs`` for a DC-voltage run (the procedure chosen
    first: only its parameters are shown) and starts it."""
    page.get_by_label("Checker (username)").fill(checker)
    if serial is not None:
        page.get_by_label("Item serial number").fill(serial)
    page.get_by_label("Procedure").select_option("dmm-dcv-direct")
    # by id: several procedures have a parameter of the same label (each its own fieldset)
    page.locator("#p-dmm-dcv-direct-ranges").fill(ranges)
    page.locator("#p-dmm-dcv-direct-settle_time").fill(settle_time)
    page.get_by_role("button", name="Start").click()
