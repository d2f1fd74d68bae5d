"""Routes: the certificate workflow, documents, verification, traceability and impact."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from labctl.errors import NotFoundError, PermissionDeniedError
from labctl.platform import certificates, registry, traceability
from labctl.platform.accounts.auth import has_role
from labctl.platform.certificates.rendering import verification_page
from labctl.platform.models.base import CertificateStatus, Role
from labctl.platform.models.certificates import (
    CertificateCreate,
    CertificatePublic,
    CertificateSummary,
    CertificateUpdate,
    ReasonIn,
    ResultsIn,
    ResultsPosted,
    Verification,
)
from labctl.platform.models.registry import Page, StandardPublic, StatusChangeRequest
from labctl.platform.routes.deps import (
    AUTHED,
    PUBLIC,
    WRITE,
    IdempotencyKeyHeader,
    OptionalPrincipalDep,
    PrincipalDep,
    ReadSessionDep,
    Responses,
    SessionDep,
    SettingsDep,
    WriterDep,
)

router = APIRouter(prefix="/api/v1")
Revision = Annotated[int | None, Query(ge=0, le=10_000, description="Default: the latest")]


@router.post("/certificates", response_model=CertificatePublic, status_code=201,
             tags=["certificates"], responses=WRITE)
def create_certificate(body: CertificateCreate, principal: WriterDep,
                       session: SessionDep) -> CertificatePublic:
    """Draft a certificate (technician); the standards' valid calibrations are frozen."""
    cert = certificates.create_certificate(session, principal=principal, data=body)
    return certificates.certificate_public(session, cert)


def certificate_filters(
    status: Annotated[CertificateStatus | None, Query()] = None,
    laboratory: Annotated[str | None, Query(max_length=32, description="Laboratory code")
                          ] = None,
    customer: Annotated[str | None, Query(max_length=200, description=(
        "Part of the customer's name, any case"))] = None,
    q: Annotated[str | None, Query(max_length=200, description=(
        "Free text: every word (up to 8) must occur in the number, customer, item "
        "(description, serial number, identifier) or quantity, any case"))] = None,
    issued_from: Annotated[date | None, Query(description="Issued on or after")] = None,
    issued_to: Annotated[date | None, Query(description="Issued on or before")] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=certificates.MAX_LIST)] = 50,
) -> certificates.CertificateFilters:
    return certificates.CertificateFilters(
        status=status, laboratory=laboratory, customer=customer, q=q,
        issued_from=issued_from, issued_to=issued_to, offset=offset, limit=limit)


CertificateFiltersDep = Annotated[certificates.CertificateFilters, Depends(certificate_filters)]


@router.get("/certificates", response_model=Page[CertificateSummary], tags=["certificates"],
            responses=AUTHED)
def list_certificates(filters: CertificateFiltersDep, principal: PrincipalDep,
                      session: ReadSessionDep) -> Page[CertificateSummary]:
    """The certificate revisions the caller may read, newest first: every revision of the
    laboratories where the caller is staff (administrators: also those below), the issued
    revisions of the caller's own organisation as a customer; filtered and paged."""
    return certificates.list_certificates(session, principal, filters)


@router.get("/certificates/{number}", response_model=CertificatePublic, tags=["certificates"],
            responses=AUTHED)
def read_certificate(number: str, principal: PrincipalDep, session: ReadSessionDep,
                     revision: Revision = None) -> CertificatePublic:
    """A certificate revision (laboratory staff and the customer)."""
    return certificates.certificate_public(
        session, certificates.readable(session, principal, number, revision))


@router.patch("/certificates/{number}", response_model=CertificatePublic,
              tags=["certificates"], responses=WRITE)
def update_certificate(number: str, body: CertificateUpdate, principal: WriterDep,
                       session: SessionDep) -> CertificatePublic:
    """Correct a draft's administrative content, with the reason (a checked draft needs a
    new check)."""
    return certificates.certificate_public(session, certificates.update_draft(
        session, principal=principal, number=number, data=body))


