"""Per-laboratory keys, enveloped XML signatures on DCCs, and their verification."""

from __future__ import annotations

import base64
import stat
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree

from labctl.errors import IntegrityError, NotFoundError, ValidationError
from labctl.platform.documents.dcc import build_dcc
from labctl.platform.documents.model import CertificateDocument
from labctl.platform.documents.signing import (
    LaboratoryKeyStore,
    SigningIdentity,
    content_hash,
    sign_dcc,
    verify_dcc,
)

from .conftest import PTB_EXAMPLES

DS = "{http://www.w3.org/2000/09/xmldsig#}"


@pytest.fixture
def store(tmp_path: Path) -> LaboratoryKeyStore:
    return LaboratoryKeyStore(tmp_path / "keys")


@pytest.fixture
def lab_a(store: LaboratoryKeyStore) -> SigningIdentity:
    return store.get_or_create("LAB-A", "Müller Kalibrierlabor GmbH")


@pytest.fixture
def signed(certificate: CertificateDocument, lab_a: SigningIdentity) -> bytes:
    return sign_dcc(build_dcc(certificate), lab_a)


def test_signed_dcc_verifies_against_the_labs_certificate(signed: bytes,
                                                          lab_a: SigningIdentity) -> None:
    result = verify_dcc(signed, trusted_certificate=lab_a.certificate_pem)
    assert result.valid and result.trusted, result.reason
    assert result.certificate_fingerprint == lab_a.fingerprint
    assert "O=Müller Kalibrierlabor GmbH" in result.signer_subject
    assert "OU=LAB-A" in result.signer_subject
    assert result.unique_identifier == "CAL-2026-000123"


def test_without_trusted_certificate_integrity_is_checked_but_not_trust(
        signed: bytes, lab_a: SigningIdentity) -> None:
    result = verify_dcc(signed)
    assert result.valid and not result.trusted
    assert result.certificate_fingerprint == lab_a.fingerprint


def test_signature_is_the_last_child_and_the_document_stays_schema_valid(
        signed: bytes, lab_a: SigningIdentity) -> None:
    from labctl.platform.documents.schema import validate_dcc

    validate_dcc(signed)
    root = etree.fromstring(signed)
    assert root[-1].tag == f"{DS}Signature"
    signature = root[-1]
    assert signature.find(f"{DS}SignedInfo/{DS}Reference").get("URI") == ""
    assert (signature.find(f"{DS}SignedInfo/{DS}SignatureMethod").get("Algorithm")
            == "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256")
    transforms = [t.get("Algorithm") for t in signature.iterfind(f".//{DS}Transform")]
    assert "http://www.w3.org/2000/09/xmldsig#enveloped-signature" in transforms
    embedded = "".join(signature.findtext(f"{DS}KeyInfo/{DS}X509Data/{DS}X509Certificate").split())
    der = lab_a.certificate.public_bytes(serialization.Encoding.DER)
    assert base64.b64decode(embedded) == der


def test_one_changed_digit_breaks_the_signature(signed: bytes, lab_a: SigningIdentity) -> None:
    original = b"<si:value>10.000398</si:value>"
    assert signed.count(original) == 1
    tampered = signed.replace(original, b"<si:value>10.000399</si:value>")
    for trusted in (None, lab_a.certificate_pem):
        result = verify_dcc(tampered, trusted_certificate=trusted)
        assert not result.valid
        assert "Digest mismatch" in result.reason


def test_changed_administrative_text_breaks_the_signature(signed: bytes) -> None:
    tampered = signed.replace(b"Acme Instruments Ltd", b"Acme Instruments Inc", 1)
    assert tampered != signed
    assert not verify_dcc(tampered).valid


def test_lab_a_document_does_not_verify_against_lab_b(signed: bytes,
                                                      store: LaboratoryKeyStore) -> None:
    lab_b = store.get_or_create("LAB-B", "Other Calibration Ltd")
    result = verify_dcc(signed, trusted_certificate=lab_b.certificate_pem)
    assert not result.valid and result.trusted
    assert "not signed with the trusted certificate" in result.reason
    assert "Other Calibration Ltd" in result.reason


