"""``/staff/runs``: runs on the server's benches (``app.state.runs``), their live progress
and room conditions (the runner's journal, refreshed by ``data-poll`` on an HTML fragment),
stop and resume, start, and a completed run's draft certificate.

Each action calls the API's own route handler (``routes/runs.py``) with the signed-in person,
so the checks (technician of the bench's laboratory, the run's two people, who may resume,
only a completed run is certified) are exactly the API's."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError as PydanticValidationError

from labctl.errors import ValidationError
from labctl.platform import desk
from labctl.platform.accounts import policy
from labctl.platform.accounts.auth import require_role
from labctl.platform.models.base import Role
from labctl.platform.models.desk import LinkCertificateIn
from labctl.platform.pages.render import N_, render
from labctl.platform.pages.session import CsrfDep, PageUserDep
from labctl.platform.pages.staff import parameters
from labctl.platform.pages.staff.common import done, refusal, staff_principal
from labctl.platform.routes import runs as api
from labctl.platform.routes.deps import ReadSessionDep, SessionDep
from labctl.procedures.catalog import PROCEDURES, procedure_class
from labctl.quantities import ProcedureKind, RunStatus
from labctl.uncertainty import round_result

router = APIRouter()

#: Runs shown per bench (newest first).
RECENT = 10
#: Statuses from which a run may be resumed (the runner continues from its next point).
RESUMABLE = {RunStatus.PAUSED, RunStatus.ABORTED}
ACTIVE = {RunStatus.CREATED, RunStatus.RUNNING, RunStatus.HELD, RunStatus.STOPPING}
YOU_CHECK_IT = N_("You are this run's checker: the person who performs it cannot also check "
                  "it.")
ONLY_TECHNICIANS = N_("Only a technician of the laboratory may stop it.")
NOT_AUTHORISED = N_("Only a technician of the laboratory authorised for this procedure may "
                    "resume it.")


def _total_points(procedure_id: str, parameters: dict[str, Any]) -> int | None:
    try:
        return len(procedure_class(procedure_id).from_parameters(dict(parameters))
                   .test_points())
    except Exception:  # a procedure no longer in the catalogue: progress without a total
        return None


def _reported(point: dict[str, Any]) -> dict[str, Any]:
    """A point as reported: U to two significant digits and the error to the same decimal
    place (EA-4/02, ``uncertainty.round_result``), never a float's own digits."""
    try:
        r = round_result(float(point["error"]), float(point["U"]))
        error, u = r.value_str, r.U_str
    except (KeyError, TypeError, ValueError):  # no U yet: the error as measured, rounded
        error, u = f"{float(point.get('error', 0.0)):.3g}", "—"
    return {"key": point.get("key", ""), "nominal": point.get("nominal"),
            "unit": point.get("unit", ""), "error": error, "U": u,
            "conformity": point.get("conformity")}


def _run_view(request: Request, session: Any, principal: Any, run_id: str) -> dict[str, Any]:
    """A run as the pages show it: the API's status (same read rule), the total of points,
    the latest room reading and the newest events."""
    status = api.run_status(run_id, request, principal, session)
    manager = api._manager(request)
    record = manager.journal(status.bench).load_run(run_id)
    room = record.samples[-1] if record.samples else None
    total = _total_points(record.procedure_id, record.parameters)
    resume_why = stop_why = None
    lab_id = api._lab_id(session, manager, status.bench)
    if status.status in ACTIVE and refusal(lambda: require_role(
            session, principal, Role.TECHNICIAN, lab_id, action="run.stop")) is not None:
        stop_why = ONLY_TECHNICIANS
    if status.status in RESUMABLE:
        pid = record.procedure_id
        quantity = PROCEDURES[pid].info.quantity if pid in PROCEDURES else ""
        refused = refusal(lambda: policy.may_resume_run(
            session, principal, lab_id, procedure=pid, quantity=quantity,
            checker=record.checker, on=manager.bench(status.bench).clock.utcnow().date()))
        if refused is not None:
            resume_why = YOU_CHECK_IT if principal.name == record.checker else NOT_AUTHORISED
    return {"s": status, "total": total, "room": room, "dut": record.dut,
            "points": [_reported(p) for p in status.points],
            "created": record.created,
            "events": list(record.events[-8:])[::-1],
            "percent": round(100 * status.points_done / total) if total else None,
            "active": status.status in ACTIVE,
            "resumable": status.status in RESUMABLE, "resume_why": resume_why,
            "stop_why": stop_why,
            "completed": status.status == RunStatus.COMPLETED, "lab_id": lab_id,
            "is_check": record.procedure_id in PROCEDURES
            and PROCEDURES[record.procedure_id].info.kind is ProcedureKind.CHECK}


