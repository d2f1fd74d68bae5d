"""Test-point tables: data a metrologist can read and review, not code.

A table is a CSV file shipped beside its procedure. Each row becomes a frozen dataclass of the
procedure's own row type (cells typed as its fields: numbers, yes/no, a
:class:`~labctl.quantities.RangeLabel`, a member of an enumeration such as
:class:`~labctl.quantities.Quantity`); a bad cell is reported with file, row, column, value
and what is allowed, and nothing half-loaded is returned.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import types
import typing
from collections.abc import Iterable
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from labctl.errors import ValidationError
from labctl.quantities import RangeLabel

Row = TypeVar("Row")


def _convert(kind: Any, text: str) -> Any:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if text.strip() == "":
            return None
        kind = args[0]
    if kind is float:
        value = float(text)
        if not math.isfinite(value):
            raise ValueError("not a finite number")
        return value
    if kind is int:
        return int(text)
    if kind is bool:
        lowered = text.strip().lower()
        if lowered not in ("true", "false", "yes", "no", "1", "0"):
            raise ValueError("not a yes/no value")
        return lowered in ("true", "yes", "1")
    if kind is RangeLabel:  # a range in any spelling in use: "100 mV", "100mV", "1kohm"
        label = RangeLabel.read(text)
        if label is None:
            raise ValueError("a number and a unit, e.g. 100 mV, 1 kΩ")
        return label
    if isinstance(kind, type) and issubclass(kind, Enum):  # Quantity, CorrectionParameter…
        try:
            return kind(text.strip())
        except ValueError:
            raise ValueError("one of " + ", ".join(str(m.value) for m in kind)) from None
    return text.strip()


def load_table(path: Path | str, row_type: type[Row]) -> tuple[Row, ...]:
    """Read ``path`` (CSV with a header naming ``row_type``'s fields) into row objects.

    Columns not in the header take the field's default; unknown columns are an error (a
    misspelt column must not be silently ignored). Lines starting with ``#`` are comments.
    """
    path = Path(path)
    hints = typing.get_type_hints(row_type)
    fields = {f.name: f for f in dataclasses.fields(row_type)}  # type: ignore[arg-type]
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            lines = [line for line in handle if not line.lstrip().startswith("#")]
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError("table", str(path), "a readable UTF-8 CSV point table "
                              f"({type(exc).__name__})") from None
    reader = csv.DictReader(lines)
    header = reader.fieldnames or []
    unknown = [h for h in header if h not in fields]
    if unknown:
        raise ValidationError(f"{path.name}: column", unknown[0][:40],
                              "one of " + ", ".join(fields))
    rows: list[Row] = []
    for number, record in enumerate(reader, start=2):
        values: dict[str, Any] = {}
        for name, text in record.items():
            try:
                values[name] = _convert(hints[name], text or "")
            except ValueError as exc:
                raise ValidationError(f"{path.name}: row {number}, column {name}", text,
                                      f"a value of type {hints[name]} ({exc})") from None
        try:
            rows.append(row_type(**values))
        except (TypeError, ValidationError) as exc:
            raise ValidationError(f"{path.name}: row {number}", record, str(exc)) from None
    if not rows:
        raise ValidationError(f"{path.name}", "no rows", "at least one test point")
    return tuple(rows)


def check_unique(rows: Iterable[Any], key: str, where: str) -> None:
    """Reject duplicate keys (two rows for the same point would be measured twice)."""
    seen: set[Any] = set()
    for row in rows:
        value = getattr(row, key)
        if value in seen:
            raise ValidationError(f"{where}: {key}", value, "unique values (duplicate point)")
        seen.add(value)
