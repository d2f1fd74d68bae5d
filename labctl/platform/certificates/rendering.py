"""From stored rows to the issued documents: a frozen ``CertificateDocument``, its PDF and its
signed DCC (rendered by ``labctl.platform.documents``), and the signature check for
verification.

The DCC embeds the PDF, so the one signature covers both; the content hash published by the
verification endpoint is the SHA-256 of the signed DCC bytes as stored.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from sqlmodel import Session

from labctl.platform import documents, traceability
from labctl.platform.documents.model import (
    BudgetLine,
    CertificateDocument,
    Condition,
    Item,
    Party,
    ResultPoint,
    ResultTable,
    Signatory,
    StandardUsed,
)
from labctl.platform.models.certificates import Certificate
from labctl.platform.models.org import Organisation
from labctl.platform.results.records import UsedStandard, standards_used, users_by_id
from labctl.platform.results.reporting import Reported, decision_rule_text
from labctl.platform.settings import Settings
from labctl.uncertainty import exact_decimal


def build_document(session: Session, cert: Certificate, reported: Sequence[Reported],
                   settings: Settings, *, used: Sequence[UsedStandard] | None = None
                   ) -> CertificateDocument:
    """The certificate as printed (ISO/IEC 17025 7.8.2, 7.8.4), from the stored rows.

    ``used``: the certificate's ``standards_used`` when the caller loaded them already.
    """
    lab = session.get(Organisation, cert.organisation_id)
    assert lab is not None
    customer = session.get(Organisation, cert.customer_organisation_id) \
        if cert.customer_organisation_id else None
    tables: dict[str, list[ResultPoint]] = {}
    for r in reported:
        p = r.point
        tables.setdefault(p.table_title, []).append(ResultPoint(
            quantity=p.quantity, unit=p.unit, nominal=p.nominal, reference_value=r.reference,
            measured_value=r.measured, error=r.error, expanded_uncertainty=r.U,
            coverage_factor=p.coverage_factor, coverage_probability=p.coverage_probability,
            range_label=p.range_label, lower_limit=p.lower_limit, upper_limit=p.upper_limit,
            conformity=r.conformity,
            dof=None if p.dof is None else exact_decimal(p.dof),
            budget=tuple(_budget_line(b) for b in p.budget or ())))
    standards = []
    for _, std, cal in standards_used(session, cert) if used is None else used:
        standards.append(StandardUsed(
            identifier=std.identifier, description=std.description,
            manufacturer=std.manufacturer or "-", model=std.model or "-",
            serial_number=std.serial_number or "-",
            certificate_number=cal.certificate_number if cal else "national primary standard",
            certificate_issuer=cal.issuer if cal else lab.name,
            calibration_date=cal.calibrated_on if cal else None,
            due_date=cal.due_date if cal else None))

    people = users_by_id(session, cert.performed_by_id, cert.checked_by_id, cert.approved_by_id)

    def person(user_id: int | None) -> str:
        user = people.get(user_id) if user_id is not None else None
        return user.full_name if user else ""

    signatories = (
        Signatory(person(cert.performed_by_id), "performed by", cert.calibration_end),
        Signatory(person(cert.checked_by_id), "checked by", cert.checked_at),
        Signatory(person(cert.approved_by_id), "approved by", cert.issued_at),
    )
    replaces = None
    if cert.replaces_id is not None:
        old = session.get(Certificate, cert.replaces_id)
        assert old is not None
        replaces = f"{old.number} rev {old.revision}"
    statements = list(cert.statements)
    verdicts = [r.conformity for r in reported if r.conformity]
    if verdicts:
        statements.append(
            f"Statement of conformity: {sum(v in ('pass', 'conditional pass') for v in verdicts)}"
            f" of {len(verdicts)} points conform to the stated tolerance limits.")
    assert cert.issue_date is not None
    return CertificateDocument(
        number=cert.number, revision=cert.revision,
        laboratory=Party(name=lab.name, address=lab.address, country_code=lab.country_code,
                         identifier=lab.accreditation),
        customer=Party(name=cert.customer_name, address=cert.customer_address,
                       country_code=customer.country_code if customer else ""),
        item=Item(description=cert.item_description,
                  manufacturer=cert.item_manufacturer or "-", model=cert.item_model or "-",
                  serial_number=cert.item_serial_number or "-",
                  identifier=cert.item_identifier),
        method=f"{cert.procedure}: {cert.method}",
        calibration_begin=cert.calibration_begin, calibration_end=cert.calibration_end,
        issue_date=cert.issue_date, location=cert.location,
        results=tuple(ResultTable(title=t, points=tuple(ps)) for t, ps in tables.items()),
        conditions=tuple(Condition(
            quantity=c["quantity"], unit=c["unit"], mean=Decimal(c["mean"]),
            minimum=Decimal(c["minimum"]), maximum=Decimal(c["maximum"]),
            uncertainty=Decimal(c["uncertainty"]) if c.get("uncertainty") else None)
            for c in cert.conditions),
        standards=tuple(standards), signatories=signatories,
        verification_url=settings.public_url + verification_page(cert.number),
        traceability_statement=traceability.statement(session, cert),
        decision_rule=decision_rule_text(cert.decision_rule),
        statements=tuple(statements), receipt_date=cert.receipt_date, replaces=replaces,
        amendment_reason=cert.amendment_reason,
    )


def verification_page(number: str, revision: int | None = None) -> str:
    """The path of a certificate's public verification page (what its QR code opens, after
    ``LABCTL_PUBLIC_URL``); the JSON answer stays at ``/api/v1/verify/{number}``."""
    return f"/verify/{quote(number, safe='')}" + (
        f"?revision={revision}" if revision is not None else "")


def _budget_line(line: dict[str, Any]) -> BudgetLine:
    """A stored budget line (:class:`~labctl.platform.models.certificates.BudgetLineIn` as
    JSON: numbers as exact decimal text) for the documents."""
    return BudgetLine(
        name=line["name"], estimate=Decimal(line["estimate"]),
        standard_uncertainty=Decimal(line["standard_uncertainty"]),
        distribution=line["distribution"], sensitivity=Decimal(line["sensitivity"]),
        contribution=Decimal(line["contribution"]), unit=line.get("unit"),
        dof=None if line.get("dof") is None else exact_decimal(line["dof"]))


def render_and_sign(session: Session, cert: Certificate, reported: Sequence[Reported],
                    settings: Settings, *, used: Sequence[UsedStandard] | None = None
                    ) -> tuple[bytes, bytes, str]:
    """``(pdf, signed_dcc, content_hash)`` for a certificate being issued."""

    lab = session.get(Organisation, cert.organisation_id)
    assert lab is not None
    doc = build_document(session, cert, reported, settings, used=used)
    pdf = documents.render_pdf(doc)
    identity = _keystore(str(settings.keys_dir)).get_or_create(lab.code, lab.name)
    # Validated against the DCC schema before signing, and again once signed.
    signed = documents.build_signed_dcc(doc, pdf=pdf, identity=identity)
    return pdf, signed, documents.content_hash(signed)


@functools.lru_cache(maxsize=8)
def _keystore(directory: str) -> Any:
    """One key store per directory for the process (it caches loaded keys)."""
    return documents.LaboratoryKeyStore(directory)


def check_signature(cert: Certificate, *, lab_code: str, settings: Settings) -> tuple[bool, str]:
    """Whether the stored DCC is signed by the laboratory's own key and still hashes to the
    published content hash."""
    if cert.dcc is None:
        return False, "no signed DCC stored"

    try:
        trusted = _keystore(str(settings.keys_dir)).get(lab_code).certificate_pem
    except LookupError:
        return False, f"no signing key on record for laboratory {lab_code}"
    result = documents.verify_dcc(cert.dcc, trusted_certificate=trusted, at=cert.issued_at)
    if not result.valid:
        return False, result.reason or "signature does not verify"
    expected = cert.number if cert.revision == 0 else f"{cert.number} rev {cert.revision}"
    if result.unique_identifier is not None and result.unique_identifier != expected:
        return False, (f"the signed DCC is {result.unique_identifier!r}, not {expected!r} "
                       "(a valid document stored under the wrong number)")
    if documents.content_hash(cert.dcc) != cert.content_hash:
        return False, "the stored DCC does not match the published content hash"
    return True, (f"signed by {result.signer_subject} (certificate SHA-256 "
                  f"{result.certificate_fingerprint})")
