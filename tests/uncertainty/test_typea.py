"""Type A evaluation from readings (GUM 4.2, 5.2.3)."""

import math

import numpy as np
import pytest

from labctl.errors import UncertaintyInputError
from labctl.uncertainty import StudentT, gum, type_a, type_a_joint


def test_mean_standard_uncertainty_and_dof():
    readings = [10.02, 10.05, 9.98, 10.01, 10.04, 9.99]
    ta = type_a(readings)
    assert ta.mean == pytest.approx(np.mean(readings))
    assert ta.s == pytest.approx(np.std(readings, ddof=1))
    assert ta.u == pytest.approx(np.std(readings, ddof=1) / math.sqrt(6))
    assert ta.dof == 5 and ta.n == 6
    d = ta.distribution()
    assert isinstance(d, StudentT) and float(d.u) == pytest.approx(ta.u)


def test_pooled_standard_deviation_gum_h132():
    # GUM H.1.3.2: 5 comparator readings, pooled s = 13 nm from 25 observations:
    # u = 13/√5 = 5.8 nm with ν = 24
    ta = type_a([215.0, 213.0, 218.0, 214.0, 215.0], pooled_s=13.0, pooled_dof=24)
    assert ta.u == pytest.approx(5.8, abs=0.05)
    assert ta.dof == 24


def test_points_along_an_axis():
    readings = np.array([[1.0, 2.0], [1.2, 2.4], [0.8, 1.6]])  # 3 readings × 2 points
    ta = type_a(readings, axis=0)
    assert ta.mean == pytest.approx([1.0, 2.0])
    assert ta.u == pytest.approx([0.2 / math.sqrt(3), 0.4 / math.sqrt(3)])


def test_joint_readings_give_correlation_ready_for_gum():
    a = np.array([1.0, 2.0, 3.0, 4.0])
    inputs, corr = type_a_joint({"a": a, "b": 2 * a + 1, "c": -a})
    assert corr[("a", "b")] == pytest.approx(1.0)
    assert corr[("a", "c")] == pytest.approx(-1.0)
    r = gum(lambda a, b, c: b - 2 * a, inputs, corr)
    assert r.u == pytest.approx(0.0, abs=1e-9)  # perfectly correlated: the difference is exact


@pytest.mark.parametrize(("call", "field"), [
    (lambda: type_a([1.0]), "readings"),
    (lambda: type_a(5.0), "readings"),
    (lambda: type_a([1.0, float("nan")]), "readings"),
    (lambda: type_a([1.0, 2.0], pooled_s=-1.0, pooled_dof=3), "pooled_s"),
    (lambda: type_a([1.0, 2.0], pooled_s=1.0), "pooled_dof"),
    (lambda: type_a([1.0, 2.0], pooled_dof=3), "pooled_dof"),
    (lambda: type_a_joint({"a": [1.0, 2.0], "b": [1.0, 2.0, 3.0]}), "readings['b']"),
])
def test_bad_input(call, field):
    with pytest.raises(UncertaintyInputError) as exc:
        call()
    assert exc.value.field == field
