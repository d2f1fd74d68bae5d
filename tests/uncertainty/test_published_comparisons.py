"""Published comparisons of data/comparisons.json reproduced by the comparison engine.

Every expected number is read from the file (the published KCRV, u(KCRV), D_i and U_i with
their resolution); the engine computes from the participants' results only. "To the published
digits": the engine's value is within half a unit of the last published digit.
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from labctl.uncertainty import (
    arithmetic_mean,
    linear_degrees_of_equivalence,
    power_moderated_mean,
    weighted_mean,
)

DATA = Path(__file__).parent / "data" / "comparisons.json"
FILE = json.loads(DATA.read_text(encoding="utf-8"))
COMPARISONS = FILE["comparisons"]
ESTIMATORS = {"arithmetic_mean": arithmetic_mean, "power_moderated_mean": power_moderated_mean,
              "weighted_mean": weighted_mean}
IDS = [c["id"] for c in COMPARISONS]


def results(c):
    """x_i, u_i of each result (the file's combination rule: the mean of the ampoules' values
    and of their uncertainties), which of them formed the KCRV, and the entry names."""
    rows = c["results"]
    x = np.array([np.mean(r["x_samples_kBq"]) for r in rows])
    u = np.array([np.mean(r["u_samples_kBq"]) for r in rows])
    inc = np.array([r["in_kcrv"] for r in rows])
    return x, u, inc, [r["entry"] for r in rows]


def evaluate(c):
    x, u, inc, entries = results(c)
    ref = ESTIMATORS[c["estimator"]](x, u, included=inc)
    doe = linear_degrees_of_equivalence(x, u, ref, k=c["published"]["k"])
    return ref, doe, entries


def within_published_digits(value, published, resolution):
    # Half a unit of the last published digit, and a hair for the binary representation.
    return abs(value - published) <= resolution / 2 * (1 + 1e-9)


def test_file_lists_sources_and_keeps_the_examined():
    assert len(COMPARISONS) >= 2
    for c in COMPARISONS:
        assert c["report"]["doi"].startswith("https://doi.org/")
        assert c["sources"] and all(s["address"].startswith("https://") for s in c["sources"])
        assert c["estimator"] in ESTIMATORS
        assert c["published"]["doe"], "each comparison has published degrees of equivalence"
    assert len(FILE["examined"]) >= 5
    assert all(e["why_not_used"] for e in FILE["examined"])


@pytest.mark.parametrize("c", COMPARISONS, ids=IDS)
def test_kcrv_and_its_uncertainty(c):
    ref, _, _ = evaluate(c)
    kcrv = c["published"]["kcrv"]
    # A KCRV whose published inputs are rounded more coarsely than it is says so in the file
    # (value_tolerance with its tolerance_note); otherwise half the last published digit.
    if "value_tolerance" in kcrv:
        assert kcrv["tolerance_note"]
        assert abs(ref.value - kcrv["value"]) <= kcrv["value_tolerance"], ref.value
    else:
        assert within_published_digits(ref.value, kcrv["value"], kcrv["resolution"]), ref.value
    assert within_published_digits(ref.u, kcrv["u"], kcrv["resolution"]), ref.u
    # The published text says the same thing as the numbers tested.
    assert kcrv["text"].startswith(f"{kcrv['value']}({kcrv['u']})")


@pytest.mark.parametrize("c", COMPARISONS, ids=IDS)
def test_degrees_of_equivalence(c):
    _, doe, entries = evaluate(c)
    pub = c["published"]
    scale, res = pub["doe_per_unit"], pub["doe_resolution"]
    for row in pub["doe"]:
        i = entries.index(row["entry"])
        assert within_published_digits(doe.d[i] * scale, row["D"], res), (row, doe.d[i])
        assert within_published_digits(doe.U[i] * scale, row["U"], res), (row, doe.U[i])
        assert doe.k == pub["k"]


@pytest.mark.parametrize("c", COMPARISONS, ids=IDS)
def test_the_named_estimator_is_the_one_that_reproduces_the_kcrv(c):
    """A plain weighted mean of the same results does not give the published KCRV: the
    reproduction depends on the estimator the file names, not on a lucky agreement."""
    x, u, inc, _ = results(c)
    kcrv = c["published"]["kcrv"]
    wm = weighted_mean(x, u, included=inc)
    assert not (within_published_digits(wm.value, kcrv["value"], kcrv["resolution"])
                and within_published_digits(wm.u, kcrv["u"], kcrv["resolution"]))


@pytest.mark.parametrize("c", [c for c in COMPARISONS if c["estimator"] == "power_moderated_mean"],
                         ids=lambda c: c["id"])
def test_pmm_adds_the_between_result_spread_only_to_an_overdispersed_set(c):
    """Where the results scatter more than their u_i (Birge ratio > 1) the PMM adds the
    Mandel-Paule s, after which the reduced chi-squared is 1; otherwise s = 0. alpha = 2 - 3/N."""
    x, u, inc, _ = results(c)
    ref = power_moderated_mean(x, u, included=inc)
    n = int(inc.sum())
    assert ref.alpha == pytest.approx(2 - 3 / n)
    if ref.birge_ratio <= 1:
        assert ref.s == 0.0
        return
    assert ref.s > 0
    v = u[inc] ** 2 + ref.s**2
    xw = np.sum(x[inc] / v) / np.sum(1 / v)
    assert np.sum((x[inc] - xw) ** 2 / v) / (n - 1) == pytest.approx(1.0, rel=1e-9)
    assert math.fsum(ref.weights) == pytest.approx(1.0)
    assert np.all(ref.weights[~inc] == 0)


def test_examined_ccm_v_k1_b1_reference_value_is_the_arithmetic_mean():
    """CCM.V-K1.B1 (examined, kept out for want of readable DoEs): its published x_R and u_R
    are the arithmetic mean of the independent-scale results and its s/sqrt(N)."""
    e = next(e for e in FILE["examined"] if e["comparison"].startswith("CCM.V-K1.B1"))
    rows = [r for r in e["participants"] if r["independent_scale"]]
    x = np.array([r["x"] for r in rows])
    u = x * np.array([r["u_rel_1e-3"] for r in rows]) * 1e-3
    ref = arithmetic_mean(x, u)
    assert within_published_digits(ref.value, e["published"]["x_R"], 0.01)
    assert within_published_digits(ref.u, e["published"]["u_R"], 0.01)
    assert not within_published_digits(weighted_mean(x, u).value, e["published"]["x_R"], 0.01)
