"""``/staff/certificates``: every certificate the person may read, filtered
(``certificates.list_certificates``, as ``GET /api/v1/certificates``), with its PDF, DCC and
public verification; ``/staff/certificates/queue``: drafts to check and checked revisions to
issue, with the people already on each. Check and issue call the workflow the API calls
(``policy.may_check`` / ``may_issue`` inside); the buttons show the same rule's answer."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from labctl.errors import NotFoundError
from labctl.platform import certificates
from labctl.platform.accounts import policy
from labctl.platform.accounts.auth import Principal
from labctl.platform.models.base import CertificateStatus
from labctl.platform.models.certificates import CertificateSummary
from labctl.platform.pages.render import N_, page_count, render
from labctl.platform.pages.session import CsrfDep, PageUserDep
from labctl.platform.pages.staff.common import (
    NOT_APPROVER,
    NOT_CHECKED,
    NOT_CHECKER,
    YOU_ARE_ON_IT,
    YOU_CONTRIBUTED,
    done,
    refusal,
    staff_principal,
)
from labctl.platform.routes.deps import ReadSessionDep, SessionDep, SettingsDep

router = APIRouter()

PAGE = 25
STATUSES = [s.value for s in CertificateStatus]


def _date(text: str) -> date | None:
    """A date typed in a filter, or None when empty or not a date (the filter is then off
    and the page says so)."""
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@router.get("/staff/certificates")
def certificate_list(request: Request, user: PageUserDep, session: ReadSessionDep,
                     status: Annotated[str, Query(max_length=16)] = "",
                     laboratory: Annotated[str, Query(max_length=32)] = "",
                     customer: Annotated[str, Query(max_length=200)] = "",
                     q: Annotated[str, Query(max_length=200)] = "",
                     issued_from: Annotated[str, Query(max_length=10)] = "",
                     issued_to: Annotated[str, Query(max_length=10)] = "",
                     page: Annotated[int, Query(ge=1, le=10_000)] = 1) -> Response:
    principal = staff_principal(user)
    start, end = _date(issued_from), _date(issued_to)
    bad_dates = (issued_from and start is None) or (issued_to and end is None)
    filters = certificates.CertificateFilters(
        status=CertificateStatus(status) if status in STATUSES else None,
        laboratory=laboratory.strip() or None, customer=customer.strip() or None,
        q=q.strip() or None, issued_from=start, issued_to=end,
        offset=(page - 1) * PAGE, limit=PAGE)
    found = certificates.list_certificates(session, principal, filters)
    values = {"status": status, "laboratory": laboratory, "customer": customer, "q": q,
              "issued_from": issued_from, "issued_to": issued_to}
    return render(request, "staff/certificates.html", {
        "found": found, "values": values, "statuses": STATUSES, "page": page,
        "pages": page_count(found.total, PAGE), "bad_dates": bad_dates,
        "query": {k: v for k, v in values.items() if v},
    }, title=N_("Certificates"))


def _queue_row(session: Any, principal: Principal, item: CertificateSummary) -> dict[str, Any]:
    cert = certificates.revision_of(session, item.number, item.revision)
    on_it = policy.contributors(cert)
    if item.status is CertificateStatus.DRAFT:
        refused = refusal(lambda: policy.may_check(session, principal, cert))
        why = None if refused is None else (
            YOU_CONTRIBUTED if principal.user_id in on_it else NOT_CHECKER)
        action = "check"
    else:
        refused = refusal(lambda: policy.may_issue(session, principal, cert))
        why = None if refused is None else (
            YOU_ARE_ON_IT if principal.user_id in on_it or principal.user_id ==
            cert.checked_by_id else NOT_APPROVER)
        action = "issue"
    return {"c": item, "action": action, "why_not": why}


@router.get("/staff/certificates/queue")
def certificate_queue(request: Request, user: PageUserDep, session: ReadSessionDep,
                      done_: Annotated[str, Query(alias="done", max_length=16)] = "",
                      number: Annotated[str, Query(max_length=64)] = "") -> Response:
    principal = staff_principal(user)

    def pending(status: CertificateStatus) -> list[dict[str, Any]]:
        found = certificates.list_certificates(session, principal, certificates.CertificateFilters(
            status=status, limit=certificates.MAX_LIST))
        return [_queue_row(session, principal, c) for c in found.items]

    return render(request, "staff/queue.html", {
        "to_check": pending(CertificateStatus.DRAFT),
        "to_issue": pending(CertificateStatus.CHECKED),
        "done": done_, "number": number, "not_checked": NOT_CHECKED,
    }, title=N_("Certificates to check and issue"))


@router.post("/staff/certificates/{number}/check", dependencies=[CsrfDep])
def check(number: str, user: PageUserDep, session: SessionDep) -> Response:
    principal = staff_principal(user)
    certificates.check_certificate(session, principal=principal, number=number)
    return done("/staff/certificates/queue", done="checked", number=number)


@router.post("/staff/certificates/{number}/issue", dependencies=[CsrfDep])
def issue(number: str, user: PageUserDep, session: SessionDep,
          settings: SettingsDep) -> Response:
    principal = staff_principal(user)
    certificates.issue_certificate(session, principal=principal, number=number,
                                   settings=settings)
    return done("/staff/certificates/queue", done="issued", number=number)


def _document(session: Any, user: Any, number: str, revision: int | None, kind: str
              ) -> Response:
    cert = certificates.readable(session, staff_principal(user), number, revision)
    data = cert.pdf if kind == "pdf" else cert.dcc
    if data is None:
        raise NotFoundError("issued document of certificate", number)
    media = "application/pdf" if kind == "pdf" else "application/xml"
    name = f"{cert.number}-rev{cert.revision}.{'pdf' if kind == 'pdf' else 'xml'}"
    return Response(data, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@router.get("/staff/certificates/{number}/pdf")
def pdf(number: str, user: PageUserDep, session: ReadSessionDep,
        revision: Annotated[int | None, Query(ge=0, le=10_000)] = None) -> Response:
    return _document(session, user, number, revision, "pdf")


@router.get("/staff/certificates/{number}/dcc")
def dcc(number: str, user: PageUserDep, session: ReadSessionDep,
        revision: Annotated[int | None, Query(ge=0, le=10_000)] = None) -> Response:
    return _document(session, user, number, revision, "dcc")
