"""True errors of simulated instruments: frozen records, drawn from a seed or given explicitly.

A test that needs a known device passes overrides as a mapping; whatever it leaves out is
drawn from the seed. Unknown keys are an error (a typo must not silently become "drawn").
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RangeError:
    """The true error of one measuring or sourcing range: value·(1 + gain) + offset.

    ``gain`` is relative (1e-6 = 1 ppm); ``offset`` is in the range's base unit (V or Ω).
    ``tc_gain`` (relative per °C) and ``tc_offset`` (base unit per °C) are the temperature
    coefficients about 23 °C (zero for sources whose spec already holds over 18 … 28 °C).
    """

    gain: float = 0.0
    offset: float = 0.0
    tc_gain: float = 0.0
    tc_offset: float = 0.0

    def apply(self, value: float, delta_t: float = 0.0) -> float:
        """What the range really gives/reads for an ideal ``value`` at ``delta_t`` °C from 23 °C."""
        return value * (1.0 + self.gain + self.tc_gain * delta_t) + self.offset + (
            self.tc_offset * delta_t
        )


def _check_finite(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{where}={value!r} is not allowed: expected a finite number")
    return float(value)


def merge(base: T, overrides: Mapping[str, Any] | T | None, where: str) -> T:
    """``base`` with ``overrides`` applied (a mapping of fields, nested for dict fields).

    A dict field keyed by range (e.g. ``{"dcv": {10.0: {"gain": 2e-6}}}``) only accepts the
    ranges already present. Unknown field or range → ``ValueError`` naming it.
    """
    if overrides is None:
        return base
    if isinstance(overrides, type(base)):
        return overrides
    if not isinstance(overrides, Mapping):
        raise ValueError(
            f"{where}={overrides!r} is not allowed: expected a {type(base).__name__} or a "
            "mapping of its fields"
        )
    assert dataclasses.is_dataclass(base)
    names = {f.name for f in dataclasses.fields(base)}
    changes: dict[str, Any] = {}
    for key, value in overrides.items():
        if key not in names:
            raise ValueError(
                f"{where}.{key} is not allowed: expected one of {sorted(names)}"
            )
        current = getattr(base, key)
        if isinstance(current, dict):
            if not isinstance(value, Mapping):
                raise ValueError(f"{where}.{key}={value!r} is not allowed: expected a mapping")
            merged = dict(current)
            for sub_key, sub_value in value.items():
                match = [k for k in current if _same_key(k, sub_key)]
                if not match:
                    raise ValueError(
                        f"{where}.{key}[{sub_key!r}] is not allowed: expected one of "
                        f"{sorted(current)}"
                    )
                merged[match[0]] = merge(
                    current[match[0]], sub_value, f"{where}.{key}[{sub_key!r}]"
                )
            changes[key] = merged
        elif dataclasses.is_dataclass(current):
            changes[key] = merge(current, value, f"{where}.{key}")
        elif isinstance(current, float):
            changes[key] = _check_finite(f"{where}.{key}", value)
        else:
            changes[key] = value
    return dataclasses.replace(base, **changes)  # type: ignore[type-var]


def _same_key(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, int | float) and not isinstance(b, bool):
        return math.isclose(a, float(b), rel_tol=1e-9)
    return bool(a == b)


def as_dict(record: Any) -> Any:
    """A truth record as plain dicts/floats (for ``bench.truth()`` and JSON)."""
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return {f.name: as_dict(getattr(record, f.name)) for f in dataclasses.fields(record)}
    if isinstance(record, dict):
        return {k: as_dict(v) for k, v in record.items()}
    return record