def test_swapped_keyinfo_certificate_is_refused(certificate: CertificateDocument,
                                                store: LaboratoryKeyStore) -> None:
    """A document signed by B but claiming A's certificate verifies against neither."""
    lab_a = store.get_or_create("LAB-A", "Lab A")
    lab_b = store.get_or_create("LAB-B", "Lab B")
    signed_by_b = sign_dcc(build_dcc(certificate), lab_b)
    b_body = "".join(lab_b.certificate_pem.decode().splitlines()[1:-1])
    a_body = "".join(lab_a.certificate_pem.decode().splitlines()[1:-1])
    root = etree.fromstring(signed_by_b)
    node = root.find(f"{DS}Signature/{DS}KeyInfo/{DS}X509Data/{DS}X509Certificate")
    assert "".join(node.text.split()) == b_body
    node.text = a_body
    forged = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    assert not verify_dcc(forged, trusted_certificate=lab_a.certificate_pem).valid
    assert not verify_dcc(forged).valid


def test_unsigned_and_doubly_signed_documents_are_invalid(certificate: CertificateDocument,
                                                          signed: bytes,
                                                          lab_a: SigningIdentity) -> None:
    unsigned = build_dcc(certificate)
    result = verify_dcc(unsigned)
    assert not result.valid and "exactly one ds:Signature" in result.reason
    with pytest.raises(ValidationError, match="unsigned DCC"):
        sign_dcc(signed, lab_a)
    assert not verify_dcc(b"<not-xml").valid


