"""The organisation page's evaluation block (filled by the service desk's public aggregate):
shown with its count, the mean per dimension and the distribution when the page is given
``evaluation``, absent when it is None. Rendered without a server or browser."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from labctl.platform.pages.public import view
from labctl.platform.pages.render import environment


def _render(evaluation: dict[str, Any] | None, language: str = "en") -> str:
    org = SimpleNamespace(code="ACAL", name="Acme Calibration Laboratory", level="local",
                          address="")
    public = SimpleNamespace(code="ACAL", name=org.name, level=SimpleNamespace(value="local"),
                             region="", accreditation="")
    empty = SimpleNamespace(total=0, items=[])
    return environment(language).get_template("public/organisation.html").render(
        request=None, lang=language, csrf="x", page_title="", current_path="/",
        current_url="/", user=None, org=org, o=public, path=[org], below=[], view=view,
        standards=empty, cmcs=empty, evaluation=evaluation)


def test_the_block_shows_count_means_and_distribution() -> None:
    evaluation = {"count": 4, "dimensions": [
        {"name": "Technical competence", "mean": 4.25, "distribution": [0, 0, 1, 1, 2]},
        {"name": "Timeliness", "mean": 3.0, "distribution": [1, 0, 2, 0, 1]}]}
    html = _render(evaluation)
    assert "Customer evaluations" in html and "4 evaluations of completed orders" in html
    assert "Technical competence" in html and "4.2" in html and "3.0" in html
    assert html.count('data-label="Rated 5"') == 2
    assert "客户评价" in _render(evaluation, "zh")


def test_no_block_without_evaluations() -> None:
    assert "Customer evaluations" not in _render(None)
