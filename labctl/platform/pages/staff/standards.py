"""``/staff/standards``: the standards the person's organisations hold, with their due
dates (overdue, due soon), status (quarantined, out of tolerance) and, per standard, the
impact report (certificates that used it since its last good calibration) and the status
changes (``traceability.change_status``, the API's call, with its rules)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError as PydanticValidationError

from labctl.errors import PermissionDeniedError, ValidationError
from labctl.platform import notices, quality, registry, traceability
from labctl.platform.accounts import policy
from labctl.platform.db import utcnow
from labctl.platform.documents.check_report import check_report_pdf as documents_check_report_pdf
from labctl.platform.documents.labels import DEFAULT_LAYOUT, LAYOUTS
from labctl.platform.models.base import StandardStatus
from labctl.platform.models.org import Organisation
from labctl.platform.models.registry import StatusChangeRequest
from labctl.platform.pages.chart import control_chart
from labctl.platform.pages.render import N_, language_of, render
from labctl.platform.pages.session import CsrfDep, PageUserDep
from labctl.platform.pages.staff.common import done, refusal, staff_principal
from labctl.platform.pages.staff.home import DUE_SOON
from labctl.platform.routes import certificates as api
from labctl.platform.routes.deps import ReadSessionDep, SessionDep, SettingsDep

router = APIRouter()

SHOW = ("all", "overdue", "due_soon", "quarantined", "out_of_tolerance")
NOT_YOURS = N_("Only a reviewer or administrator of the organisation that holds it may "
               "change its status.")


def _state(std: Any, today: Any) -> str:
    if std.due_date is None:
        return "undated"
    if std.due_date < today:
        return "overdue"
    if std.due_date <= today + DUE_SOON:
        return "due_soon"
    return "in_date"


@router.get("/staff/standards")
def standards_page(request: Request, user: PageUserDep, session: ReadSessionDep,
                   show: Annotated[str, Query(max_length=20)] = "all") -> Response:
    principal = staff_principal(user)
    today = utcnow().date()
    rows = []
    for std in registry.held_standards(session, principal):
        state = _state(std, today)
        if show in ("overdue", "due_soon") and state != show:
            continue
        if show in ("quarantined", "out_of_tolerance") and std.status != show:
            continue
        rows.append({"s": std, "state": state})
    labs = [session.get(Organisation, i)
            for i in policy.staff_laboratories(session, principal)]
    return render(request, "staff/standards.html", {
        "rows": rows, "show": show if show in SHOW else "all", "today": today,
        "laboratories": [(o.code, o.name) for o in labs if o is not None],
        "layouts": list(LAYOUTS.values()), "default_layout": DEFAULT_LAYOUT},
        title=N_("Standards"))


@router.get("/staff/labels.pdf")
def labels_pdf(user: PageUserDep, session: ReadSessionDep, settings: SettingsDep,
               laboratory: Annotated[str, Query(max_length=32)],
               show: Annotated[str, Query(max_length=20)] = "all",
               layout: Annotated[str, Query(max_length=8)] = DEFAULT_LAYOUT) -> Response:
    """The status labels of a laboratory's standards (``show``: all, or one status or
    ``overdue``), by the API's service and rule (its staff only)."""
    principal = staff_principal(user)
    statuses = [] if show == "all" else [show]
    pdf = notices.laboratory_labels(
        session, principal=principal, laboratory_code=laboratory,
        filters=notices.LabelFilters(statuses=statuses, layout=layout),
        today=utcnow().date(), public_url=settings.public_url)
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="labels-{laboratory}.pdf"'})


@router.get("/staff/standards/{identifier}/checks.pdf")
def check_report_pdf(identifier: str, user: PageUserDep, session: ReadSessionDep) -> Response:
    """The standard's check report (the API's service and read rule: its laboratory's
    staff)."""
    principal = staff_principal(user)
    report = quality.check_report(session, identifier, principal, produced_by=principal.name)
    return Response(documents_check_report_pdf(report), media_type="application/pdf",
                    headers={"Content-Disposition":
                             f'inline; filename="checks-{identifier}.pdf"'})


@router.get("/staff/standards/{identifier}")
def standard_page(request: Request, identifier: str, user: PageUserDep,
                  session: ReadSessionDep,
                  done_: Annotated[str, Query(alias="done", max_length=24)] = "") -> Response:
    principal = staff_principal(user)
    std = registry.visible_standard(session, identifier, principal)
    since = traceability.default_since(session, std)
    try:  # the API's read rule: the holder's staff and administrators see the impact
        report = api.read_impact(identifier, principal, session, since)
    except PermissionDeniedError:
        report = None
    why_not = refusal(lambda: policy.may_change_status(session, principal,
                                                       std.organisation_id))
    charts = None
    if policy.can_read_checks(session, principal, std.organisation_id):
        lang = language_of(request)
        charts = [(key, control_chart(data, lang, chart_id=f"c{i}"))
                  for i, (key, data) in enumerate(quality.standard_charts(session, std))]
    return render(request, "staff/standard.html", {
        "s": std, "report": report, "since": since, "done": done_, "charts": charts,
        "state": _state(std, utcnow().date()),
        "why_not": NOT_YOURS if why_not else None,
        "statuses": [s.value for s in StandardStatus],
    }, title=N_("Standard"))


def _decimal(text: str, field: str) -> Decimal | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise ValidationError(field, text[:40], "a number, e.g. 0.00002 or 2e-5")
    return value


@router.post("/staff/standards/{identifier}/status", dependencies=[CsrfDep])
def change_status(request: Request, identifier: str, user: PageUserDep, session: SessionDep,
                  status: Annotated[Literal["in_service", "quarantined", "out_of_tolerance",
                                            "retired"], Form()],
                  reason: Annotated[str, Form(max_length=1000)] = "",
                  error_absolute: Annotated[str, Form(max_length=40)] = "",
                  error_relative: Annotated[str, Form(max_length=40)] = "") -> Response:
    principal = staff_principal(user)
    try:
        body = StatusChangeRequest(
            status=StandardStatus(status), reason=reason.strip(),
            error_absolute=_decimal(error_absolute, "error_absolute"),
            error_relative=_decimal(error_relative, "error_relative"),
            effective_at=None)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        raise ValidationError(".".join(str(p) for p in first["loc"]), first.get("input"),
                              first["msg"]) from None
    api.change_status(identifier, body, principal, session)
    return done(f"/staff/standards/{identifier}", done=status)
