"""EA-4/02 / ILAC-P14 rounding of reported results."""

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from labctl.errors import UncertaintyInputError
from labctl.uncertainty import round_result


@pytest.mark.parametrize(
    ("value", "U", "digits", "value_str", "U_str"),
    [
        # GUM H.1: l = 50 000 838 nm, U99 = 93 nm
        (50000838.4, 93.44, 2, "50000838", "93"),
        (10.0231, 0.01449, 2, "10.023", "0.014"),
        # one digit: nearest (0.01) would lower U by 31 % > 5 %, so round up
        (10.0231, 0.01449, 1, "10.02", "0.02"),
        # one digit: 0.0104 -> 0.01 lowers U by 3.8 %, nearest is kept
        (10.0231, 0.0104, 1, "10.02", "0.01"),
        # carrying into a new digit keeps two significant digits: 0.0996 -> 0.10
        (1.23456, 0.0996, 2, "1.23", "0.10"),
        # a binary-float artefact in the value is not printed
        (0.1 + 0.2, 0.0105, 2, "0.300", "0.011"),
        # large numbers: plain digits, never an exponent
        (123456.0, 1234.0, 2, "123500", "1200"),
        # a value that rounds to zero is not printed as "-0.00"
        (-0.0004, 0.034, 2, "0.000", "0.034"),
        # ties of U round up (never understate); ties of the value go to even
        (2.665, 0.0125, 2, "2.665", "0.013"),
        (2.6650, 0.125, 2, "2.66", "0.13"),
        (2.6750, 0.125, 2, "2.68", "0.13"),
    ],
)
def test_published_style_rounding(value, U, digits, value_str, U_str):
    r = round_result(value, U, significant_digits=digits)
    assert (r.value_str, r.U_str) == (value_str, U_str)
    assert r.decimal_value == Decimal(value_str)
    assert r.decimal_U == Decimal(U_str)
    assert r.value == float(value_str)
    assert float(U_str) == r.U


def test_rounded_up_flag_and_str():
    r = round_result(1.23456, 0.0144, significant_digits=1)
    assert r.rounded_up is True
    assert r.exponent == -2
    assert str(r) == "1.23 ± 0.02"
    assert round_result(1.23456, 0.0144).rounded_up is False


def test_arrays_round_point_by_point():
    r = round_result([1.0, 2.0, 3.14159], [0.123, 0.0456, 2.0])
    assert list(r.value_str) == ["1.00", "2.000", "3.1"]
    assert list(r.U_str) == ["0.12", "0.046", "2.0"]
    np.testing.assert_array_equal(r.U, [0.12, 0.046, 2.0])
    np.testing.assert_array_equal(r.exponent, [-2, -3, -1])
    assert isinstance(r.decimal_U, np.ndarray) and r.decimal_U[1] == Decimal("0.046")


def test_scalar_U_broadcasts_over_values():
    r = round_result(np.array([10.04, 10.06]), 0.21)
    assert list(r.value_str) == ["10.04", "10.06"]
    assert list(r.U_str) == ["0.21", "0.21"]


@given(
    U=st.floats(min_value=1e-12, max_value=1e12, allow_nan=False, allow_infinity=False),
    digits=st.sampled_from([1, 2]),
)
def test_ea402_properties(U, digits):
    r = round_result(0.0, U, significant_digits=digits)
    d = r.decimal_U
    exact = Decimal(repr(U))
    assert len(d.as_tuple().digits) <= digits
    # never lowered by more than 5 %
    assert (exact - d) / exact <= Decimal("0.05")
    # never raised by more than one unit in the last kept digit
    assert d - exact < Decimal(1).scaleb(int(r.exponent))
    # the value string has exactly the decimal places of the U string
    places = lambda s: len(s.split(".")[1]) if "." in s else 0  # noqa: E731
    assert places(r.value_str) == places(r.U_str)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"value": 1.0, "U": -0.1}, "U"),
        ({"value": 1.0, "U": 0.0}, "U"),
        ({"value": 1.0, "U": float("nan")}, "U"),
        ({"value": 1.0, "U": float("inf")}, "U"),
        ({"value": float("nan"), "U": 0.1}, "value"),
        ({"value": 1.0, "U": 0.1, "significant_digits": 0}, "significant_digits"),
        ({"value": [1.0, 2.0], "U": [0.1, 0.2, 0.3]}, "U"),
        ({"value": [1.0, 2.0], "U": [0.1, -0.2]}, "U[1]"),
    ],
)
def test_bad_input_names_the_field(kwargs, field):
    with pytest.raises(UncertaintyInputError) as exc:
        round_result(**kwargs)
    assert exc.value.field == field
    assert isinstance(exc.value, ValueError)