def _benches(request: Request, session: Any, principal: Any) -> list[dict[str, Any]]:
    manager = api._manager(request)
    out = []
    for bench in api.list_benches(request, principal, session):
        runs = manager.journal(bench.name).runs()[:RECENT]
        out.append({"b": bench, "runs": runs,
                    "current": _run_view(request, session, principal, bench.busy_with)
                    if bench.busy_with else None})
    return out


OrderQuery = Annotated[int | None, Query(ge=1, le=2**62)]


async def _posted(request: Request) -> dict[str, Any]:
    """The form's fields as sent (the procedure's parameter fields are named per procedure,
    so they are read here rather than declared one by one)."""
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}


PostedForm = Annotated[dict[str, Any], Depends(_posted)]


@router.get("/staff/runs")
def runs_page(request: Request, user: PageUserDep, session: ReadSessionDep,
              order: OrderQuery = None) -> Response:
    """The benches and the start form; ``?order=ID`` (from the order's page) fills the item
    from the order, whose draft the completed run then makes and links."""
    principal = staff_principal(user)
    for_order = desk.order_by_id(session, principal, order) if order is not None else None
    return render(request, "staff/runs.html", {
        "benches": _benches(request, session, principal), "for_order": for_order,
        "procedures": sorted(PROCEDURES),
        "parameters": {pid: parameters.fields(pid) for pid in sorted(PROCEDURES)},
        "form_name": parameters.form_name}, title=N_("Runs"))


@router.get("/staff/runs/live")
def runs_live(request: Request, user: PageUserDep, session: ReadSessionDep) -> Response:
    """The benches' part of ``/staff/runs`` alone, for the page's refresh."""
    principal = staff_principal(user)
    return render(request, "staff/runs_live.html",
                  {"benches": _benches(request, session, principal)})


@router.post("/staff/runs/start", dependencies=[CsrfDep])
def start(request: Request, user: PageUserDep, session: SessionDep,
          bench: Annotated[str, Form(max_length=64)],
          procedure: Annotated[str, Form(max_length=64)],
          checker: Annotated[str, Form(max_length=64)],
          serial_number: Annotated[str, Form(max_length=100)] = "",
          manufacturer: Annotated[str, Form(max_length=100)] = "",
          model: Annotated[str, Form(max_length=100)] = "",
          identifier: Annotated[str, Form(max_length=100)] = "", *,
          posted: PostedForm,
          order: Annotated[int | None, Form(ge=1, le=2**62)] = None) -> Response:
    """Starts a run; the procedure's parameters are its own fields of the form (empty ones
    keep the procedure's defaults), checked by the same ``from_parameters`` as the API's."""
    principal = staff_principal(user)
    params = parameters.parse(procedure, posted)
    dut = {k: v.strip() for k, v in (("manufacturer", manufacturer), ("model", model),
                                     ("serial_number", serial_number),
                                     ("identifier", identifier)) if v.strip()}
    try:
        body = api.RunStart(procedure=procedure, parameters=params, dut=dut,
                            checker=checker.strip())
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        raise ValidationError(".".join(str(p) for p in first["loc"]), first.get("input"),
                              first["msg"]) from None
    started = api.start_run(bench, body, request, principal, session)
    return done(f"/staff/runs/{started.run_id}", done="started",
                **({"order": str(order)} if order is not None else {}))


