"""Turn the published cases (data/cases.json) into engine inputs and models.

The JSON gives each input's estimate, standard uncertainty, distribution and dof, and the
model as a numpy expression of the input names and constants; nothing here knows the numbers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from labctl.uncertainty import Arcsine, Distribution, Normal, Rectangular, StudentT

DATA = Path(__file__).parent / "data" / "cases.json"
#: SHA-256 of the reviewed reference file this copy was taken from (the project's shared cases).
REVIEWED_SHA256 = "0e9b2ba4c8bb475fc998c983cd36958c3ed5f554f050c2d1d3f15c6fa73dee31"


def load() -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in json.loads(DATA.read_text())}


def make_input(spec: dict[str, Any]) -> Distribution:
    dof = math.inf if spec.get("dof") is None else spec["dof"]
    kind = spec["distribution"]
    if kind == "normal":
        return Normal(spec["value"], spec["std_uncertainty"], dof)
    if kind == "rectangular":
        return Rectangular(spec["value"], spec["half_width"], dof)
    if kind == "arcsine":
        return Arcsine(spec["value"], spec["half_width"], dof)
    if kind == "t":
        return StudentT(spec["value"], spec["std_uncertainty"], dof)
    raise ValueError(f"distribution {kind!r} not known to the test helper")


def make_inputs(case: dict[str, Any]) -> dict[str, Distribution]:
    return {name: make_input(spec) for name, spec in case["inputs"].items()}


def make_model(case: dict[str, Any]) -> Callable[..., Any]:
    names = list(case["inputs"])
    namespace = {"np": np, "__builtins__": {}, **case.get("constants", {})}
    code = compile(f"lambda {', '.join(names)}: {case['model']}", case["id"], "eval")
    return eval(code, namespace)  # the expression is the published model, read as data


def make_correlation(case: dict[str, Any]) -> dict[tuple[str, str], float] | None:
    pairs = case.get("correlations") or []
    return {(p[0], p[1]): p[2] for p in pairs} or None
