"""The DCC 3.3.0 XML: schema-valid, values round-trip digit for digit, bad input refused."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from labctl.errors import IntegrityError, ValidationError
from labctl.platform.documents import dcc as dcc_module
from labctl.platform.documents.dcc import build_dcc
from labctl.platform.documents.model import CertificateDocument, ResultPoint, ResultTable
from labctl.platform.documents.pdf import render_pdf
from labctl.platform.documents.schema import SCHEMA_DIR, DccSchemaError, validate_dcc

from .conftest import PTB_EXAMPLES, minimal_certificate

NS = {"dcc": "https://ptb.de/dcc", "si": "https://ptb.de/si"}
CONFORMITY = {"pass": "pass", "fail": "fail", "conditional pass": "conditionalPass",
              "conditional fail": "conditionalFail"}


def _points(root: etree._Element) -> list[etree._Element]:
    return root.findall(".//dcc:result/dcc:data/dcc:list/dcc:list", NS)


def _real(row: etree._Element, ref_type: str) -> etree._Element:
    (real,) = row.findall(f"dcc:quantity[@refType='{ref_type}']/si:real", NS)
    return real


def _decimal(node: etree._Element, path: str) -> Decimal:
    return Decimal(node.findtext(path, namespaces=NS))


def test_built_dcc_is_valid_against_the_shipped_schema(certificate: CertificateDocument) -> None:
    xml = build_dcc(certificate)
    validate_dcc(xml)  # raises if not
    root = etree.fromstring(xml)
    assert root.tag == "{https://ptb.de/dcc}digitalCalibrationCertificate"
    assert root.get("schemaVersion") == "3.3.0"


def test_every_point_round_trips_exactly(certificate: CertificateDocument) -> None:
    root = etree.fromstring(build_dcc(certificate))
    rows = _points(root)
    expected: list[ResultPoint] = [p for table in certificate.results for p in table.points]
    assert len(rows) == len(expected) == 8
    for row, point in zip(rows, expected, strict=True):
        assert _decimal(_real(row, "basic_calibrationValue"), "si:value") == point.nominal
        ref = _real(row, "basic_referenceValue")
        assert _decimal(ref, "si:value") == point.reference_value
        # Same digits, not just the same number: 0.0000000 stays 0.0000000.
        assert ref.findtext("si:value", namespaces=NS) == format(point.reference_value, "f")
        assert _decimal(_real(row, "basic_measuredValue"), "si:value") == point.measured_value
        err = _real(row, "basic_measurementError")
        assert _decimal(err, "si:value") == point.error
        assert _decimal(err, "si:expandedUnc/si:uncertainty") == point.expanded_uncertainty
        assert _decimal(err, "si:expandedUnc/si:coverageFactor") == point.coverage_factor
        assert (_decimal(err, "si:expandedUnc/si:coverageProbability")
                == point.coverage_probability)
        units = {r.findtext("si:unit", namespaces=NS) for r in row.iterfind(".//si:real", NS)}
        assert units == {{"V": r"\volt", "Ω": r"\ohm", "kΩ": r"\kilo\ohm"}[point.unit]}


def test_negative_and_zero_values_are_written_as_given(certificate: CertificateDocument) -> None:
    root = etree.fromstring(build_dcc(certificate))
    values = [r.findtext("si:value", namespaces=NS) for r in root.iterfind(".//si:real", NS)]
    assert "-10.000451" in values
    assert "-0.0000116" in values
    assert "0" in values and "0.0000000" in values
    assert not any("E" in v or "e" in v for v in values)


def test_conformity_per_point_with_limits(certificate: CertificateDocument) -> None:
    root = etree.fromstring(build_dcc(certificate))
    points = [p for table in certificate.results for p in table.points]
    for row, point in zip(_points(root), points, strict=True):
        meta = row.find("dcc:quantity[@refType='basic_measurementError']/dcc:measurementMetaData/"
                        "dcc:metaData[@refType='basic_conformity']", NS)
        if point.conformity is None and point.lower_limit is None:
            assert meta is None
            continue
        assert meta is not None
        assert meta.findtext("dcc:conformity", namespaces=NS) == CONFORMITY[point.conformity]
        lower = meta.find("dcc:data/dcc:quantity[@refType='basic_acceptanceLimitLower']/si:real",
                          NS)
        upper = meta.find("dcc:data/dcc:quantity[@refType='basic_acceptanceLimitUpper']/si:real",
                          NS)
        assert _decimal(lower, "si:value") == point.lower_limit
        assert _decimal(upper, "si:value") == point.upper_limit
    overall = root.findtext(".//dcc:statements/dcc:statement[@refType='basic_conformity']/"
                            "dcc:conformity", namespaces=NS)
    assert overall == "fail"  # one point fails, so the certificate-level verdict is fail


def test_administrative_data(certificate: CertificateDocument) -> None:
    root = etree.fromstring(build_dcc(certificate))
    core = root.find("dcc:administrativeData/dcc:coreData", NS)
    assert core.findtext("dcc:uniqueIdentifier", namespaces=NS) == "CAL-2026-000123"
    assert core.findtext("dcc:countryCodeISO3166_1", namespaces=NS) == "DE"
    assert core.findtext("dcc:beginPerformanceDate", namespaces=NS) == "2026-11-18"
    assert core.findtext("dcc:issueDate", namespaces=NS) == "2026-11-20"
    assert core.findtext("dcc:performanceLocation", namespaces=NS) == "laboratory"
    assert core.find("dcc:reportAmendedSubstituted", NS) is None
    adm = root.find("dcc:administrativeData", NS)
    assert adm.findtext("dcc:dccSoftware/dcc:software/dcc:name/dcc:content",
                        namespaces=NS) == "labctl"
    assert adm.findtext("dcc:dccSoftware/dcc:software/dcc:release", namespaces=NS).startswith("v")
    assert adm.findtext("dcc:calibrationLaboratory/dcc:calibrationLaboratoryCode",
                        namespaces=NS) == "D-K-12345-01-00"
    serials = [i.findtext("dcc:value", namespaces=NS)
               for i in adm.iterfind("dcc:items/dcc:item/dcc:identifications/dcc:identification",
                                     NS)]
    assert serials == ["MY12345678", "ACME-DMM-017"]
    signers = [(p.findtext("dcc:person/dcc:name/dcc:content", namespaces=NS),
                p.findtext("dcc:mainSigner", namespaces=NS))
               for p in adm.iterfind("dcc:respPersons/dcc:respPerson", NS)]
    assert signers == [("Anna Schmidt", None), ("Jörg Weiß", None), ("Dr. Łucja Nowak", "true")]


def test_standards_carry_their_certificate_numbers(certificate: CertificateDocument) -> None:
    root = etree.fromstring(build_dcc(certificate))
    equipment = root.findall(".//dcc:measuringEquipments/dcc:measuringEquipment", NS)
    assert [e.get("refType") for e in equipment] == ["basic_normalUsed"] * 2
    ids = [[i.findtext("dcc:value", namespaces=NS) for i in e.iterfind(".//dcc:identification", NS)]
           for e in equipment]
    assert "PTB 2.11-4711/25 (PTB)" in ids[0]
    assert "D-K-15070-01-00 2026-0345 (Kalibrierdienst Nord)" in ids[1]


def test_influence_conditions_min_max_mean(certificate: CertificateDocument) -> None:
    root = etree.fromstring(build_dcc(certificate))
    temp = root.find(".//dcc:influenceCondition[@refType='basic_temperature']", NS)
    got = {q.get("refType"): (Decimal(q.findtext("si:real/si:value", namespaces=NS)),
                              q.findtext("si:real/si:unit", namespaces=NS))
           for q in temp.iterfind("dcc:data/dcc:quantity", NS)}
    assert got == {"basic_temperatureMin": (Decimal("22.8"), r"\degreecelsius"),
                   "basic_temperatureMax": (Decimal("23.4"), r"\degreecelsius"),
                   "labctl_temperatureMean": (Decimal("23.1"), r"\degreecelsius")}
    rh = root.find(".//dcc:influenceCondition[@refType='basic_humidityRelative']", NS)
    assert {q.findtext("si:real/si:unit", namespaces=NS)
            for q in rh.iterfind("dcc:data/dcc:quantity", NS)} == {r"\percent"}
    pressure = root.find(".//dcc:influenceCondition[@refType='labctl_pressureAmbient']", NS)
    assert pressure.findtext("dcc:data/dcc:quantity/si:real/si:unit",
                             namespaces=NS) == r"\hecto\pascal"


def test_amendment_is_declared(amended_certificate: CertificateDocument) -> None:
    root = etree.fromstring(build_dcc(amended_certificate))
    core = root.find("dcc:administrativeData/dcc:coreData", NS)
    assert core.findtext("dcc:uniqueIdentifier", namespaces=NS) == "CAL-2026-000123 rev 1"
    assert core.findtext("dcc:reportAmendedSubstituted/dcc:typeOfChange",
                         namespaces=NS) == "amended"
    assert core.findtext("dcc:reportAmendedSubstituted/dcc:replacedUniqueIdentifier",
                         namespaces=NS) == "CAL-2026-000123 rev 0"
    text = etree.tostring(root, encoding="unicode")
    assert "the customer's postal address was wrong on revision 0" in text


def test_pdf_is_embedded_and_recoverable(certificate: CertificateDocument) -> None:
    pdf = render_pdf(certificate)
    root = etree.fromstring(build_dcc(certificate, pdf=pdf))
    doc = root.find("dcc:document", NS)
    assert doc is not None and root[-1] is doc
    assert doc.findtext("dcc:mimeType", namespaces=NS) == "application/pdf"
    assert doc.findtext("dcc:fileName", namespaces=NS) == "CAL-2026-000123.pdf"
    assert base64.b64decode(doc.findtext("dcc:dataBase64", namespaces=NS)) == pdf


def test_expanded_mu_form_is_also_valid(certificate: CertificateDocument) -> None:
    root = etree.fromstring(build_dcc(certificate, uncertainty_form="expandedMU"))
    err = _real(_points(root)[3], "basic_measurementError")
    assert _decimal(err, "si:measurementUncertaintyUnivariate/si:expandedMU/si:valueExpandedMU"
                    ) == Decimal("0.000012")
    assert root.find(".//si:expandedUnc", NS) is None


def test_broken_document_is_rejected_with_line_and_element(
        certificate: CertificateDocument) -> None:
    xml = build_dcc(certificate).replace(b"<si:coverageFactor>2</si:coverageFactor>",
                                         b"<si:coverageFactor>two</si:coverageFactor>", 1)
    with pytest.raises(DccSchemaError) as caught:
        validate_dcc(xml)
    err = caught.value
    assert isinstance(err, IntegrityError)
    line, path, message = err.errors[0]
    assert line > 0 and "coverageFactor" in path and "'two'" in message
    assert f"line {line}" in str(err) and "coverageFactor" in str(err)


def test_wrong_schema_version_and_missing_element_are_rejected(
        certificate: CertificateDocument) -> None:
    xml = build_dcc(certificate)
    with pytest.raises(DccSchemaError, match="schemaVersion"):
        validate_dcc(xml.replace(b'schemaVersion="3.3.0"', b'schemaVersion="3.2.1"'))
    root = etree.fromstring(xml)
    core = root.find("dcc:administrativeData/dcc:coreData", NS)
    core.remove(core.find("dcc:uniqueIdentifier", NS))
    with pytest.raises(DccSchemaError, match="uniqueIdentifier"):
        validate_dcc(etree.tostring(root))


def test_not_well_formed_xml_is_an_integrity_error() -> None:
    with pytest.raises(IntegrityError, match="not well-formed"):
        validate_dcc(b"<dcc:digitalCalibrationCertificate>")


def test_external_entities_are_not_resolved(tmp_path) -> None:  # type: ignore[no-untyped-def]
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    xml = (f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>'
           '<dcc:digitalCalibrationCertificate xmlns:dcc="https://ptb.de/dcc" '
           'schemaVersion="3.3.0">&x;</dcc:digitalCalibrationCertificate>').encode()
    with pytest.raises(DccSchemaError) as caught:
        validate_dcc(xml)
    assert "TOPSECRET" not in str(caught.value)


def test_shipped_ptb_examples_validate() -> None:
    validate_dcc((PTB_EXAMPLES / "valid.xml").read_bytes())
    validate_dcc((PTB_EXAMPLES / "valid_signature.xml").read_bytes())


#: SHA-256 of the reviewed schema files (as listed in the schemas' README).
REVIEWED_SCHEMAS = {
    "dcc.xsd": "b8872150500d2d8bdd66817d27e7ee16b4df7037e803cf316483b98174a7f73f",
    "SI_Format.xsd": "10c3415fa1194357e3b181d5bd2413bf894594c01e3fa9e76c3b482db6c3d617",
    "qudt/quantitykind.xsd": "7fe0038a3c423ca26c07618667e11266473df777315a8d560f72869520dcf199",
    "xmldsig-core-schema.xsd": "b44ee18f3cbf818c09b07f9e1fecd2009d1a580b9fc62776dc5ad6ce7eccedcf",
}


def test_package_schemas_are_the_reviewed_copies() -> None:
    for name, reviewed in REVIEWED_SCHEMAS.items():
        shipped = hashlib.sha256((SCHEMA_DIR / name).read_bytes()).hexdigest()
        assert shipped == reviewed, name
    assert (SCHEMA_DIR / "LICENSES" / "LGPL-3.0.txt").is_file()


@pytest.mark.parametrize(("change", "field", "allowed"), [
    ({"unit": "furlong"}, "results[0].points[1].unit", "one of"),
    ({"coverage_factor": Decimal("0.5")}, "results[0].points[1].coverage_factor", "k >= 1"),
    ({"coverage_probability": Decimal("95")}, "results[0].points[1].coverage_probability",
     "(0, 1]"),
    ({"expanded_uncertainty": Decimal("-0.1")},
     "results[0].points[1].expanded_uncertainty", "U >= 0"),
    ({"error": Decimal("NaN")}, "results[0].points[1].error", "finite"),
    ({"error": 0.1}, "results[0].points[1].error", "decimal.Decimal"),
    ({"conformity": "ok"}, "results[0].points[1].conformity", "'conditional pass'"),
    ({"lower_limit": Decimal(1), "upper_limit": Decimal(-1)},
     "results[0].points[1].lower_limit", "at most the upper limit"),
])
def test_bad_points_are_refused_naming_the_field(certificate: CertificateDocument,
                                                 change: dict[str, object], field: str,
                                                 allowed: str) -> None:
    table = certificate.results[0]
    points = list(table.points)
    points[1] = replace(points[1], **change)
    doc = replace(certificate, results=(replace(table, points=tuple(points)),
                                        *certificate.results[1:]))
    with pytest.raises(ValidationError) as caught:
        build_dcc(doc)
    assert caught.value.field == field
    assert allowed in caught.value.allowed


@pytest.mark.parametrize(("change", "field"), [
    ({"revision": 1}, "replaces"),
    ({"revision": 1, "replaces": "CAL-2026-000123 rev 0"}, "amendment_reason"),
    ({"language": "english"}, "language"),
    ({"performance_location": "garage"}, "performance_location"),
    ({"results": ()}, "results"),
    ({"number": "  "}, "number"),
])
def test_bad_documents_are_refused(certificate: CertificateDocument, change: dict[str, object],
                                   field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        build_dcc(replace(certificate, **change))
    assert caught.value.field == field


def test_bad_country_code_is_refused(certificate: CertificateDocument) -> None:
    doc = replace(certificate, laboratory=replace(certificate.laboratory, country_code="de"))
    with pytest.raises(ValidationError, match=r"laboratory\.country_code"):
        build_dcc(doc)


def test_prefixed_and_alias_units_map_to_dsi() -> None:
    from labctl.platform.documents._format import dsi_unit

    assert dsi_unit("mV") == r"\milli\volt"
    assert dsi_unit("µV") == r"\micro\volt"
    assert dsi_unit("ohm") == r"\ohm"
    assert dsi_unit("MΩ") == r"\mega\ohm"
    assert dsi_unit("degC") == r"\degreecelsius"
    with pytest.raises(ValidationError):
        dsi_unit("m°C")


def test_uncertainty_sentence_is_ilac_p14() -> None:
    sentence = dcc_module.UNCERTAINTY_STATEMENT
    assert sentence.startswith("The reported expanded uncertainty of measurement is stated as "
                               "the standard uncertainty of measurement multiplied by the "
                               "coverage factor k")
    assert "approximately 95 %" in sentence


def test_every_ref_type_is_ptb_basic_or_declared(certificate: CertificateDocument) -> None:
    """labctl's own tags are declared in refTypeDefinitions, not passed off as PTB's."""
    root = etree.fromstring(build_dcc(certificate))
    used = {tag for node in root.iter() for tag in (node.get("refType") or "").split()}
    ptb_basic = {"basic_conformity", "basic_uncertainty", "basic_normalUsed",
                 "basic_calibrationValue", "basic_referenceValue", "basic_measuredValue",
                 "basic_measurementError", "basic_acceptanceLimitLower",
                 "basic_acceptanceLimitUpper", "basic_temperature", "basic_temperatureMin",
                 "basic_temperatureMax", "basic_humidityRelative", "basic_humidityRelativeMin",
                 "basic_humidityRelativeMax"}
    own = used - ptb_basic
    assert own and all(tag.startswith("labctl_") for tag in own), own
    (definition,) = root.findall(
        "dcc:administrativeData/dcc:refTypeDefinitions/dcc:refTypeDefinition", NS)
    assert definition.findtext("dcc:namespace", namespaces=NS) == "labctl"
    declared = {c.text.split(":")[0] for c in definition.iterfind("dcc:description/dcc:content",
                                                                   NS)}
    assert declared == own


# The lexical pattern of si:decimalType in SI_Format.xsd (D-SI 2.2.1).
SI_DECIMAL = r"[-+]?((\d*\.\d+)|(\d+\.\d*)|(\d+\.?))([Ee][-+]?\d+)?|NaN"


@settings(max_examples=300, deadline=None)
@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=Decimal("-1e12"),
                   max_value=Decimal("1e12"), places=None))
def test_any_finite_decimal_is_written_in_si_form_and_reads_back_equal(value: Decimal) -> None:
    import re

    from labctl.platform.documents._format import plain

    text = plain(value, field="value")
    assert re.fullmatch(SI_DECIMAL, text)
    assert Decimal(text) == value
    assert "e" not in text.lower()


def test_minimal_document_is_valid(certificate: CertificateDocument) -> None:
    root = etree.fromstring(build_dcc(minimal_certificate(certificate)))
    assert root.find(".//dcc:statement[@refType='basic_conformity']", NS) is None
    assert root.find(".//dcc:measuringEquipments", NS) is None
    assert root.find(".//dcc:influenceConditions", NS) is None
    assert root.find(".//dcc:metaData", NS) is None
    # respPersons needs an entry: an unsigned draft names the laboratory.
    assert root.findtext(".//dcc:respPerson/dcc:role", namespaces=NS) == "issuing laboratory"


def test_temperature_results_and_other_language(certificate: CertificateDocument) -> None:
    """A thermometer certificate in °C, issued in German: languages declared correctly."""
    point = ResultPoint(quantity="Temperature", unit="°C", nominal=Decimal("100"),
                        reference_value=Decimal("99.987"), measured_value=Decimal("100.012"),
                        error=Decimal("0.025"), expanded_uncertainty=Decimal("0.030"),
                        coverage_factor=Decimal("2"), coverage_probability=Decimal("0.95"))
    doc = replace(minimal_certificate(certificate), language="de",
                  results=(ResultTable(title="Temperatur", points=(point,)),))
    root = etree.fromstring(build_dcc(doc))
    core = root.find("dcc:administrativeData/dcc:coreData", NS)
    assert [e.text for e in core.iterfind("dcc:usedLangCodeISO639_1", NS)] == ["de", "en"]
    assert core.findtext("dcc:mandatoryLangCodeISO639_1", namespaces=NS) == "de"
    langs = {c.get("lang") for c in root.iter("{https://ptb.de/dcc}content")}
    assert langs == {"de", "en"}
    err = _real(_points(root)[0], "basic_measurementError")
    assert err.findtext("si:unit", namespaces=NS) == r"\degreecelsius"
    assert _decimal(err, "si:value") == Decimal("0.025")


def test_embedding_something_that_is_not_a_pdf_is_refused(certificate: CertificateDocument) -> None:
    with pytest.raises(ValidationError) as caught:
        build_dcc(certificate, pdf=b"<html>certificate</html>")
    assert caught.value.field == "pdf"



_FIRST_ISSUES_AT_ONCE = """
import sys, threading
from pathlib import Path
from fastapi.testclient import TestClient
from lxml import etree
from labctl.api import create_app
from labctl.platform.documents.dcc import build_dcc_tree
from labctl.platform.documents.schema import dcc_schema, validate_dcc
from labctl.platform.settings import Settings
from tests.documents.conftest import dmm_certificate

