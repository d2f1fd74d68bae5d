"""Per-laboratory signing keys, enveloped XML signatures on DCCs, and their verification.

Key choice: **ECDSA on NIST P-256 with SHA-256** (``ecdsa-sha256`` in XML-DSig). It is one of
the two algorithms the DCC README names (with RSA-SHA256), is accepted by ETSI/eIDAS
profiles, signs in well under a millisecond (RSA-3072 takes a few) and gives 64-byte
signatures. Each laboratory has its own key and a self-signed X.509 certificate, created on
first use and kept as PEM files in a directory *outside* the database whose rows they sign,
so a database dump alone cannot forge a certificate.

Files per laboratory code ``LAB``: ``LAB.key.pem`` (PKCS#8, unencrypted, mode 0600 — protect
the directory; an HSM or an encrypted key is the production upgrade) and ``LAB.cert.pem``.

The signature is an enveloped W3C XML-DSig (signxml): ``Reference URI=""`` over the whole
document with the enveloped-signature and C14N 1.1 transforms, the certificate in
``ds:KeyInfo/ds:X509Data``, appended as the last child of the root, where ``dcc.xsd`` allows
``ds:Signature``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier
from lxml import etree
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidInput, SignXMLException
from signxml.signer import XMLSigner
from signxml.verifier import SignatureConfiguration, VerifyResult, XMLVerifier

from labctl.errors import IntegrityError, NotFoundError, ValidationError
from labctl.platform.documents.dcc import build_dcc_tree
from labctl.platform.documents.model import CertificateDocument
from labctl.platform.documents.schema import (
    DccSchemaError,
    parse_untrusted,
    validate_dcc,
    validate_dcc_tree,
)

DS_NS = "http://www.w3.org/2000/09/xmldsig#"

#: How long a laboratory's self-signed certificate is valid, in days.
CERTIFICATE_VALIDITY_DAYS = 10 * 365

#: id-kp-documentSigning (RFC 9336): the key seals documents, not code or TLS.
DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")

_LAB_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def content_hash(data: bytes) -> str:
    """SHA-256 of ``data`` as 64 lower-case hex digits (what the verification page compares)."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class SigningIdentity:
    """A laboratory's private key and the certificate that names it.

    ``certificate_pem`` is what a customer or the verification endpoint uses as the trusted
    certificate; ``fingerprint`` is its SHA-256 over DER, in hex.
    """

    lab_code: str
    private_key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def fingerprint(self) -> str:
        return self.certificate.fingerprint(hashes.SHA256()).hex()

    @property
    def subject(self) -> str:
        return self.certificate.subject.rfc4514_string()