@router.post("/certificates/{number}/results", response_model=ResultsPosted, status_code=201,
             tags=["certificates"], responses={
                 **WRITE, 200: {"model": ResultsPosted,
                                "description": "Replay: the key was used before, same body"}})
def post_results(number: str, body: ResultsIn, principal: WriterDep, session: SessionDep,
                 response: Response,
                 idempotency_key: IdempotencyKeyHeader,
                 ) -> ResultsPosted:
    """Add measured points to a draft (technician or station of the laboratory)."""
    answer, replayed = certificates.post_results(
        session, principal=principal, number=number, idempotency_key=idempotency_key,
        data=body)
    if replayed:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return answer


@router.delete("/certificates/{number}/results/{idempotency_key}", status_code=204,
               tags=["certificates"], responses=WRITE)
def discard_results(number: str, idempotency_key: str, body: ReasonIn, principal: WriterDep,
                    session: SessionDep) -> Response:
    """Remove one posting's points from a draft, with the reason (audited)."""
    certificates.discard_posting(session, principal=principal, number=number,
                                 idempotency_key=idempotency_key, reason=body.reason)
    return Response(status_code=204)


@router.post("/certificates/{number}/check", response_model=CertificatePublic,
             tags=["certificates"], responses=WRITE)
def check_certificate(number: str, principal: WriterDep,
                      session: SessionDep) -> CertificatePublic:
    """The checker (not the performer) confirms the draft."""
    return certificates.certificate_public(session, certificates.check_certificate(
        session, principal=principal, number=number))


@router.post("/certificates/{number}/issue", response_model=CertificatePublic,
             tags=["certificates"], responses=WRITE)
def issue_certificate(number: str, principal: WriterDep, session: SessionDep,
                      settings: SettingsDep) -> CertificatePublic:
    """The approver issues: every rule is enforced, the PDF and the signed DCC are made."""
    return certificates.certificate_public(session, certificates.issue_certificate(
        session, principal=principal, number=number, settings=settings))


@router.post("/certificates/{number}/amend", response_model=CertificatePublic, status_code=201,
             tags=["certificates"], responses=WRITE)
def amend_certificate(number: str, body: ReasonIn, principal: WriterDep,
                      session: SessionDep) -> CertificatePublic:
    """Start a new revision that will replace the issued one (ISO/IEC 17025 7.8.8)."""
    return certificates.certificate_public(session, certificates.amend_certificate(
        session, principal=principal, number=number, reason=body.reason))


@router.post("/certificates/{number}/withdraw", response_model=CertificatePublic,
             tags=["certificates"], responses=WRITE)
def withdraw_certificate(number: str, body: ReasonIn, principal: WriterDep,
                         session: SessionDep) -> CertificatePublic:
    """Withdraw the issued revision, with the reason."""
    return certificates.certificate_public(session, certificates.withdraw_certificate(
        session, principal=principal, number=number, reason=body.reason))


def _document(number: str, revision: int | None, principal: PrincipalDep,
              session: ReadSessionDep, kind: str) -> bytes:
    cert = certificates.readable(session, principal, number, revision)
    data = cert.pdf if kind == "pdf" else cert.dcc
    if data is None:
        raise NotFoundError(f"{kind} of certificate", f"{number} rev {cert.revision}")
    return data


_PDF: Responses = {200: {"content": {"application/pdf": {}}, "description": "The PDF certificate"}}
_XML: Responses = {200: {"content": {"application/xml": {}}, "description": "The signed DCC"}}


@router.get("/certificates/{number}/pdf", response_class=Response, tags=["certificates"],
            responses={**AUTHED, **_PDF})
def read_pdf(number: str, principal: PrincipalDep, session: ReadSessionDep,
             revision: Revision = None) -> Response:
    """The issued PDF (laboratory staff and the customer)."""
    return Response(_document(number, revision, principal, session, "pdf"),
                    media_type="application/pdf")


@router.get("/certificates/{number}/dcc", response_class=Response, tags=["certificates"],
            responses={**AUTHED, **_XML})
def read_dcc(number: str, principal: PrincipalDep, session: ReadSessionDep,
             revision: Revision = None) -> Response:
    """The issued, signed DCC XML (laboratory staff and the customer)."""
    return Response(_document(number, revision, principal, session, "dcc"),
                    media_type="application/xml")