tmp = Path(sys.argv[1])
xml = etree.tostring(build_dcc_tree(dmm_certificate()))  # built, not validated yet
app = create_app(Settings(database_url=f"sqlite:///{tmp / 'platform.db'}", keys_dir=tmp / "keys"))
gate, schemas, errors = threading.Barrier(4), [], []

def first_use():
    gate.wait(timeout=30)
    try:
        validate_dcc(xml)
        schemas.append(id(dcc_schema()))
    except Exception as exc:
        errors.append(repr(exc))

with TestClient(app):  # the server has started: what its request threads would do at once
    from labctl.platform.documents import schema
    print("compiled before the first request:", bool(schema._compiled))
    threads = [threading.Thread(target=first_use) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
print(len(set(schemas)), len(schemas), errors)
"""


@pytest.mark.timeout(90)
def test_a_freshly_started_server_validates_in_four_threads_at_once(tmp_path: Path) -> None:
    # An API worker's thread pool issues certificates in parallel from its first requests:
    # compiling the schema while other threads parse XML failed now and then (a 500 on the
    # first issues through a freshly started worker). A fresh interpreter, so nothing was
    # compiled before; the server compiles it as it starts, and four threads then validate.
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", _FIRST_ISSUES_AT_ONCE, str(tmp_path)],
                         cwd=root, capture_output=True, text=True, timeout=80, check=True).stdout
    compiled, found = out.strip().splitlines()
    assert compiled == "compiled before the first request: True", out
    assert found == "1 4 []", out  # one compiled schema, four validations, no error