class LaboratoryKeyStore:
    """Keys of the laboratories, one PEM pair per laboratory code in ``directory``.

    Keys are created on first use and loaded once per store (cached in memory), so signing
    many certificates does not re-read or re-parse PEM files. Creation is serialised with a
    file lock, so two processes asking for a new laboratory at once end up with one key.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self._cache: dict[str, SigningIdentity] = {}
        self._lock = threading.Lock()

    def _paths(self, lab_code: str) -> tuple[Path, Path]:
        if not isinstance(lab_code, str) or not _LAB_CODE.fullmatch(lab_code):
            raise ValidationError("lab_code", lab_code,
                                  "1-64 letters, digits, '-' or '_', starting with a letter or "
                                  "digit (it becomes a file name)")
        return (self.directory / f"{lab_code}.key.pem", self.directory / f"{lab_code}.cert.pem")

    def get(self, lab_code: str) -> SigningIdentity:
        """The existing identity of ``lab_code``; :class:`NotFoundError` if it has none."""
        key_path, cert_path = self._paths(lab_code)
        with self._lock:
            if lab_code in self._cache:
                return self._cache[lab_code]
            if not key_path.exists():
                raise NotFoundError("signing key", lab_code)
            identity = self._load(lab_code, key_path, cert_path)
            self._cache[lab_code] = identity
            return identity

    def get_or_create(self, lab_code: str, lab_name: str) -> SigningIdentity:
        """The identity of ``lab_code``, generating key and certificate on first use.

        ``lab_name`` goes into the certificate subject (CN and O) when it is created; an
        existing identity is returned unchanged whatever name is passed.
        """
        key_path, cert_path = self._paths(lab_code)
        if not lab_name.strip():
            raise ValidationError("lab_name", lab_name, "the laboratory's name (not empty)")
        with self._lock:
            if lab_code in self._cache:
                return self._cache[lab_code]
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            # An operator's directory made with the usual umask (0755) would let any local
            # user list the laboratories' keys: the directory holding private keys is 0700.
            mode = stat.S_IMODE(self.directory.stat().st_mode)
            if mode & 0o077:
                self.directory.chmod(mode & 0o700)
            with self._file_lock():
                if not key_path.exists():
                    self._create(lab_code, lab_name.strip(), key_path, cert_path)
                identity = self._load(lab_code, key_path, cert_path)
            self._cache[lab_code] = identity
            return identity

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        """Serialise key creation between processes sharing the directory (POSIX flock)."""
        fd = os.open(self.directory / ".keystore.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @staticmethod
    def _create(lab_code: str, lab_name: str, key_path: Path, cert_path: Path) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([
            x509.NameAttribute(NameOID.COMMON_NAME, f"{lab_name} certificate seal"[:64]),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, lab_name[:64]),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, lab_code),
        ])
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            # An hour of slack for verifiers whose clock runs a little behind.
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=CERTIFICATE_VALIDITY_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=True, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([DOCUMENT_SIGNING]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256())
        )
        key_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        # Write to temporary names, then rename: a crash never leaves half a key behind, and
        # the key file is 0600 from its first byte (no chmod window).
        tmp_key = key_path.with_suffix(".tmp")
        tmp_cert = cert_path.with_suffix(".tmp")
        fd = os.open(tmp_key, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key_pem)
            f.flush()
            os.fsync(f.fileno())
        tmp_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        os.replace(tmp_cert, cert_path)
        os.replace(tmp_key, key_path)  # the key appears last: its presence means "complete"

    @staticmethod
    def _load(lab_code: str, key_path: Path, cert_path: Path) -> SigningIdentity:
        try:
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        except (OSError, ValueError) as exc:
            raise IntegrityError(f"signing identity of {lab_code!r} in {key_path.parent} "
                                 f"cannot be read: {exc}") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise IntegrityError(f"{key_path} is not an EC private key")
        spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        if cert.public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
            raise IntegrityError(f"{cert_path} does not belong to the key in {key_path}")
        return SigningIdentity(lab_code=lab_code, private_key=key, certificate=cert)


def sign_dcc(xml: bytes, identity: SigningIdentity) -> bytes:
    """``xml`` with an enveloped XML signature by ``identity`` appended to the root.

    The input must be a schema-valid DCC without a signature; the signed document is
    validated (the input must be valid, and the signature sit where the schema allows it),
    raising :class:`~labctl.platform.documents.schema.DccSchemaError` otherwise. Nothing may change
    the returned bytes afterwards, not even re-indenting.
    """
    # Only the signed result is validated: it contains the input unchanged, so one schema
    # pass (not two) proves both, and a bad input still never leaves this function.
    return _sign_tree(parse_untrusted(xml), identity)


def build_signed_dcc(doc: CertificateDocument, *, pdf: bytes | None,
                     identity: SigningIdentity) -> bytes:
    """``sign_dcc(build_dcc(doc, pdf=pdf), identity)`` without serialising and parsing the
    unsigned document in between: the same checks (the unsigned DCC against the schema
    before it is signed, the signed one before it is returned), the same bytes but for the
    signature value, with less work per certificate."""
    root = build_dcc_tree(doc, pdf=pdf)
    validate_dcc_tree(root)
    return _sign_tree(root, identity)


def _sign_tree(root: etree._Element, identity: SigningIdentity) -> bytes:
    if root.find(f"{{{DS_NS}}}Signature") is not None:
        raise ValidationError("xml", "ds:Signature present",
                              "an unsigned DCC (sign once, as the last step)")
    signer = XMLSigner(
        signature_algorithm=SignatureMethod.ECDSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.CANONICAL_XML_1_1,
    )
    signed_root = signer.sign(root, key=identity.private_key, cert=[identity.certificate])
    signed = bytes(etree.tostring(signed_root, xml_declaration=True, encoding="UTF-8"))
    validate_dcc(signed)
    return signed


@dataclass(frozen=True)
class DccVerification:
    """The outcome of :func:`verify_dcc`.

    ``valid`` is True only when the signature is intact over the whole document and, if a
    trusted certificate was given, made with that certificate's key. ``trusted`` says whether
    the signer was checked against a trusted certificate at all; without one, ``valid`` means
    "intact and self-consistent", not "from the laboratory you expect".
    """

    valid: bool
    signer_subject: str | None = None
    certificate_fingerprint: str | None = None  # SHA-256 over DER, hex
    reason: str | None = None
    trusted: bool = False
    unique_identifier: str | None = None  # coreData/uniqueIdentifier, only when valid


_EXPECT = SignatureConfiguration(
    require_x509=True,
    expect_references=1,
    signature_methods=frozenset({SignatureMethod.ECDSA_SHA256, SignatureMethod.RSA_SHA256,
                                 SignatureMethod.ECDSA_SHA384, SignatureMethod.RSA_SHA384}),
    digest_algorithms=frozenset({DigestAlgorithm.SHA256, DigestAlgorithm.SHA384}),
)


def _embedded_certificate(root: etree._Element) -> x509.Certificate:
    nodes = root.findall(f"{{{DS_NS}}}Signature/{{{DS_NS}}}KeyInfo/{{{DS_NS}}}X509Data/"
                         f"{{{DS_NS}}}X509Certificate")
    if len(nodes) != 1 or not (nodes[0].text or "").strip():
        raise InvalidInput("expected exactly one X509Certificate in the signature's KeyInfo")
    body = "".join((nodes[0].text or "").split())
    pem = f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n".encode()
    return x509.load_pem_x509_certificate(pem)


_UNIQUE_IDENTIFIER = ("{https://ptb.de/dcc}administrativeData/{https://ptb.de/dcc}coreData/"
                      "{https://ptb.de/dcc}uniqueIdentifier")


def signed_text(root: etree._Element, path: str) -> str | None:
    """The text of the element at ``path`` below ``root``: every text node joined, comments
    and processing instructions skipped (as XML-DSig's canonical form without comments reads
    it). None when there is no such element."""
    element = root if path == "." else root.find(path)
    if element is None:
        return None
    return "".join(str(t) for t in element.xpath("text()"))


def verify_dcc(xml: bytes, *, trusted_certificate: bytes | None = None,
               at: datetime | None = None) -> DccVerification:
    """Check the enveloped signature of a signed DCC.

    With ``trusted_certificate`` (PEM), the signature must have been made with that
    certificate's key. Without it, the certificate embedded in the signature is used: this
    proves the document is unchanged since signing, not who signed it (``trusted=False``).

    ``at`` checks the certificate's validity period at that moment instead of now (to check
    an archived certificate whose signing certificate has since expired); a naive datetime
    is taken as UTC.

    Never raises for a bad document: a tampered, unsigned, malformed or wrongly signed DCC
    gives ``valid=False`` with the reason.
    """
    try:
        root = parse_untrusted(xml)
    except DccSchemaError as exc:
        return DccVerification(valid=False, reason=str(exc))
    signatures = root.findall(f".//{{{DS_NS}}}Signature")
    if len(signatures) != 1 or signatures[0].getparent() is not root or root[-1] is not \
            signatures[0]:
        return DccVerification(valid=False, reason=(
            f"expected exactly one ds:Signature as the last child of the root, found "
            f"{len(signatures)}"))
    reference = signatures[0].find(f"{{{DS_NS}}}SignedInfo/{{{DS_NS}}}Reference")
    if reference is None or reference.get("URI") != "":
        return DccVerification(valid=False, reason=(
            'the signature must reference the whole document (Reference URI="")'))
    try:
        embedded = _embedded_certificate(root)
    except (InvalidInput, ValueError) as exc:
        return DccVerification(valid=False, reason=f"signing certificate unreadable: {exc}")
    subject = embedded.subject.rfc4514_string()
    fingerprint = embedded.fingerprint(hashes.SHA256()).hex()
    try:
        check_cert = (x509.load_pem_x509_certificate(trusted_certificate)
                      if trusted_certificate is not None else embedded)
    except ValueError as exc:
        raise ValidationError("trusted_certificate", trusted_certificate[:40] if
                              trusted_certificate else trusted_certificate,
                              f"a PEM X.509 certificate ({exc})") from None
    try:
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=UTC)  # labctl stores UTC; SQLite returns it without a zone
        expect = _EXPECT if at is None else replace(_EXPECT, verification_time=at)
        verified = XMLVerifier().verify(xml, x509_cert=check_cert, expect_config=expect)
    except SignXMLException as exc:
        reason = f"signature check failed: {exc}".rstrip(": ")
        if trusted_certificate is not None and check_cert != embedded:
            reason = (f"not signed with the trusted certificate "
                      f"({check_cert.subject.rfc4514_string()}); signed by {subject}")
        return DccVerification(valid=False, signer_subject=subject,
                               certificate_fingerprint=fingerprint, reason=reason,
                               trusted=trusted_certificate is not None)
    if trusted_certificate is not None and check_cert != embedded:
        # The key matched but KeyInfo names another certificate: refuse the mismatch rather
        # than report a subject that did not sign.
        return DccVerification(valid=False, signer_subject=subject,
                               certificate_fingerprint=fingerprint, trusted=True,
                               reason="KeyInfo certificate differs from the trusted certificate")
    # Read what the signature covers (signxml's canonical form, comments removed), not the
    # document as parsed: a comment inserted into a signed text is outside the signature, and
    # ``findtext`` on the parsed tree would stop at it and read a prefix (another number).
    identifier = signed_text(verified.signed_xml if isinstance(verified, VerifyResult) and
                             verified.signed_xml is not None else root, _UNIQUE_IDENTIFIER)
    return DccVerification(valid=True, signer_subject=subject,
                           certificate_fingerprint=fingerprint,
                           trusted=trusted_certificate is not None,
                           unique_identifier=identifier)
