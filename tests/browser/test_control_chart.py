"""The control chart inline in a page under the pages' own Content-Security-Policy, in
Chromium: it draws (nothing blocked, no console error), every check is there, its name and
description reach assistive technology (axe), and a Chinese chart renders too.

The chart is not on a platform page yet (the pages that show it are wired elsewhere), so the
page here is a minimal HTML document served from 127.0.0.1 with the platform's ``HTML_CSP``
header: what the browser must accept is exactly what a platform page will send.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from labctl.platform.pages.chart import control_chart
from labctl.platform.routes.web.headers import HTML_CSP
from tests.documents.checks_data import evaluated

from .conftest import assert_accessible, shot

STYLESHEET = (Path(__file__).resolve().parents[2] / "labctl" / "platform" / "pages" / "static"
              / "labctl.css")


def _page(language: str, *, styled: bool = False) -> bytes:
    _, data = evaluated()
    chart = control_chart(data, language, chart_id=f"chart-{language}")
    link = '<link rel="stylesheet" href="/labctl.css">' if styled else ""
    return (f'<!doctype html><html lang="{language}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"{link}<title>Checks of LAB-CAL-01</title></head><body><main>"
            f"<h1>LAB-CAL-01</h1><figure>{chart}</figure></main></body></html>").encode()


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    pages = {"/en": _page("en"), "/zh": _page("zh"), "/en-styled": _page("en", styled=True),
             "/labctl.css": STYLESHEET.read_bytes()}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path)
            self.send_response(200 if body else 404)
            kind = "text/css" if self.path.endswith(".css") else "text/html; charset=utf-8"
            self.send_header("Content-Type", kind)
            self.send_header("Content-Security-Policy", HTML_CSP)
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_chart_draws_under_the_page_policy(page: Any, site: str) -> None:
    csp_refusals: list[str] = []
    page.on("console", lambda m: csp_refusals.append(m.text)
            if "Content Security Policy" in m.text else None)
    page.goto(f"{site}/en")
    svg = page.locator("svg.control-chart")
    box = svg.bounding_box()
    assert box is not None and box["width"] > 600 and box["height"] > 350
    _, data = evaluated()
    assert page.locator("svg.control-chart g.check").count() == data.n
    # The flagged checks are drawn as diamonds and squares: real, visible shapes.
    flagged = page.locator("svg.control-chart g.check.flagged polygon, "
                           "svg.control-chart g.check.flagged rect")
    assert flagged.count() >= 1
    assert flagged.first.bounding_box()["width"] > 4
    name = page.get_by_role("img", name="LAB-CAL-01 · DC voltage 10 V")
    assert name.count() == 1
    assert not csp_refusals
    assert_accessible(page)
    shot(page, "control-chart-en")


@pytest.mark.viewport(390, 844)
def test_chart_fits_a_phone_with_the_pages_stylesheet(page: Any, site: str) -> None:
    page.goto(f"{site}/en-styled")
    box = page.locator("svg.control-chart").bounding_box()
    assert box is not None and box["width"] <= 390
    assert box["height"] == pytest.approx(box["width"] * 440 / 720, rel=0.02)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_chinese_chart_renders(page: Any, site: str) -> None:
    page.goto(f"{site}/zh")
    assert page.locator("svg.control-chart text.ucl-label").text_content() == "上控制限"
    assert page.locator("svg.control-chart text.value-axis").text_content() == "测得值 − 10 V"
    assert_accessible(page)
    shot(page, "control-chart-zh")
