"""``/staff``: the laboratory's queues with their counts, and the way to each."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from labctl.errors import NotFoundError
from labctl.platform import certificates, notices, registry
from labctl.platform.accounts import policy
from labctl.platform.db import utcnow
from labctl.platform.models.base import CertificateStatus, Role, StandardStatus
from labctl.platform.pages.render import N_, render
from labctl.platform.pages.session import PageUserDep
from labctl.platform.pages.staff.common import refusal, staff_principal
from labctl.platform.routes import runs as runs_api
from labctl.platform.routes.deps import ReadSessionDep

router = APIRouter()

#: A standard is "due soon" this many days before its calibration is due.
DUE_SOON = timedelta(days=30)


@router.get("/staff")
def staff_home(request: Request, user: PageUserDep, session: ReadSessionDep) -> Response:
    principal = staff_principal(user)
    waiting = registry.awaiting_review(session, principal)
    reviewable = sum(1 for entry, row in waiting if refusal(lambda e=entry, r=row:  # type: ignore[misc]
        policy.may_review(session, principal, r.organisation_id, registry.authors_of(r),
                          f"{e.entity}.review")) is None)

    def count(status: CertificateStatus) -> int:
        return certificates.list_certificates(session, principal, certificates.CertificateFilters(
            status=status, limit=1)).total

    today = utcnow().date()
    standards = registry.held_standards(session, principal)
    overdue = sum(1 for s in standards if s.due_date is not None and s.due_date < today
                  and s.status != StandardStatus.RETIRED)
    soon = sum(1 for s in standards if s.due_date is not None
               and today <= s.due_date <= today + DUE_SOON)
    held = sum(1 for s in standards if s.status in (StandardStatus.QUARANTINED,
                                                    StandardStatus.OUT_OF_TOLERANCE))
    try:  # the API's rule: the benches of the caller's laboratories
        benches = runs_api.list_benches(request, principal, session)
    except NotFoundError:  # this server drives no bench
        benches = []
    admin = principal.is_superuser or any(r is Role.ADMIN for _, r in principal.roles)
    return render(request, "staff/home.html", {
        "reviews": len(waiting), "reviewable": reviewable,
        "to_check": count(CertificateStatus.DRAFT), "to_issue": count(CertificateStatus.CHECKED),
        "overdue": overdue, "due_soon": soon, "held": held, "admin": admin,
        "benches": len(benches), "running": sum(1 for b in benches if b.busy_with),
        "notices": [notices.notice_public(session, n)
                    for n in notices.notices_for(session, principal, limit=5)],
    }, title=N_("Laboratory"))