@router.get("/staff/runs/{run_id}")
def run_page(request: Request, run_id: str, user: PageUserDep, session: ReadSessionDep,
             done_: Annotated[str, Query(alias="done", max_length=16)] = "",
             certificate: Annotated[str, Query(max_length=64)] = "",
             order: OrderQuery = None) -> Response:
    principal = staff_principal(user)
    view = _run_view(request, session, principal, run_id)
    orders = desk.orders_awaiting_certificate(session, principal, [view["lab_id"]]) \
        if view["completed"] and not view["is_check"] else []
    return render(request, "staff/run.html", {"run": view, "done": done_,
                                              "certificate": certificate, "orders": orders,
                                              "chosen_order": order},
                  title=N_("Run"))


@router.get("/staff/runs/{run_id}/live")
def run_live(request: Request, run_id: str, user: PageUserDep,
             session: ReadSessionDep) -> Response:
    """The run's progress part of its page alone, for the page's refresh."""
    principal = staff_principal(user)
    return render(request, "staff/run_live.html",
                  {"run": _run_view(request, session, principal, run_id)})


@router.post("/staff/runs/{run_id}/stop", dependencies=[CsrfDep])
def stop(request: Request, run_id: str, user: PageUserDep, session: SessionDep) -> Response:
    api.stop_run(run_id, request, staff_principal(user), session)
    return done(f"/staff/runs/{run_id}", done="stopping")


@router.post("/staff/runs/{run_id}/resume", dependencies=[CsrfDep])
def resume(request: Request, run_id: str, user: PageUserDep, session: SessionDep) -> Response:
    api.resume_run(run_id, request, staff_principal(user), session)
    return done(f"/staff/runs/{run_id}", done="resumed")


@router.post("/staff/runs/{run_id}/certificate", dependencies=[CsrfDep])
def certify(request: Request, run_id: str, user: PageUserDep, session: SessionDep,
            method: Annotated[str, Form(max_length=300)],
            location: Annotated[str, Form(max_length=300)],
            customer_name: Annotated[str, Form(max_length=200)] = "",
            item_description: Annotated[str, Form(max_length=300)] = "",
            customer_code: Annotated[str, Form(max_length=32)] = "",
            order: Annotated[int | None, Form(ge=1, le=2**62)] = None) -> Response:
    """The completed run as a draft certificate; for an ``order`` (one whose item is with
    the laboratory), the draft is then linked to it, taking the order's customer, address,
    item and date of receipt. The link's rules are checked before the draft is made, so a
    refused link leaves no draft behind."""
    principal = staff_principal(user)
    row = None
    if order is not None:
        row = desk.order_by_id(session, principal, order)
        desk.check_step(session, principal, row, "certificate")
        pid = api.run_status(run_id, request, principal, session).procedure_id
        quantity = PROCEDURES[pid].info.quantity if pid in PROCEDURES else ""
        if row.quantity and quantity != row.quantity:
            raise ValidationError("order", order, f"an order for {quantity} (order {order} "
                                  f"is for {row.quantity})")
        customer_name = customer_name.strip() or row.customer_name
        item_description = item_description.strip() or row.item_description
    try:
        body = api.CertifyRun(customer_name=customer_name.strip(),
                              customer_code=customer_code.strip() or None,
                              item_description=item_description.strip(),
                              method=method.strip(), location=location.strip())
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        raise ValidationError(".".join(str(p) for p in first["loc"]), first.get("input"),
                              first["msg"]) from None
    cert = api.certify_run(run_id, body, request, principal, session)
    if order is not None:  # checked above, before the draft was made
        desk.link_certificate(session, principal=principal, order_id=order,
                              data=LinkCertificateIn(certificate_number=cert.number))
        return done(f"/staff/runs/{run_id}", done="certified", certificate=cert.number,
                    order=str(order))
    return done(f"/staff/runs/{run_id}", done="certified", certificate=cert.number)
