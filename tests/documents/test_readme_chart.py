"""The README's control chart is what ``docs/make_control_chart.py`` draws today: regenerated
here and compared with the committed file, so a change to the chart or the engine that is
not re-drawn fails (run ``python docs/make_control_chart.py`` and commit the picture)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from lxml import etree

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docs" / "make_control_chart.py"
NS = {"s": "http://www.w3.org/2000/svg"}


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_control_chart", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_chart_is_current() -> None:
    script = _script()
    committed = script.OUTPUT.read_text(encoding="utf-8")
    assert script.make_chart() == committed, (
        "docs/img/control_chart.svg is stale: run python docs/make_control_chart.py")


def test_the_drift_is_caught_on_the_picture() -> None:
    # The README shows what the issue promises: a drifting calibrator's checks fire the
    # chart's rules and end beyond its tolerance, after a baseline in control.
    script = _script()
    data = script.chart_data()
    assert data.n == script.CHECKS
    svg = etree.fromstring(script.make_chart().encode())
    checks = svg.xpath(".//s:g[contains(concat(' ', @class, ' '), ' check ')]", namespaces=NS)
    assert len(checks) == data.n
    baseline = checks[slice(*script.BASELINE)]
    assert all("beyond_3_sigma" not in g.get("data-rules") for g in baseline)
    assert "out_of_tolerance" in checks[-1].get("data-rules").split()
    assert "beyond_3_sigma" in checks[-1].get("data-rules").split()
    desc = svg.find("s:desc", NS).text
    assert "Beyond the tolerance 10 V ± 20 µV" in desc and "Drift fit:" in desc
