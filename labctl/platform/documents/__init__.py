"""Certificate documents: the PDF report and the PTB Digital Calibration Certificate (DCC).

The input is one frozen :class:`~labctl.platform.documents.model.CertificateDocument` built by
the certificate workflow from stored records; this package renders, validates, signs and
verifies, and never touches the database.

Public API (imported lazily, so importing the model does not load fpdf2, lxml or signxml)::

    render_pdf(doc) -> bytes                                   # pdf.py
    build_dcc(doc, *, pdf=None) -> bytes                       # dcc.py, schema-validated
    validate_dcc(xml) -> None                                  # schema.py, IntegrityError
    LaboratoryKeyStore(directory).get_or_create(code, name)    # signing.py
    sign_dcc(xml, identity) -> bytes
    build_signed_dcc(doc, *, pdf, identity) -> bytes            # both, without a re-parse
    verify_dcc(xml, *, trusted_certificate=None) -> DccVerification
    content_hash(data) -> str                                  # SHA-256 hex
    check_document(doc) -> None                                # checks.py, ValidationError
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "render_pdf": "pdf",
    "build_dcc": "dcc",
    "document_identifier": "dcc",
    "validate_dcc": "schema",
    "DccSchemaError": "schema",
    "LaboratoryKeyStore": "signing",
    "SigningIdentity": "signing",
    "DccVerification": "signing",
    "sign_dcc": "signing",
    "build_signed_dcc": "signing",
    "verify_dcc": "signing",
    "content_hash": "signing",
    "check_document": "checks",
}

__all__ = [
    "DccSchemaError",
    "DccVerification",
    "LaboratoryKeyStore",
    "SigningIdentity",
    "build_dcc",
    "build_signed_dcc",
    "check_document",
    "content_hash",
    "document_identifier",
    "render_pdf",
    "sign_dcc",
    "validate_dcc",
    "verify_dcc",
]

if TYPE_CHECKING:
    from labctl.platform.documents.checks import check_document
    from labctl.platform.documents.dcc import build_dcc, document_identifier
    from labctl.platform.documents.pdf import render_pdf
    from labctl.platform.documents.schema import DccSchemaError, validate_dcc
    from labctl.platform.documents.signing import (
        DccVerification,
        LaboratoryKeyStore,
        SigningIdentity,
        build_signed_dcc,
        content_hash,
        sign_dcc,
        verify_dcc,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)
