"""Bad input to gum()/mcm(): our ValueError subclass, naming the input and the value."""

import math

import numpy as np
import pytest

from labctl.errors import UncertaintyInputError, UnknownKeywordError
from labctl.uncertainty import (
    Normal,
    Rectangular,
    curve_fit,
    decide,
    gum,
    mcm,
    round_result,
)

INPUTS = {"a": Normal(1.0, 0.1), "b": Normal(2.0, 0.2), "c": Rectangular(0.0, 0.5)}


def add(a, b, c):
    return a + b + c


@pytest.mark.parametrize("engine", [gum, mcm])
@pytest.mark.parametrize(("kwargs", "field", "value_text"), [
    ({"correlation": {("a", "b"): 1.2}}, "correlation[('a', 'b')]", "1.2"),
    ({"correlation": {("a", "b"): math.nan}}, "correlation[('a', 'b')]", "nan"),
    ({"correlation": {("a", "z"): 0.5}}, "correlation[('a', 'z')]", "z"),
    ({"correlation": {("a", "a"): 0.5}}, "correlation[('a', 'a')]", "0.5"),
    ({"correlation": {("a", "b"): 0.9, ("a", "c"): 0.9, ("b", "c"): -0.9}}, "correlation",
     "smallest eigenvalue"),
    ({"correlation": {("a", "b"): 0.5, ("b", "a"): 0.4}}, "correlation[('b', 'a')]", "0.4"),
    ({"correlation": {("a", "b"): "high"}}, "correlation[('a', 'b')]", "high"),
    ({"correlation": [[1.0, 0.5], [0.5, 1.0]]}, "correlation", "(2, 2)"),
    ({"correlation": [[1, 0.5, 0], [0.4, 1, 0], [0, 0, 1]]}, "correlation", "asymmetric"),
    ({"correlation": [[1, 0, 0], [0, 2, 0], [0, 0, 1]]}, "correlation", "2.0"),
    ({"correlation": [[1, 1.5, 0], [1.5, 1, 0], [0, 0, 1]]}, "correlation[('a', 'b')]", "1.5"),
    ({"coverage": 1.5}, "coverage", "1.5"),
    ({"coverage": 0.0}, "coverage", "0.0"),
    ({"coverage": -0.95}, "coverage", "-0.95"),
])
def test_bad_correlation_and_coverage(engine, kwargs, field, value_text):
    extra = {"trials": 1000, "rng": 1} if engine is mcm else {}
    with pytest.raises(UncertaintyInputError) as exc:
        engine(add, INPUTS, **kwargs, **extra)
    assert exc.value.field == field
    assert value_text in str(exc.value)
    assert isinstance(exc.value, ValueError)


@pytest.mark.parametrize("engine", [gum, mcm])
def test_shapes_that_do_not_broadcast_name_the_input(engine):
    inputs = {"a": Normal([1.0, 2.0, 3.0], 0.1), "b": Normal([1.0, 2.0], 0.1)}
    with pytest.raises(UncertaintyInputError) as exc:
        engine(lambda a, b: a + b, inputs)
    assert exc.value.field == "b"
    assert "(2,)" in str(exc.value) and "(3,)" in str(exc.value)


@pytest.mark.parametrize("engine", [gum, mcm])
def test_a_model_that_raises_is_reported(engine):
    def broken(a, b, c):
        raise ZeroDivisionError("no calibration constant")

    with pytest.raises(UncertaintyInputError) as exc:
        engine(broken, INPUTS)
    assert exc.value.field == "model"
    assert "ZeroDivisionError" in str(exc.value) and "no calibration constant" in str(exc.value)
    assert isinstance(exc.value.__cause__, ZeroDivisionError)


def test_a_model_returning_nan_names_the_point():
    inputs = {"x": Normal(np.array([4.0, -1.0, 9.0]), 0.1)}
    with pytest.raises(UncertaintyInputError) as exc:
        gum(lambda x: np.sqrt(x), inputs)
    assert exc.value.field == "model"
    assert "nan" in str(exc.value) and "x=-1" in str(exc.value)


def test_a_model_with_the_wrong_signature():
    with pytest.raises(UncertaintyInputError) as exc:
        gum(lambda a, b: a + b, INPUTS)
    assert exc.value.field == "model"
    assert "c" in str(exc.value)


@pytest.mark.parametrize(("inputs", "field"), [
    ({}, "inputs"),
    ({"a": "0.1 V"}, "a"),
    ({"a": None}, "a"),
    ({"a": float("nan")}, "a"),
    ({"not valid": Normal(1.0, 0.1)}, "inputs"),
])
def test_bad_inputs_mapping(inputs, field):
    with pytest.raises(UncertaintyInputError) as exc:
        gum(lambda **kw: 0.0, inputs)
    assert exc.value.field == field


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"order": 3}, "order"),
    ({"order": 2, "correlation": {("a", "b"): 0.5}}, "order"),
    ({"derivative": "forward"}, "derivative"),
    ({"step": 0.0}, "step"),
    ({"k": -2.0}, "k"),
    ({"k": math.inf}, "k"),
])
def test_bad_gum_options(kwargs, field):
    with pytest.raises(UncertaintyInputError) as exc:
        gum(add, INPUTS, **kwargs)
    assert exc.value.field == field


def test_bad_user_gradient():
    with pytest.raises(UncertaintyInputError) as exc:
        gum(add, INPUTS, gradient=lambda a, b, c: {"a": 1.0, "b": 1.0})
    assert exc.value.field == "gradient"


@pytest.mark.parametrize("call", [
    lambda: gum(add, INPUTS, covrage=0.95),
    lambda: mcm(add, INPUTS, trails=10_000, rng=1),
    lambda: curve_fit([1, 2, 3], [1, 2, 3], deg=1),
    lambda: decide(1.0, 0.1, upper=2.0, guardband=0.1),
    lambda: round_result(1.0, 0.1, digits=1),
])
def test_an_unknown_keyword_is_an_error_not_ignored(call):
    with pytest.raises(UnknownKeywordError) as exc:
        call()
    # both what Python raises for a bad keyword and our bad-input ValueError
    assert isinstance(exc.value, TypeError) and isinstance(exc.value, ValueError)
