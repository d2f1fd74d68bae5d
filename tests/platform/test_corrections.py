"""One corrections module: per (quantity, range, unit) an error line fitted with the engine's
curve_fit, weighted by U/k, with the gain–offset covariance kept and the points' dof carried;
used by the bench (a standard's corrections) and by reverse impact (a carried error).

Expected values are derived here independently: ``numpy.polyfit`` with weights 1/u and its
unscaled covariance, and the closed-form weighted line (S = Σw, Sx = Σwx, Sxx = Σwx²,
Δ = S·Sxx − Sx², w = 1/u²).
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import numpy as np
import pytest
import sqlalchemy as sa

from labctl.errors import PreconditionError, ValidationError
from labctl.platform.models.certificates import ResultPoint
from labctl.platform.results.corrections import (
    ReferenceShift,
    fit_error_lines,
    fit_errors,
    line_at,
)
from labctl.platform.stations.register import PlatformRegister
from labctl.procedures.dmm_dc_voltage import DmmDcVoltage
from labctl.procedures.interfaces import Correction, RegisteredStandard
from labctl.procedures.prt_comparison import PrtComparison, cvd_resistance, fit_cvd
from labctl.procedures.register import RegisterSnapshot
from tests.fixtures.db import World
from tests.platform.helpers import (
    draft,
    ensure_cmcs,
    issue,
    ok,
    point,
    publish_standard,
    record_calibration,
    uid,
)


def _p(nominal: str, reference: str, measured: str, U: str, *, label: str = "10 V",
       k: str = "2", seq: int = 0, quantity: str = "DC voltage", unit: str = "V",
       dof: float | None = None) -> Any:
    fields: dict[str, Any] = dict(
        certificate_id=1, posting_id=1, seq=seq, table_title="t", quantity=quantity,
        unit=unit, range_label=label, nominal=Decimal(nominal),
        reference_value=Decimal(reference), measured_value=Decimal(measured),
        expanded_uncertainty=Decimal(U), coverage_factor=Decimal(k),
        coverage_probability=Decimal("0.95"))
    return ResultPoint(**fields, dof=dof)


def _meter(rows: list[tuple[str, str, str]], dofs: list[float | None] | None = None
           ) -> list[Any]:
    """A meter's points (reference, reading, U at k = 2): its error is reading − reference."""
    dofs = dofs or [None] * len(rows)
    return [_p(ref, ref, reading, U, seq=i, dof=nu)
            for i, ((ref, reading, U), nu) in enumerate(zip(rows, dofs, strict=True))]


METER = [("0", "0.0000021", "0.000004"), ("2", "2.0000094", "0.000006"),
         ("5", "5.0000231", "0.000010"), ("10", "10.0000398", "0.000020")]


def _closed_form(x: np.ndarray, u: np.ndarray) -> dict[str, Any]:
    w = 1 / u**2
    S, Sx, Sxx = w.sum(), (w * x).sum(), (w * x * x).sum()
    D = S * Sxx - Sx**2
    return {"var_gain": S / D, "var_offset": Sxx / D, "cov": -Sx / D,
            # ∂b/∂y_i of the weighted line
            "s_gain": w * (S * x - Sx) / D, "s_offset": w * (Sxx - Sx * x) / D,
            "S": S, "Sx": Sx}


