"""``/staff/ledger/{identifier}``: a national primary standard's ledger record for its
holder's staff — the record (area, status, self-reliance class, risks, actions under way) and
its core components as forms, and the history of changes (who, when, field, old, new).

The forms call the API's services (:mod:`labctl.platform.registry.ledger`) with the same
policy (:func:`~labctl.platform.accounts.policy.may_edit_ledger`): a person the policy refuses
sees the record and its history with the forms disabled and the reason, and a forged POST is
refused all the same (nothing changed). Bad input is said by field on the error page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from labctl.platform.accounts import policy
from labctl.platform.models.base import refused_as
from labctl.platform.models.ledger import (
    AREAS,
    Alternative,
    ComponentIn,
    LedgerStatus,
    Origin,
    ProfileIn,
    SelfReliance,
)
from labctl.platform.pages.public.ledger import (
    ALTERNATIVE,
    AREA,
    LEDGER_STATUS,
    ORIGIN,
    RELIANCE,
)
from labctl.platform.pages.render import N_, render
from labctl.platform.pages.session import CsrfDep, PageUserDep
from labctl.platform.pages.staff.common import done, refusal, staff_principal
from labctl.platform.registry import ledger
from labctl.platform.routes.deps import ReadSessionDep, RowId, SessionDep

router = APIRouter()

NOT_HOLDER = N_("Only a data entry person, reviewer or administrator of the institute that "
                "holds it may change its ledger record.")
FIELD_LABEL = {
    "domain": N_("Metrology area"), "status": N_("Ledger status"),
    "self_reliance": N_("Self-reliance"), "risk_notes": N_("Risks"),
    "actions": N_("Actions under way"), "name": N_("Component"), "role": N_("Function"),
    "origin": N_("Origin"), "supplier": N_("Supplier"),
    "supplier_country": N_("Supplier's country"),
    "domestic_alternative": N_("Domestic alternative"), "notes": N_("Notes"),
}
#: the words for the enumerated fields' values in the history
VALUE_LABEL: dict[str, dict[str, str]] = {
    "domain": AREA, "status": {k: v[0] for k, v in LEDGER_STATUS.items()},
    "self_reliance": RELIANCE, "origin": ORIGIN, "domestic_alternative": ALTERNATIVE,
}
Text = Annotated[str, Form(max_length=2000)]
Line = Annotated[str, Form(max_length=200)]
Choice = Annotated[str, Form(max_length=32)]


@router.get("/staff/ledger/{identifier}")
def ledger_page(request: Request, identifier: str, user: PageUserDep, session: ReadSessionDep,
                done_: Annotated[str, Query(alias="done", max_length=24)] = "") -> Response:
    principal = staff_principal(user)
    entry = ledger.ledger_entry(session, identifier, principal)
    std = ledger.primary_standard(session, identifier, principal)
    why_not = refusal(lambda: policy.may_edit_ledger(session, principal, std.organisation_id))
    history = ledger.ledger_history(session, principal=principal, identifier=identifier) \
        if policy.can_read_ledger_history(session, principal, std.organisation_id) else None
    return render(request, "staff/ledger.html", {
        "e": entry, "why_not": NOT_HOLDER if why_not else None, "history": history,
        "done": done_, "areas": [a.value for a in AREAS],
        "statuses": [s.value for s in LedgerStatus],
        "classes": [c.value for c in SelfReliance], "origins": [o.value for o in Origin],
        "alternatives": [a.value for a in Alternative], "AREA": AREA,
        "LEDGER_STATUS": LEDGER_STATUS, "RELIANCE": RELIANCE, "ORIGIN": ORIGIN,
        "ALTERNATIVE": ALTERNATIVE, "FIELD_LABEL": FIELD_LABEL, "VALUE_LABEL": VALUE_LABEL,
    }, title=N_("Ledger record"))


@router.post("/staff/ledger/{identifier}", dependencies=[CsrfDep])
def save_profile(identifier: str, user: PageUserDep, session: SessionDep, domain: Choice,
                 self_reliance: Choice, status: Choice = LedgerStatus.IN_SERVICE.value,
                 risk_notes: Text = "", actions: Text = "") -> Response:
    principal = staff_principal(user)
    with refused_as("form"):
        body = ProfileIn(domain=domain, status=status, self_reliance=self_reliance,  # type: ignore[arg-type]
                         risk_notes=risk_notes.strip(), actions=actions.strip())
    ledger.put_profile(session, principal=principal, identifier=identifier, data=body)
    return done(f"/staff/ledger/{identifier}", done="record")


def _component(name: str, role: str, origin: str, supplier: str, supplier_country: str,
               domestic_alternative: str, notes: str) -> ComponentIn:
    with refused_as("form"):
        return ComponentIn(name=name.strip(), role=role.strip(), origin=origin,  # type: ignore[arg-type]
                           supplier=supplier.strip(),
                           supplier_country=supplier_country.strip().upper(),
                           domestic_alternative=domestic_alternative,  # type: ignore[arg-type]
                           notes=notes.strip())


@router.post("/staff/ledger/{identifier}/components", dependencies=[CsrfDep])
def add_component(identifier: str, user: PageUserDep, session: SessionDep, name: Line,
                  origin: Choice, domestic_alternative: Choice, role: Line = "",
                  supplier: Line = "", supplier_country: Annotated[str, Form(max_length=8)] = "",
                  notes: Text = "") -> Response:
    principal = staff_principal(user)
    body = _component(name, role, origin, supplier, supplier_country, domestic_alternative,
                      notes)
    ledger.add_component(session, principal=principal, identifier=identifier, data=body)
    return done(f"/staff/ledger/{identifier}", done="component")


@router.post("/staff/ledger/{identifier}/components/{component_id}", dependencies=[CsrfDep])
def update_component(identifier: str, component_id: RowId, user: PageUserDep,
                     session: SessionDep, name: Line, origin: Choice,
                     domestic_alternative: Choice, role: Line = "", supplier: Line = "",
                     supplier_country: Annotated[str, Form(max_length=8)] = "",
                     notes: Text = "") -> Response:
    principal = staff_principal(user)
    body = _component(name, role, origin, supplier, supplier_country, domestic_alternative,
                      notes)
    ledger.update_component(session, principal=principal, identifier=identifier,
                            component_id=component_id, data=body)
    return done(f"/staff/ledger/{identifier}", done="component")
