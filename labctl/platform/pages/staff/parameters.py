"""A procedure's run parameters as form fields (the start form of ``/staff/runs``) and the
posted fields back as the plain data ``Procedure.from_parameters`` takes.

The fields come from the procedure's own ``Parameters`` dataclass (name, type, default), so
a new procedure's parameters appear without a template change; a field left empty keeps
the procedure's default. File parameters (a point table on the server) are never offered:
the API refuses them too, so a run uses the procedure's reviewed tables."""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Mapping
from typing import Any

from labctl.errors import ValidationError
from labctl.platform.pages.render import N_
from labctl.procedures.catalog import PROCEDURES
from labctl.uncertainty import DecisionRule

#: Labels of the parameters the shipped procedures have (English; translated at render);
#: another parameter is labelled with its name.
LABELS: dict[str, str] = {
    "ranges": N_("DMM ranges (V), separated by commas; empty for all"),
    "settle_time": N_("Settling time after each change (s)"),
    "nplc": N_("Integration time (power-line cycles)"),
    "coverage": N_("Coverage probability"),
    "decision_rule": N_("Decision rule (ILAC-G8)"),
    "adjust": N_("Adjust the item before the as-left points"),
    "stability_window": N_("Stability window (s)"),
    "stability_interval": N_("Interval of the stability readings (s)"),
    "stability_limit": N_("Stability limit, max − min (°C)"),
    "stability_timeout": N_("Longest wait for stability (s)"),
    "reading_interval": N_("Interval between readings (s)"),
    "block_uniformity": N_("Block non-uniformity, half-width (°C)"),
    "block_uniformity_per_100k": N_("Added non-uniformity per 100 K above the room (°C)"),
    "reference_channel": N_("Readout channel of the reference thermometer"),
}
RULE_WORDS: dict[str, str] = {
    "simple": N_("Simple acceptance (shared risk)"),
    "guarded_acceptance": N_("Guarded acceptance (w = U)"),
    "guarded_rejection": N_("Guarded rejection (w = U)"),
    "non_binary": N_("Non-binary (pass, conditional pass, conditional fail, fail)"),
}


def _kind(hint: Any) -> str:
    if typing.get_origin(hint) is tuple:
        return "list"
    return {float: "number", int: "integer", bool: "yesno", str: "text"}.get(hint, "text")


def fields(procedure_id: str) -> list[dict[str, Any]]:
    """The form fields of ``procedure_id``'s parameters: ``name``, ``label``, ``kind``
    (number, integer, list, yesno, text, choice), the ``default`` as shown, ``choices``."""
    cls = PROCEDURES[procedure_id]
    hints = typing.get_type_hints(cls.Parameters)
    out = []
    for f in dataclasses.fields(cls.Parameters):
        if f.name in cls.FILE_PARAMETERS:
            continue
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        kind = "choice" if f.name == "decision_rule" else _kind(hints[f.name])
        shown = (", ".join(f"{v:g}" for v in default) if isinstance(default, tuple) else
                 f"{default:g}" if isinstance(default, float) else str(default))
        out.append({"name": f.name, "label": LABELS.get(f.name, f.name.replace("_", " ")),
                    "kind": kind, "default": default, "shown": shown,
                    "choices": [(r.value, RULE_WORDS.get(r.value, r.value))
                                for r in DecisionRule] if kind == "choice" else []})
    return out


def form_name(procedure_id: str, name: str) -> str:
    """The form field's name: per procedure, so each procedure's fieldset keeps its own."""
    return f"p.{procedure_id}.{name}"


def _number(name: str, text: str) -> float:
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        raise ValidationError(name, text[:40], "a number, e.g. 2 or 0.5") from None
    if not math.isfinite(value):
        raise ValidationError(name, text[:40], "a finite number")
    return value


def parse(procedure_id: str, form: Mapping[str, Any]) -> dict[str, Any]:
    """The posted fields of ``procedure_id`` as parameter data (empty fields left out, so
    the procedure's defaults apply). Text that is not a value of the field's kind raises
    ``ValidationError`` naming the parameter; the procedure then checks ranges and rules."""
    if procedure_id not in PROCEDURES:
        return {}
    data: dict[str, Any] = {}
    for field in fields(procedure_id):
        name = field["name"]
        raw = form.get(form_name(procedure_id, name), "")
        text = raw.strip() if isinstance(raw, str) else ""
        if not text:
            continue
        kind = field["kind"]
        if kind == "number":
            data[name] = _number(name, text)
        elif kind == "integer":
            if not text.lstrip("+-").isdigit() or len(text) > 18:
                raise ValidationError(name, text[:40], "a whole number")
            data[name] = int(text)
        elif kind == "list":
            parts = [p for p in text.replace(";", " ").replace(",", " ").split() if p]
            if len(parts) > 50:
                raise ValidationError(name, text[:40], "at most 50 numbers")
            data[name] = [_number(name, p) for p in parts]
        elif kind == "yesno":
            if text not in ("yes", "no"):
                raise ValidationError(name, text[:40], "yes or no")
            data[name] = text == "yes"
        else:
            data[name] = text
    return data