def test_keys_are_created_once_and_reused(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    first = LaboratoryKeyStore(directory).get_or_create("LAB1", "Lab One")
    key_file = directory / "LAB1.key.pem"
    cert_file = directory / "LAB1.cert.pem"
    key_bytes, cert_bytes = key_file.read_bytes(), cert_file.read_bytes()
    # Same store: the cached object. New store (a restarted service): the same files.
    store = LaboratoryKeyStore(directory)
    again = store.get_or_create("LAB1", "A different name is ignored")
    assert again.fingerprint == first.fingerprint
    assert store.get_or_create("LAB1", "Lab One") is again
    assert store.get("LAB1") is again
    assert key_file.read_bytes() == key_bytes and cert_file.read_bytes() == cert_bytes
    assert sorted(p.name for p in directory.iterdir() if not p.name.startswith(".")) == [
        "LAB1.cert.pem", "LAB1.key.pem"]
    with pytest.raises(NotFoundError):
        store.get("LAB2")


def test_key_files_and_certificate(lab_a: SigningIdentity, store: LaboratoryKeyStore) -> None:
    key_mode = stat.S_IMODE((store.directory / "LAB-A.key.pem").stat().st_mode)
    assert key_mode == 0o600
    assert stat.S_IMODE(store.directory.stat().st_mode) & 0o077 == 0
    assert isinstance(lab_a.private_key, ec.EllipticCurvePrivateKey)
    assert lab_a.private_key.curve.name == "secp256r1"
    cert = lab_a.certificate
    assert cert.issuer == cert.subject  # self-signed
    now = datetime.now(UTC)
    assert cert.not_valid_before_utc <= now < cert.not_valid_after_utc
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert lab_a.fingerprint == cert.fingerprint(hashes.SHA256()).hex()


@pytest.mark.parametrize("code", ["", "../etc", "a/b", "LAB 1", ".hidden", "x" * 65])
def test_lab_codes_that_are_not_safe_file_names_are_refused(store: LaboratoryKeyStore,
                                                             code: str) -> None:
    with pytest.raises(ValidationError) as caught:
        store.get_or_create(code, "Lab")
    assert caught.value.field == "lab_code"


def test_a_key_file_that_does_not_match_its_certificate_is_an_integrity_error(
        tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    LaboratoryKeyStore(directory).get_or_create("LAB1", "Lab One")
    LaboratoryKeyStore(directory).get_or_create("LAB2", "Lab Two")
    (directory / "LAB1.cert.pem").write_bytes((directory / "LAB2.cert.pem").read_bytes())
    with pytest.raises(IntegrityError, match="does not belong"):
        LaboratoryKeyStore(directory).get("LAB1")


def test_ptb_example_signature_verifies_at_a_time_its_certificate_was_valid() -> None:
    """Interoperability: PTB's signed example (RSA-SHA256) checks out with our verifier."""
    xml = (PTB_EXAMPLES / "valid_signature.xml").read_bytes()
    cert = (PTB_EXAMPLES / "certs" / "cert.pem").read_bytes()
    at = datetime(2026, 6, 1, tzinfo=UTC)  # the test certificate expires 2027-01-06
    result = verify_dcc(xml, trusted_certificate=cert, at=at)
    assert result.valid, result.reason
    assert "CN=cert" in result.signer_subject
    # A naive time (as SQLite returns stored UTC) is taken as UTC, not refused.
    assert verify_dcc(xml, trusted_certificate=cert, at=at.replace(tzinfo=None)).valid
    expired = verify_dcc(xml, trusted_certificate=cert, at=datetime(2027, 2, 1, tzinfo=UTC))
    assert not expired.valid and "expired" in expired.reason
    tampered = xml.replace(b"<si:valueXMLList>0.072 0.089", b"<si:valueXMLList>0.073 0.089")
    assert not verify_dcc(tampered, trusted_certificate=cert, at=at).valid


def test_content_hash_is_sha256_hex() -> None:
    assert content_hash(b"abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")


def _create_in_process(directory: str) -> str:
    return LaboratoryKeyStore(directory).get_or_create("LAB1", "Lab One").fingerprint


def test_processes_racing_to_create_a_key_end_up_with_one(tmp_path: Path) -> None:
    from concurrent.futures import ProcessPoolExecutor

    directory = str(tmp_path / "keys")
    with ProcessPoolExecutor(4) as pool:
        fingerprints = set(pool.map(_create_in_process, [directory] * 8))
    assert len(fingerprints) == 1
    assert LaboratoryKeyStore(directory).get("LAB1").fingerprint in fingerprints


def test_the_embedded_pdf_is_covered_by_the_signature(certificate: CertificateDocument,
                                                      lab_a: SigningIdentity) -> None:
    from labctl.platform.documents.pdf import render_pdf

    pdf = render_pdf(certificate)
    signed = sign_dcc(build_dcc(certificate, pdf=pdf), lab_a)
    assert verify_dcc(signed, trusted_certificate=lab_a.certificate_pem).valid
    root = etree.fromstring(signed)
    data = root.find("{https://ptb.de/dcc}document/{https://ptb.de/dcc}dataBase64")
    # Swap in another PDF (same certificate, different customer) and keep everything else.
    other = render_pdf(replace(certificate, customer=replace(certificate.customer,
                                                             name="Somebody Else")))
    data.text = base64.b64encode(other).decode()
    forged = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    result = verify_dcc(forged, trusted_certificate=lab_a.certificate_pem)
    assert not result.valid and result.unique_identifier is None


def test_built_and_signed_in_memory_is_what_sign_of_build_gives(
        certificate: CertificateDocument, lab_a: SigningIdentity) -> None:
    """The issue path signs the tree it built (no serialise and parse in between): the same
    document and the same signed content, only the signature value differs (ECDSA)."""
    import re

    from labctl.platform.documents.pdf import render_pdf
    from labctl.platform.documents.schema import validate_dcc
    from labctl.platform.documents.signing import build_signed_dcc

    pdf = render_pdf(certificate)
    in_memory = build_signed_dcc(certificate, pdf=pdf, identity=lab_a)
    two_steps = sign_dcc(build_dcc(certificate, pdf=pdf), lab_a)

    def unsigned_value(xml: bytes) -> bytes:
        return re.sub(rb"<ds:SignatureValue>[^<]*</ds:SignatureValue>", b"", xml)

    assert unsigned_value(in_memory) == unsigned_value(two_steps)
    assert in_memory != two_steps  # so the comparison above did look at two signatures
    validate_dcc(in_memory)
    result = verify_dcc(in_memory, trusted_certificate=lab_a.certificate_pem)
    assert result.valid and result.trusted, result.reason
