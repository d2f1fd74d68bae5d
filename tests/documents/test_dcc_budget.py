"""A point's effective degrees of freedom and uncertainty budget in the DCC: schema-valid,
digits as posted, stated where a reader of the DCC looks for the error's uncertainty."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from lxml import etree

from labctl.errors import ValidationError
from labctl.platform.documents.dcc import build_dcc
from labctl.platform.documents.model import BudgetLine, CertificateDocument
from labctl.platform.documents.schema import validate_dcc

NS = {"dcc": "https://ptb.de/dcc", "si": "https://ptb.de/si"}
D = Decimal

BUDGET = (
    BudgetLine("V_ind", D("10.000012345678901"), D("0.0000012"), "normal", D("1"),
               D("0.0000012"), unit="V", dof=D("9")),
    BudgetLine("g_cal", D("0.0000031"), D("0.00000045"), "normal", D("-10.0000031"),
               D("0.0000045"), dof=D("57.5")),  # relative: no unit posted
    BudgetLine("dV_res", D("0"), D("0.00000028867513459"), "rectangular", D("1"),
               D("0.0000002886751345"), unit="V"),  # infinite dof
)


def _with_budget(doc: CertificateDocument, *, dof: Decimal | None,
                 budget: tuple[BudgetLine, ...] = BUDGET) -> CertificateDocument:
    table = doc.results[0]
    first = replace(table.points[0], dof=dof, budget=budget)
    return replace(doc, results=(replace(table, points=(first, *table.points[1:])),
                                 *doc.results[1:]))


def _error(root: etree._Element, n: int = 0) -> etree._Element:
    rows = root.findall(".//dcc:result/dcc:data/dcc:list/dcc:list", NS)
    (err,) = rows[n].findall("dcc:quantity[@refType='basic_measurementError']", NS)
    return err


def _meta(err: etree._Element, ref_type: str) -> list[etree._Element]:
    return err.findall(f"dcc:measurementMetaData/dcc:metaData[@refType='{ref_type}']", NS)


@pytest.mark.parametrize("form", ["expandedUnc", "expandedMU"])
def test_dof_and_budget_are_stated_on_the_error_and_the_dcc_validates(certificate, form):
    xml = build_dcc(_with_budget(certificate, dof=D("23.87")), uncertainty_form=form)
    validate_dcc(xml)  # build_dcc validated too: this is the document as bytes, again
    root = etree.fromstring(xml)
    err = _error(root)
    # the conformity statement stays first and unchanged
    metas = err.findall("dcc:measurementMetaData/dcc:metaData", NS)
    assert [m.get("refType") for m in metas] == [
        "basic_conformity", "labctl_effectiveDegreesOfFreedom", "labctl_uncertaintyBudget"]
    (dof,) = _meta(err, "labctl_effectiveDegreesOfFreedom")
    # ν_eff = 23.87 is stated truncated, as GUM G.6.4 uses it: 23
    assert dof.findtext("dcc:data/dcc:quantity/si:real/si:value", namespaces=NS) == "23"
    assert dof.findtext("dcc:data/dcc:quantity/si:real/si:unit", namespaces=NS) == r"\one"

    (budget,) = _meta(err, "labctl_uncertaintyBudget")
    lines = budget.findall("dcc:data/dcc:list/dcc:list[@refType='labctl_budgetLine']", NS)
    assert [ln.findtext("dcc:name/dcc:content", namespaces=NS) for ln in lines] == [
        "V_ind", "g_cal", "dV_res"]
    v_ind, g_cal, dv_res = lines
    # a line with a unit: estimate ± u as si:real with si:standardMU, digits as posted
    real = v_ind.find("dcc:quantity[@refType='labctl_budgetEstimate']/si:real", NS)
    assert real.findtext("si:value", namespaces=NS) == "10.000012345678901"
    assert real.findtext("si:unit", namespaces=NS) == r"\volt"
    mu = real.find("si:measurementUncertaintyUnivariate/si:standardMU", NS)
    assert mu.findtext("si:valueStandardMU", namespaces=NS) == "0.0000012"
    assert mu.findtext("si:distribution", namespaces=NS) == "normal"
    assert v_ind.findtext("dcc:quantity[@refType='labctl_budgetSensitivity']/si:real/si:value",
                          namespaces=NS) == "1"
    # contributions are in the unit of the result
    for ln, value in zip(lines, ("0.0000012", "0.0000045", "0.0000002886751345"), strict=True):
        c = ln.find("dcc:quantity[@refType='labctl_budgetContribution']/si:real", NS)
        assert (c.findtext("si:value", namespaces=NS), c.findtext("si:unit", namespaces=NS)) \
            == (value, r"\volt")
    assert v_ind.findtext("dcc:quantity[@refType='labctl_budgetDegreesOfFreedom']/si:real/"
                          "si:value", namespaces=NS) == "9"
    # no unit posted: the numbers as text, not passed off with a unit they lack
    assert g_cal.find("dcc:quantity[@refType='labctl_budgetEstimate']/si:real", NS) is None
    text = g_cal.findtext("dcc:quantity[@refType='labctl_budgetEstimate']/dcc:noQuantity/"
                          "dcc:content", namespaces=NS)
    assert "0.0000031" in text and "0.00000045" in text and "unit not stated" in text
    assert "-10.0000031" in g_cal.findtext(
        "dcc:quantity[@refType='labctl_budgetSensitivity']/dcc:noQuantity/dcc:content",
        namespaces=NS)
    assert dv_res.findtext("dcc:quantity[@refType='labctl_budgetDegreesOfFreedom']/"
                           "dcc:noQuantity/dcc:content", namespaces=NS) == "infinite"
    # labctl's own refTypes are declared
    declared = " ".join(root.xpath("//dcc:refTypeDefinition//dcc:content/text()",
                                   namespaces=NS))
    for tag in ("labctl_uncertaintyBudget", "labctl_budgetLine",
                "labctl_effectiveDegreesOfFreedom", "labctl_budgetContribution"):
        assert f"{tag}:" in declared


def test_a_budget_with_infinite_dof_says_so_and_a_point_without_either_is_unchanged(
        certificate):
    root = etree.fromstring(build_dcc(_with_budget(certificate, dof=None)))
    (dof,) = _meta(_error(root), "labctl_effectiveDegreesOfFreedom")
    assert dof.findtext("dcc:declaration/dcc:content", namespaces=NS).endswith(": infinite")
    assert dof.find("dcc:data", NS) is None
    # the second point posted neither: no dof, no budget, as before
    second = _error(root, 1)
    assert not _meta(second, "labctl_effectiveDegreesOfFreedom")
    assert not _meta(second, "labctl_uncertaintyBudget")
    plain = etree.fromstring(build_dcc(certificate))
    assert not plain.xpath("//*[starts-with(@refType, 'labctl_budget')]")


def test_a_point_with_dof_only_states_it_even_without_a_specification(certificate):
    table = certificate.results[0]
    bare = replace(table.points[0], lower_limit=None, upper_limit=None, conformity=None,
                   dof=D("0.5"))
    doc = replace(certificate, results=(replace(table, points=(bare,)),))
    err = _error(etree.fromstring(build_dcc(doc)))
    assert [m.get("refType") for m in err.findall("dcc:measurementMetaData/dcc:metaData",
                                                  NS)] == ["labctl_effectiveDegreesOfFreedom"]
    assert err.findtext(".//dcc:metaData/dcc:data/dcc:quantity/si:real/si:value",
                        namespaces=NS) == "0.50"


@pytest.mark.parametrize(("change", "field"), [
    ({"estimate": D("NaN")}, "results[0].points[0].budget[1].estimate"),
    ({"contribution": D("-0.1")}, "results[0].points[0].budget[1].contribution"),
    ({"unit": "furlong"}, "results[0].points[0].budget[1].unit"),
    ({"name": "  "}, "results[0].points[0].budget[1].name"),
    ({"dof": D(0)}, "results[0].points[0].budget[1].dof"),
])
def test_a_bad_budget_line_is_refused_by_field(certificate, change, field):
    bad = (BUDGET[0], replace(BUDGET[1], **change), BUDGET[2])
    with pytest.raises(ValidationError) as caught:
        build_dcc(_with_budget(certificate, dof=D(12), budget=bad))
    assert caught.value.field == field


def test_a_bad_dof_is_refused(certificate):
    with pytest.raises(ValidationError) as caught:
        build_dcc(_with_budget(certificate, dof=D(-3)))
    assert caught.value.field == "results[0].points[0].dof"
