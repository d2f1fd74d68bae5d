"""Checks on a :class:`CertificateDocument` before anything is rendered.

Both renderers call :func:`check_document` first, so a bad document is refused with a
specific :class:`~labctl.errors.ValidationError` (field, value, what is allowed) instead of
yielding a half-written PDF or a DCC that only the schema validator would catch.
"""

from __future__ import annotations

import re
from decimal import Decimal

from labctl.errors import ValidationError
from labctl.platform.documents._format import dcc_conformity, dsi_unit, plain
from labctl.platform.documents.model import BudgetLine, CertificateDocument, ResultPoint

#: DCC performanceLocation values.
PERFORMANCE_LOCATIONS = ("laboratory", "customer", "laboratoryBranch", "customerBranch", "other")

_COUNTRY = re.compile(r"[A-Z]{2}")
_LANGUAGE = re.compile(r"[a-z]{2}")


def _text(field: str, value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, value, "a non-empty text")


def _point(where: str, p: ResultPoint) -> None:
    dsi_unit(p.unit, field=f"{where}.unit")
    for name in ("nominal", "reference_value", "measured_value", "error",
                 "expanded_uncertainty", "coverage_factor", "coverage_probability"):
        plain(getattr(p, name), field=f"{where}.{name}")
    if p.expanded_uncertainty < 0:
        raise ValidationError(f"{where}.expanded_uncertainty", p.expanded_uncertainty,
                              "U >= 0, in the unit of the point")
    if p.coverage_factor < 1:
        raise ValidationError(f"{where}.coverage_factor", p.coverage_factor, "k >= 1")
    if not Decimal(0) < p.coverage_probability <= 1:
        raise ValidationError(f"{where}.coverage_probability", p.coverage_probability,
                              "a probability in (0, 1], e.g. 0.95")
    for name in ("lower_limit", "upper_limit"):
        value = getattr(p, name)
        if value is not None:
            plain(value, field=f"{where}.{name}")
    if (p.lower_limit is not None and p.upper_limit is not None
            and p.lower_limit > p.upper_limit):
        raise ValidationError(f"{where}.lower_limit", p.lower_limit,
                              f"at most the upper limit {p.upper_limit}")
    if p.conformity is not None:
        dcc_conformity(p.conformity, field=f"{where}.conformity")
    if p.dof is not None and not (p.dof.is_finite() and p.dof > 0):
        raise ValidationError(f"{where}.dof", p.dof, "degrees of freedom > 0, or None "
                              "(infinite)")
    for i, line in enumerate(p.budget):
        _budget_line(f"{where}.budget[{i}]", line)


def _budget_line(where: str, b: BudgetLine) -> None:
    _text(f"{where}.name", b.name)
    _text(f"{where}.distribution", b.distribution)
    for name in ("estimate", "standard_uncertainty", "sensitivity", "contribution"):
        plain(getattr(b, name), field=f"{where}.{name}")
    for name in ("standard_uncertainty", "contribution"):
        if getattr(b, name) < 0:
            raise ValidationError(f"{where}.{name}", getattr(b, name), ">= 0")
    if b.unit is not None:
        dsi_unit(b.unit, field=f"{where}.unit")
    if b.dof is not None and not (b.dof.is_finite() and b.dof > 0):
        raise ValidationError(f"{where}.dof", b.dof, "degrees of freedom > 0, or None "
                              "(infinite)")


def check_document(doc: CertificateDocument) -> None:
    """Refuse a document that cannot be issued as a correct PDF and DCC.

    Checks the things both outputs need: texts that must not be empty, ISO codes, dates in
    order, a known unit for every point, finite Decimal values, U >= 0, k >= 1,
    0 < p <= 1, limits in order and known conformity verdicts.
    """
    _text("number", doc.number)
    if not isinstance(doc.revision, int) or doc.revision < 0:
        raise ValidationError("revision", doc.revision, "an integer >= 0")
    if doc.revision > 0 and not (doc.replaces or "").strip():
        raise ValidationError("replaces", doc.replaces,
                              "the number and revision this amendment replaces (revision > 0)")
    if doc.revision > 0 and not doc.amendment_reason.strip():
        raise ValidationError("amendment_reason", doc.amendment_reason,
                              "the reason for the amendment (ISO/IEC 17025 7.8.8.2)")
    _text("laboratory.name", doc.laboratory.name)
    if not _COUNTRY.fullmatch(doc.laboratory.country_code):
        raise ValidationError("laboratory.country_code", doc.laboratory.country_code,
                              "an ISO 3166-1 alpha-2 code in capitals, e.g. 'DE'")
    if doc.customer.country_code and not _COUNTRY.fullmatch(doc.customer.country_code):
        raise ValidationError("customer.country_code", doc.customer.country_code,
                              "an ISO 3166-1 alpha-2 code in capitals, or empty")
    if not _LANGUAGE.fullmatch(doc.language):
        raise ValidationError("language", doc.language, "an ISO 639-1 code, e.g. 'en'")
    _text("customer.name", doc.customer.name)
    _text("item.description", doc.item.description)
    _text("item.serial_number", doc.item.serial_number)
    _text("method", doc.method)
    _text("location", doc.location)
    _text("verification_url", doc.verification_url)
    _text("traceability_statement", doc.traceability_statement)
    if doc.calibration_end < doc.calibration_begin:
        raise ValidationError("calibration_end", doc.calibration_end,
                              f"not before calibration_begin {doc.calibration_begin}")
    if doc.performance_location not in PERFORMANCE_LOCATIONS:
        raise ValidationError("performance_location", doc.performance_location,
                              "one of " + ", ".join(PERFORMANCE_LOCATIONS))
    if not doc.results:
        raise ValidationError("results", doc.results, "at least one result table")
    for t, table in enumerate(doc.results):
        _text(f"results[{t}].title", table.title)
        if not table.points:
            raise ValidationError(f"results[{t}].points", table.points, "at least one point")
        for i, point in enumerate(table.points):
            _point(f"results[{t}].points[{i}]", point)
    for c, cond in enumerate(doc.conditions):
        dsi_unit(cond.unit, field=f"conditions[{c}].unit")
        for name in ("mean", "minimum", "maximum"):
            plain(getattr(cond, name), field=f"conditions[{c}].{name}")
        if not cond.minimum <= cond.mean <= cond.maximum:
            raise ValidationError(f"conditions[{c}].mean", cond.mean,
                                  f"between minimum {cond.minimum} and maximum {cond.maximum}")
        if cond.uncertainty is not None:
            plain(cond.uncertainty, field=f"conditions[{c}].uncertainty")
    for s, std in enumerate(doc.standards):
        _text(f"standards[{s}].description", std.description)
        _text(f"standards[{s}].certificate_number", std.certificate_number)
    for s, signatory in enumerate(doc.signatories):
        _text(f"signatories[{s}].name", signatory.name)
        _text(f"signatories[{s}].role", signatory.role)
