"""Realistic certificate documents for the document tests.

A DC-voltage calibration of a 6½-digit DMM as a laboratory issues it: several points on two
ranges, including negative and zero, with per-point conformity against the manufacturer's
one-year specification, and the amended revision 1 of the same certificate.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from labctl.platform.documents.model import (
    CertificateDocument,
    Condition,
    Item,
    Party,
    ResultPoint,
    ResultTable,
    Signatory,
    StandardUsed,
)

D = Decimal  # short, because the fixtures below are tables of numbers
#: PTB's example DCCs and test certificates, copied into the repository (see its README).
PTB_EXAMPLES = Path(__file__).parent / "data" / "ptb"


def _point(nominal: str, ref: str, meas: str, err: str, U: str, limit: str, verdict: str,
           rng: str, unit: str = "V") -> ResultPoint:
    return ResultPoint(
        quantity="DC voltage", unit=unit, nominal=D(nominal), reference_value=D(ref),
        measured_value=D(meas), error=D(err), expanded_uncertainty=D(U),
        coverage_factor=D("2"), coverage_probability=D("0.95"), range_label=rng,
        lower_limit=-D(limit), upper_limit=D(limit), conformity=verdict,
    )


def dmm_certificate() -> CertificateDocument:
    """Revision 0 of a DMM DC-voltage certificate (values rounded per ILAC-P14)."""
    dcv = ResultTable(
        title="DC voltage, as found",
        points=(
            _point("0", "0.0000000", "0.0000021", "0.0000021", "0.0000030", "0.0000060",
                   "pass", "10 V range"),
            _point("1", "1.0000003", "1.0000125", "0.0000122", "0.0000040", "0.0000440",
                   "pass", "10 V range"),
            _point("-1", "-1.0000002", "-1.0000118", "-0.0000116", "0.0000040", "0.0000440",
                   "pass", "10 V range"),
            _point("10", "10.000001", "10.000398", "0.000397", "0.000012", "0.000404",
                   "conditional pass", "10 V range"),
            _point("-10", "-10.000002", "-10.000451", "-0.000449", "0.000012", "0.000404",
                   "fail", "10 V range"),
            _point("100", "100.00001", "100.00290", "0.00289", "0.00012", "0.00470",
                   "pass", "100 V range"),
        ),
        note="Integration time 10 PLC, autozero on, input impedance 10 GΩ on the 10 V range.",
    )
    ohm = ResultTable(
        title="Resistance, 4-wire, as found",
        points=(
            ResultPoint(quantity="Resistance", unit="Ω", nominal=D("100"),
                        reference_value=D("100.00012"), measured_value=D("100.00245"),
                        error=D("0.00233"), expanded_uncertainty=D("0.00080"),
                        coverage_factor=D("2.00"), coverage_probability=D("0.95"),
                        range_label="100 Ω range", lower_limit=D("-0.00600"),
                        upper_limit=D("0.00600"), conformity="pass"),
            ResultPoint(quantity="Resistance", unit="kΩ", nominal=D("10"),
                        reference_value=D("9.9999870"), measured_value=D("10.0000950"),
                        error=D("0.0001080"), expanded_uncertainty=D("0.0000450"),
                        coverage_factor=D("2.05"), coverage_probability=D("0.95"),
                        range_label="10 kΩ range"),
        ),
    )
    return CertificateDocument(
        number="CAL-2026-000123",
        revision=0,
        laboratory=Party(
            name="Müller Kalibrierlabor GmbH",
            address="Bunsenstraße 12\n38116 Braunschweig\nGermany",
            country_code="DE", identifier="D-K-12345-01-00", email="lab@mueller-kal.example",
        ),
        customer=Party(
            name="Acme Instruments Ltd", address="4 Harbour Road\nBristol BS1 5TY\nUnited Kingdom",
            country_code="GB", identifier="CUST-0042", email="qa@acme.example",
        ),
        item=Item(
            description="Digital multimeter, 6½ digit", manufacturer="Keysight Technologies",
            model="34465A", serial_number="MY12345678", identifier="ACME-DMM-017",
            condition_on_receipt="No visible damage; self-test passed.",
        ),
        method="LP-DCV-004 v3: DC voltage and resistance of DMMs by direct comparison with a "
               "multifunction calibrator",
        calibration_begin=datetime(2026, 11, 18, 8, 5, tzinfo=UTC),
        calibration_end=datetime(2026, 11, 18, 11, 40, tzinfo=UTC),
        issue_date=date(2026, 11, 20),
        location="Laboratory, room E.14, Braunschweig",
        receipt_date=date(2026, 11, 16),
        results=(dcv, ohm),
        conditions=(
            Condition("temperature", "°C", D("23.1"), D("22.8"), D("23.4"), D("0.3")),
            Condition("relative humidity", "%", D("41"), D("38"), D("45"), D("3")),
            Condition("pressure", "hPa", D("1008.2"), D("1006.9"), D("1009.0")),
        ),
        standards=(
            StandardUsed(identifier="STD-0007", description="Multifunction calibrator",
                         manufacturer="Fluke", model="5730A", serial_number="4567001",
                         certificate_number="PTB 2.11-4711/25", certificate_issuer="PTB",
                         calibration_date=date(2025, 12, 2), due_date=date(2026, 12, 2)),
            StandardUsed(identifier="STD-0012", description="Reference multimeter",
                         manufacturer="Keysight", model="3458A", serial_number="2823A10001",
                         certificate_number="D-K-15070-01-00 2026-0345",
                         certificate_issuer="Kalibrierdienst Nord"),
        ),
        signatories=(
            Signatory("Anna Schmidt", "performed by", datetime(2026, 11, 18, 11, 45, tzinfo=UTC)),
            Signatory("Jörg Weiß", "checked by", datetime(2026, 11, 19, 9, 10, tzinfo=UTC)),
            Signatory("Dr. Łucja Nowak", "approved by", datetime(2026, 11, 20, 14, 0, tzinfo=UTC)),
        ),
        verification_url="https://certs.mueller-kal.example/verify/CAL-2026-000123?rev=0",
        traceability_statement=(
            "The measurement results are traceable to the International System of Units (SI) "
            "through the national standards of PTB via calibrated reference standards."
        ),
        decision_rule=(
            "Guarded acceptance per ILAC-G8:09/2019 with guard band w = U: pass if |error| <= "
            "limit - U, fail if |error| > limit + U, conditional pass or fail in between."
        ),
        statements=("Adjustment was not performed.",
                    "Temperature coefficient of the item not evaluated."),
    )


def minimal_certificate(certificate: CertificateDocument) -> CertificateDocument:
    """A bare certificate: one point without specification, nothing optional."""
    point = replace(certificate.results[0].points[1], lower_limit=None, upper_limit=None,
                    conformity=None, range_label="")
    return replace(
        certificate, results=(replace(certificate.results[0], points=(point,), note=""),),
        conditions=(), standards=(), signatories=(), statements=(), decision_rule="",
        receipt_date=None, extra={},
        laboratory=Party(name="Lab", country_code="AT"),
        customer=Party(name="Customer"),
        item=replace(certificate.item, identifier="", condition_on_receipt=""),
    )


@pytest.fixture
def certificate() -> CertificateDocument:
    return dmm_certificate()


@pytest.fixture
def amended_certificate() -> CertificateDocument:
    """Revision 1: corrects the customer's address, replacing revision 0."""
    doc = dmm_certificate()
    return replace(
        doc, revision=1, replaces="CAL-2026-000123 rev 0",
        amendment_reason="the customer's postal address was wrong on revision 0",
        issue_date=date(2026, 11, 24),
        customer=replace(doc.customer, address="5 Harbour Road\nBristol BS1 5TY\nUnited Kingdom"),
        verification_url="https://certs.mueller-kal.example/verify/CAL-2026-000123?rev=1",
    )
