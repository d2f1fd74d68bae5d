"""Certificate verification for people: ``/verify`` (a number typed) and ``/verify/{number}``
(what the certificate's QR code opens).

The verdict is :func:`labctl.platform.certificates.verify`'s, the same call as the JSON
``/api/v1/verify/{number}``, put in words: genuine and current only when the laboratory's
signature holds, the stored record matches the audit trail, the revision is the issued one
and no standard in its chain was found out of tolerance; otherwise the page says which of
these fails. An unknown number is a 404 page that tells the person what to check.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from labctl.errors import NotFoundError
from labctl.platform import certificates
from labctl.platform.certificates.rendering import verification_page
from labctl.platform.models.base import CertificateStatus
from labctl.platform.models.certificates import Verification
from labctl.platform.pages.render import N_, render
from labctl.platform.routes.deps import ReadSessionDep, SettingsDep

router = APIRouter()

MAX_NUMBER = 64  # longest certificate number accepted in a path


def verdict(v: Verification) -> tuple[str, str, str]:
    """(headline, explanation, notice class) for a verification."""
    if not (v.signature_valid and v.audit_consistent):
        return (N_("NOT genuine: do not rely on this certificate"),
                N_("The certificate's signature or its record does not match what the "
                   "laboratory issued. Contact the laboratory."), "error")
    if v.status == CertificateStatus.WITHDRAWN:
        return (N_("Genuine, but withdrawn"),
                N_("The laboratory withdrew this certificate: it is no longer valid."), "error")
    if v.status == CertificateStatus.SUPERSEDED:
        return (N_("Genuine, but superseded"),
                N_("A later revision replaced this one: use the current revision."), "warn")
    if v.flags:
        return (N_("Genuine, but under review"),
                N_("A standard this calibration relied on was later found out of tolerance; "
                   "the laboratory is reviewing the results."), "warn")
    if v.current:
        return (N_("Genuine and current"),
                N_("The laboratory's signature holds, the record matches the audit trail and "
                   "this is the current revision."), "ok")
    return (N_("Genuine, but not current"), N_("This revision is not the current one."), "warn")


STATUS_WORDS = {
    CertificateStatus.ISSUED.value: N_("Issued"),
    CertificateStatus.SUPERSEDED.value: N_("Superseded"),
    CertificateStatus.WITHDRAWN.value: N_("Withdrawn"),
    CertificateStatus.DRAFT.value: N_("Draft"),
    CertificateStatus.CHECKED.value: N_("Checked"),
}


def _not_found(request: Request, number: str) -> Response:
    return render(request, "public/verify_missing.html", {"number": number},
                  status_code=404, title=N_("No such certificate"))


@router.get("/verify")
def verify_form(request: Request,
                number: Annotated[str, Query(max_length=200)] = "") -> Response:
    number = number.strip()
    if "/" in number:  # no certificate number holds one, and a path could not carry it
        return _not_found(request, number[:MAX_NUMBER])
    if number and len(number) <= MAX_NUMBER:
        return RedirectResponse(verification_page(number), status_code=303)
    error = N_("Certificate numbers are at most 64 characters long.") if number else ""
    return render(request, "public/verify_form.html", {"number": number, "error": error},
                  status_code=422 if error else 200, title=N_("Verify a certificate"))


@router.get("/verify/{number}")
def verify_page(request: Request, number: Annotated[str, Path(max_length=200)],
                session: ReadSessionDep, settings: SettingsDep,
                revision: Annotated[str, Query(max_length=12)] = "") -> Response:
    asked: int | None = None
    if revision:
        if not revision.isdigit() or int(revision) > 10_000:
            return _not_found(request, number)
        asked = int(revision)
    if len(number) > MAX_NUMBER:
        return _not_found(request, number)
    try:
        v = certificates.verify(session, number=number, settings=settings, revision=asked)
    except NotFoundError:
        return _not_found(request, number if asked is None else f"{number} rev {asked}")
    headline, advice, tone = verdict(v)
    return render(request, "public/verify.html", {
        "v": v, "headline": headline, "advice": advice, "tone": tone,
        "status_word": STATUS_WORDS[v.status.value], "asked": asked,
        "trace_url": f"/certificates/{quote(v.number, safe='')}/traceability"
                     f"?revision={v.revision}",
        "current_url_of": verification_page(v.number),
    }, title=N_("Certificate verification"))