@router.get("/verify/{number}", response_model=Verification, tags=["verification"],
            responses={**PUBLIC, 303: {"description": "A browser (Accept: text/html) is sent to "
                                              "the verification page"}})
def verify_certificate(number: str, session: ReadSessionDep, settings: SettingsDep,
                       request: Request, revision: Revision = None) -> Verification | Response:
    """Public: status, revision, content hash and whether the laboratory's signature holds.

    A browser (``Accept: text/html``: the QR codes of certificates issued before the QR code
    pointed at the page) is sent to the verification page, ``/verify/{number}``.
    """
    if "text/html" in request.headers.get("accept", ""):
        return RedirectResponse(verification_page(number, revision), status_code=303)
    return certificates.verify(session, number=number, revision=revision, settings=settings)


@router.get("/certificates/{number}/traceability", response_model=traceability.Traceability,
            tags=["traceability"], responses={**PUBLIC, **AUTHED})
def read_traceability(number: str, session: ReadSessionDep, principal: OptionalPrincipalDep,
                      revision: Revision = None) -> traceability.Traceability:
    """The chain up to the national primary standards, each link judged at its time of use.

    Public for issued (and superseded / withdrawn) revisions; drafts for their readers only.
    """
    cert = certificates.revision_of(session, number, revision)
    if cert.status in (CertificateStatus.DRAFT, CertificateStatus.CHECKED) and (
        principal is None or not certificates.can_read(session, principal, cert)
    ):
        raise NotFoundError("issued certificate", number)
    return traceability.chain(session, cert)


@router.get("/standards/{identifier}/traceability", response_model=traceability.Traceability,
            tags=["traceability"], responses={**PUBLIC, **AUTHED})
def read_standard_traceability(identifier: str, session: ReadSessionDep,
                               principal: OptionalPrincipalDep) -> traceability.Traceability:
    """A standard's chain: from the certificate of its current calibration, made on this
    platform, up to the national primary standards (public for published standards).

    404 also for a national primary standard (the top of every chain) and for a standard
    calibrated outside the platform or never calibrated: it has no chain here.
    """
    std = registry.visible_standard(session, identifier, principal)
    cert = traceability.calibrating_certificate(session, std)
    if cert is None:
        raise NotFoundError("calibration certificate on this platform", identifier)
    return traceability.chain(session, cert)


class StatusChanged(BaseModel):
    standard: StandardPublic
    impact: traceability.ImpactReport | None


@router.post("/standards/{identifier}/status", response_model=StatusChanged,
             tags=["traceability"], responses=WRITE)
def change_status(identifier: str, body: StatusChangeRequest, principal: WriterDep,
                  session: SessionDep) -> StatusChanged:
    """Quarantine, return to service, retire or declare out of tolerance (reviewer or admin).

    Out of tolerance flags every certificate whose chain passes through the standard and
    returns the impact report with the statements of conformity decided again.
    """
    _, report = traceability.change_status(session, principal=principal, identifier=identifier,
                                       data=body)
    std = registry.standard_by_identifier(session, identifier)
    return StatusChanged(standard=registry.standard_public(session, std), impact=report)


@router.get("/standards/{identifier}/impact", response_model=traceability.ImpactReport,
            tags=["traceability"], responses=AUTHED)
def read_impact(identifier: str, principal: PrincipalDep, session: ReadSessionDep,
                since: Annotated[datetime, Query(description="Timezone-aware start of window")],
                ) -> traceability.ImpactReport:
    """Every certificate, at any depth, whose chain passes through the standard since then
    (staff of the holder and its administrators)."""
    std = registry.standard_by_identifier(session, identifier)
    if principal.kind != "user" or not (
        has_role(session, principal, Role.ADMIN, std.organisation_id)
        or any(o == std.organisation_id for o, _ in principal.roles)
    ):
        raise PermissionDeniedError("standard.impact",
                                    "only the holder's staff and administrators see the impact")
    return traceability.impact(session, std, since=since)