def _xyu(rows: list[tuple[str, str, str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.array([float(r[0]) for r in rows])
    y = np.array([float(Decimal(r[1]) - Decimal(r[0])) for r in rows])
    u = np.array([float(r[2]) / 2 for r in rows])
    return x, y, u


def test_the_line_is_the_weighted_least_squares_line_through_the_errors():
    x, y, u = _xyu(METER)
    (gain, offset), cov = np.polyfit(x, y, 1, w=1 / u, cov="unscaled")
    cf = _closed_form(x, u)
    [ln] = fit_error_lines(_meter(METER))
    assert (ln.quantity, ln.range_label, ln.unit) == ("DC voltage", "10 V", "V")
    assert ln.fit.method == "wls" and ln.fit.degree == 1
    assert ln.gain == pytest.approx(gain, rel=1e-9)
    assert ln.offset == pytest.approx(offset, rel=1e-9)
    assert ln.u_gain == pytest.approx(math.sqrt(cov[0, 0]), rel=1e-9)
    assert ln.u_offset == pytest.approx(math.sqrt(cov[1, 1]), rel=1e-9)
    assert ln.cov_gain_offset == pytest.approx(cov[0, 1], rel=1e-9)
    assert ln.u_gain**2 == pytest.approx(cf["var_gain"], rel=1e-9)
    assert ln.u_offset**2 == pytest.approx(cf["var_offset"], rel=1e-9)
    assert ln.cov_gain_offset == pytest.approx(cf["cov"], rel=1e-9)
    assert (ln.lowest, ln.highest) == (0.0, 10.0)
    # the bench's corrections are that line, with its correlation
    c = {c.parameter: c for c in fit_errors(_meter(METER), "C-7")}
    r = cf["cov"] / math.sqrt(cf["var_gain"] * cf["var_offset"])
    assert r < -0.3  # points all at x >= 0: gain and offset strongly anti-correlated
    assert c["gain"].value == pytest.approx(gain, rel=1e-9) and c["gain"].unit == "1"
    assert c["offset"].value == pytest.approx(offset, rel=1e-9) and c["offset"].unit == "V"
    assert c["gain"].correlation == c["offset"].correlation == pytest.approx(r, rel=1e-9)
    assert c["gain"].certificate_number == c["offset"].certificate_number == "C-7"


def test_one_point_or_one_distinct_x_gives_an_offset_only():
    pts = [_p("1", "1", "1.000003", "0.000004", label="1 V"),
           # two readings at the same reference: the weighted mean of their errors
           _p("5", "5", "5.000010", "0.000004", label="10 V", seq=1),
           _p("5", "5", "5.000016", "0.000008", label="10 V", seq=2)]
    lines = {ln.range_label: ln for ln in fit_error_lines(pts)}
    one, same = lines["1 V"], lines["10 V"]
    assert one.fit.degree == same.fit.degree == 0
    assert one.offset == pytest.approx(3e-6, rel=1e-9) and one.u_offset == pytest.approx(2e-6)
    w = np.array([1 / 2e-6**2, 1 / 4e-6**2])
    assert same.offset == pytest.approx(float((w * [10e-6, 16e-6]).sum() / w.sum()), rel=1e-9)
    assert same.u_offset == pytest.approx(1 / math.sqrt(w.sum()), rel=1e-9)
    for ln in (one, same):
        assert ln.gain == 0 and ln.u_gain == 0 and ln.correlation == 0
        far = ln.at(100.0)  # no gain estimated: the same offset and u anywhere
        assert (far.value, far.u) == pytest.approx((ln.offset, ln.u_offset), rel=1e-12)
    c = {(c.range_label, c.parameter): c for c in fit_errors(pts, "C-8")}
    assert c[("1 V", "gain")].value == 0 and c[("1 V", "gain")].u == 0
    assert c[("10 V", "gain")].correlation == 0 and c[("10 V", "offset")].correlation == 0


def test_a_correction_at_x_carries_the_gain_offset_correlation():
    rows = [("5", "5.000021", "0.000010"), ("10", "10.000047", "0.000012"),
            ("20", "20.000088", "0.000030")]
    x, y, u = _xyu(rows)
    _, cov = np.polyfit(x, y, 1, w=1 / u, cov="unscaled")
    cf = _closed_form(x, u)
    [ln] = fit_error_lines(_meter(rows))
    for x0 in (0.0, 5.0, 12.5, 20.0, 30.0):
        at = ln.at(x0)
        assert at.value == pytest.approx(ln.gain * x0 + ln.offset, rel=1e-12)
        expected = math.sqrt(x0**2 * cov[0, 0] + 2 * x0 * cov[0, 1] + cov[1, 1])
        assert at.u == pytest.approx(expected, rel=1e-9)
    # at the weighted centroid of x the line is known to 1/sqrt(Σw), far better than gain
    # and offset taken as independent would say
    centroid = cf["Sx"] / cf["S"]
    at = ln.at(centroid)
    assert at.u == pytest.approx(1 / math.sqrt(cf["S"]), rel=1e-9)
    independent = math.sqrt(centroid**2 * ln.u_gain**2 + ln.u_offset**2)
    assert independent > 3 * at.u
    assert ln.at(0.0).u == pytest.approx(ln.u_offset, rel=1e-12)


def _ws(contributions: np.ndarray, dof: np.ndarray) -> float:
    finite = np.isfinite(dof)
    den = float(np.sum(contributions[finite] ** 4 / dof[finite]))
    return math.inf if den == 0 else float(np.sum(contributions**2) ** 2 / den)


def test_the_points_dof_give_the_corrections_dof():
    """The weighted fit itself claims ν = ∞ (the points' u are taken as known); each
    parameter is Σ s_i·y_i, so its ν is Welch–Satterthwaite over s_i·u_i with the points' ν
    (a point without dof counts as ν = ∞)."""
    dofs: list[float | None] = [4, 9, None, 20]
    x, _, u = _xyu(METER)
    nu = np.array([math.inf if d is None else d for d in dofs], dtype=float)
    cf = _closed_form(x, u)
    [ln] = fit_error_lines(_meter(METER, dofs))
    assert ln.fit.dof == math.inf
    nu_gain, nu_offset = _ws(cf["s_gain"] * u, nu), _ws(cf["s_offset"] * u, nu)
    assert 4 < nu_gain < math.inf and 4 < nu_offset < math.inf
    assert ln.dof_gain == pytest.approx(nu_gain, rel=1e-9)
    assert ln.dof_offset == pytest.approx(nu_offset, rel=1e-9)
    assert ln.at(7.0).dof == pytest.approx(_ws((7.0 * cf["s_gain"] + cf["s_offset"]) * u, nu),
                                           rel=1e-9)
    c = {c.parameter: c for c in fit_errors(_meter(METER, dofs), "C-9")}
    assert c["gain"].dof == pytest.approx(nu_gain, rel=1e-9)
    assert c["offset"].dof == pytest.approx(nu_offset, rel=1e-9)
    # one point with its ν: an offset with that ν
    [single] = fit_error_lines([_p("1", "1", "1.000003", "0.000004", dof=6)])
    assert single.dof_offset == pytest.approx(6) and single.dof_gain == math.inf
    # no point with a dof: ∞ everywhere, as before points carried one
    [plain] = fit_error_lines(_meter(METER))
    assert plain.dof_gain == plain.dof_offset == plain.at(7.0).dof == math.inf
    assert {c.dof for c in fit_errors(_meter(METER), "C-9")} == {math.inf}


def test_a_point_that_cannot_weight_the_line_is_named():
    with pytest.raises(ValidationError, match="point 3 expanded_uncertainty") as e:
        fit_error_lines([_p("1", "1", "1.000003", "0.000004"),
                         _p("2", "2", "2.000003", "0", seq=3)])
    assert e.value.value == "0"
    with pytest.raises(ValidationError, match="point 0 coverage_factor"):
        fit_error_lines([_p("1", "1", "1.000003", "0.000004", k="0")])
    with pytest.raises(ValidationError, match="point 2 dof"):
        fit_error_lines([_p("1", "1", "1.000003", "0.000004", seq=2, dof=0)])


def test_a_reference_shift_is_exact_where_found_and_a_fitted_line_where_carried():
    found = ReferenceShift("DC voltage", "V", absolute=Decimal("0.000001"),
                           relative=Decimal("0.00001"), basis="error found in R")
    assert found.delta(Decimal("-2.5")) == (Decimal("0.000026"), False)
    # a source calibrated with it at 1 V and 10 V (10 V range), at 20 V (100 V range)
    pts = [_p("1", "0.9999996", "1", "0.000005", label="10 V"),
           _p("10", "9.999996", "10", "0.00001", label="10 V", seq=1),
           _p("20", "20.00004", "20", "0.00004", label="100 V", seq=2)]
    carried = found.carried_through(pts, "carried through C-2 of W")
    assert carried is not None and carried.basis == "carried through C-2 of W"
    ten = {ln.range_label: ln for ln in carried.lines}["10 V"]
    x = np.array([1.0, 10.0])
    d = np.array([1e-6 + 1e-5 * 0.9999996, 1e-6 + 1e-5 * 9.999996])
    gain, offset = np.polyfit(x, d, 1, w=1 / np.array([2.5e-6, 5e-6]))
    assert (ten.gain, ten.offset) == pytest.approx((gain, offset), rel=1e-9)
    value, extrapolated = carried.at(5.0)
    assert value == pytest.approx(gain * 5 + offset, rel=1e-12) and not extrapolated
    assert carried.delta(Decimal("5")) == (Decimal(f"{gain * 5 + offset:.6g}"), False)
    # 12 V is inside neither span: the nearer end is the 10 V range's, extrapolated
    ln, extrapolated = line_at(carried.lines, 12.0)
    assert ln is ten and extrapolated
    assert found.carried_through([_p("1", "1", "1", "1", unit="A")], "x") is None


def test_old_snapshots_load_and_new_ones_keep_the_correlation():
    gain = Correction("DC voltage", "33V", "gain", 1e-6, 1e-6, "1", dof=12.0,
                      certificate_number="C-1", correlation=-0.8)
    offset = replace(gain, parameter="offset", value=2e-6, unit="V")
    std = RegisteredStandard("C", "cal", "Fluke", "5522A", "1", "in_service", None, "C-1",
                             corrections=(gain, offset))
    snap = RegisterSnapshot((std,), (), datetime(2026, 12, 1, tzinfo=UTC))
    again = RegisterSnapshot.from_dict(snap.to_dict())
    assert again.standards[0].corrections == (gain, offset)
    old = snap.to_dict()
    for c in old["standards"][0]["corrections"]:
        del c["correlation"]
        c["dof"] = "inf"
    loaded = RegisterSnapshot.from_dict(old).standards[0].corrections
    assert [c.correlation for c in loaded] == [0.0, 0.0] and loaded[0].dof == math.inf
    with pytest.raises(ValidationError, match="correlation"):
        replace(gain, correlation=1.5)


def test_the_bench_budget_uses_the_correlated_corrections_of_a_platform_certificate(
        api: httpx.Client, world: World, db_engine: sa.Engine) -> None:
    """A calibrator W calibrated on the platform at 5, 10 and 20 V: the runner's register
    gives its gain and offset with their correlation, and a DC voltage point at 10 V carries
    u² = 10²u²(gain) + 2·10·cov + u²(offset) from them, not the independent sum."""
    ensure_cmcs(api, world)
    now = datetime.now(UTC)
    today = now.date()
    r = publish_standard(api, world, "prov", kind="reference", range_max="20")["identifier"]
    record_calibration(api, world, "prov", r, {
        "certificate_number": uid("EXT"), "issuer": "Elsewhere",
        "calibrated_on": (today - timedelta(days=30)).isoformat(),
        "due_date": (today + timedelta(days=335)).isoformat()})
    w = publish_standard(api, world, "lab", kind="working", range_max="20",
                         description="Multifunction calibrator")
    c = draft(api, world, "prov", standards=[r], item_standard=w["identifier"],
              begin=now - timedelta(days=2), item_description="Multifunction calibrator")
    rows = [("5", "5.000021", "0.000010"), ("10", "10.000047", "0.000012"),
            ("20", "20.000088", "0.000030")]
    # a source: its indication is its setting; the reference read what it put out
    issue(api, world, "prov", c["number"],
          [point(nominal=n, error="0", reference_value=ref, U=U, range_label="33V",
                 lower_limit="-0.001", upper_limit="0.001") for n, ref, U in rows])
    std = PlatformRegister(db_engine, world.orgs["lab"], {}).find_standard(
        manufacturer=w["manufacturer"], model=w["model"], serial_number=w["serial_number"],
        at=now)
    assert std.certificate_number == c["number"]
    gain = std.correction("DC voltage", "33V", "gain")
    offset = std.correction("DC voltage", "33V", "offset")
    assert gain is not None and offset is not None
    x = np.array([5.0, 10.0, 20.0])
    d = np.array([21e-6, 47e-6, 88e-6])
    u = np.array([5e-6, 6e-6, 15e-6])
    (g, o), cov = np.polyfit(x, d, 1, w=1 / u, cov="unscaled")
    assert (gain.value, offset.value) == pytest.approx((g, o), rel=1e-9)
    assert gain.correlation == pytest.approx(cov[0, 1] / math.sqrt(cov[0, 0] * cov[1, 1]),
                                             rel=1e-9)
    assert gain.dof == offset.dof == math.inf  # posted without dof
    proc = DmmDcVoltage()
    tp = next(p for p in proc.test_points() if p.key == "10V/+10V")
    readings = np.full(10, 10.0001) + np.linspace(-1e-6, 1e-6, 10)
    res = proc.evaluate(tp, readings, 1e-6, std)
    u_ind = float(readings.std(ddof=1)) / math.sqrt(10)
    u_res = 0.5e-6 / math.sqrt(3)
    u_cal2 = 100 * cov[0, 0] + 2 * 10 * cov[0, 1] + cov[1, 1]
    assert res.U / res.k == pytest.approx(math.sqrt(u_ind**2 + u_res**2 + u_cal2), rel=1e-6)
    # the same corrections taken as independent claim more
    independent = replace(std, corrections=tuple(replace(c, correlation=0.0)
                                                 for c in std.corrections))
    assert proc.evaluate(tp, readings, 1e-6, independent).U > 1.5 * res.U
    # a certificate of W is on record for the station's snapshot too
    snap = RegisterSnapshot.from_dict(ok(api.get("/api/v1/stations/register",
                                                 headers=world.station("lab"))))
    mine = next(s for s in snap.standards if s.id == w["identifier"])
    assert mine.correction("DC voltage", "33V", "gain") == gain


def test_only_the_two_parameters_of_one_line_are_correlated():
    gain = Correction("resistance", "1kohm", "gain", 2e-5, 5e-6, "1", certificate_number="C-D",
                      correlation=-0.9)
    offset = replace(gain, parameter="offset", value=1e-4, u=2e-4, unit="ohm")
    assert gain.correlation_with(offset) == offset.correlation_with(gain) == -0.9
    assert gain.correlation_with(gain) == 0.0
    assert gain.correlation_with(replace(offset, range_label="100ohm")) == 0.0
    assert gain.correlation_with(replace(offset, certificate_number="C-E")) == 0.0
    with pytest.raises(PreconditionError, match="different correlations") as e:
        gain.correlation_with(replace(offset, correlation=0.2))
    assert e.value.rule == "correction_inconsistent"


def _prt(r_dmm: float) -> tuple[list[Any], Any]:
    """Five PRT points evaluated with a DMM whose 1 kΩ gain and offset have correlation r."""
    proc = PrtComparison()
    gain = Correction("resistance", "1kohm", "gain", 2e-5, 5e-6, "1", certificate_number="C-D",
                      correlation=r_dmm)
    dmm = RegisteredStandard("D", "dmm", "Keysight", "34465A", "1", "in_service", None, "C-D",
                             corrections=(gain, replace(gain, parameter="offset", value=1e-4,
                                                        u=2e-4, unit="ohm")))
    ref = RegisteredStandard("T", "ref", "Fluke", "1594A", "2", "in_service", None, "C-T",
                             corrections=(Correction("temperature", "all", "offset", 0.002,
                                                     0.003, "°C", certificate_number="C-T"),))
    points = []
    for tp in proc.test_points():
        jitter = np.linspace(-1, 1, 8)
        t_reads = tp.setpoint + 0.001 * jitter
        r_reads = float(cvd_resistance(tp.setpoint)) + 0.0002 * jitter[::-1]
        points.append(proc.evaluate(tp, t_reads, r_reads, 1000.0, 1e-4,
                                    {"thermometer": ref, "dmm": dmm}, 23.0))
    return points, gain


def test_the_prt_budget_and_curve_carry_the_dmm_gain_offset_correlation():
    correlated, gain = _prt(-0.9)
    independent, _ = _prt(0.0)
    u_o = 2e-4
    for a, b in zip(correlated, independent, strict=True):
        rows = {row.name: row for row in a.budget}
        cg, co = rows["g_dmm"].sensitivity, rows["o_dmm"].sensitivity
        assert rows["g_dmm"].u == gain.u and rows["o_dmm"].u == u_o
        # u_c² gains exactly the covariance term 2·r·c_g·u_g·c_o·u_o
        diff = (a.U / a.k) ** 2 - (b.U / b.k) ** 2
        assert diff == pytest.approx(2 * -0.9 * cg * gain.u * co * u_o, rel=1e-6)
        assert a.extra["r_dmm"] == -0.9 and b.extra["r_dmm"] == 0.0
    # over the curve: the DMM's R·δg + δo moves R0 by R0·δg + δo, so u²(R0) gains 2·r·R0·u_g·u_o
    fc, fi = fit_cvd(correlated), fit_cvd(independent)
    R0 = fc["coefficients"]["R0"]
    diff = fc["standard_uncertainties"]["R0"] ** 2 - fi["standard_uncertainties"]["R0"] ** 2
    assert diff == pytest.approx(2 * -0.9 * R0 * gain.u * u_o, rel=1e-3)
