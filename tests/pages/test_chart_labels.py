"""The control chart's words on the pages: English exactly the chart's own, Chinese from the
catalogue with every ``{placeholder}`` kept, the run rules named as the engine names them."""

from __future__ import annotations

import dataclasses
import re

from lxml import etree

from labctl.platform.documents.chart import ChartLabels
from labctl.platform.pages import catalogue
from labctl.platform.pages.chart import chart_labels, control_chart
from labctl.uncertainty.control import RunRule
from tests.documents.checks_data import evaluated

NS = {"s": "http://www.w3.org/2000/svg"}
BRACES = re.compile(r"\{\w+\}")


def test_english_is_the_charts_own_wording() -> None:
    english = chart_labels("en")
    assert english == ChartLabels()
    # The catalogue's rule names are the engine's: a reworded rule must be re-translated.
    assert dict(english.rule_names) == {rule: rule.text for rule in RunRule}


def test_chinese_keeps_every_placeholder() -> None:
    zh = chart_labels("zh")
    en = ChartLabels()
    for f in dataclasses.fields(ChartLabels):
        if f.name == "rule_names":
            continue
        mine, theirs = getattr(zh, f.name), getattr(en, f.name)
        assert sorted(BRACES.findall(mine)) == sorted(BRACES.findall(theirs)), f.name
        if re.search("[A-Za-z]{3}", theirs.replace("En", "")):
            assert mine != theirs, f"{f.name} is not translated"
    for msgid, text in catalogue.translations("zh").items():
        assert sorted(BRACES.findall(msgid)) == sorted(BRACES.findall(text)), msgid


def test_chart_in_chinese() -> None:
    ev, data = evaluated()
    svg = etree.fromstring(str(control_chart(data, "zh", chart_id="zh-chart")).encode())
    assert svg.find(".//s:text[@class='ucl-label']", NS).text == "上控制限"
    assert svg.find(".//s:text[@class='value-axis']", NS).text == "测得值 − 10 V"
    desc = svg.find("s:desc", NS).text
    assert desc.startswith(f"2026-01-05 至 {data.times[-1]:%Y-%m-%d} 共 {data.n} 次核查。")
    assert f"准则“1 个点超出 3σ 控制限”：{len(ev.fired[RunRule.BEYOND_3_SIGMA])} 次核查" in desc
    beyond = svg.xpath(".//s:g[contains(@data-rules, 'beyond_3_sigma')]/s:title", namespaces=NS)
    assert len(beyond) == len(ev.fired[RunRule.BEYOND_3_SIGMA])
    assert all("1 个点超出 3σ 控制限" in t.text for t in beyond)
