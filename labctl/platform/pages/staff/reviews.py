"""``/staff/reviews``: registry entries (standards, CMCs) awaiting review, with who entered
and edited each; a reviewer who did neither publishes or sends back (``registry.review_entry``,
the API's call). Those the rule refuses see the action disabled and why; their POST is
refused by the same rule (403, nothing changed)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from sqlmodel import select

from labctl.errors import NotFoundError, ValidationError
from labctl.platform import registry
from labctl.platform.accounts import policy
from labctl.platform.accounts.auth import Principal
from labctl.platform.models.org import Organisation
from labctl.platform.models.registry import Capability, ReviewDecision, Standard
from labctl.platform.pages.render import N_, render
from labctl.platform.pages.session import CsrfDep, PageUserDep
from labctl.platform.pages.staff.common import (
    NOT_REVIEWER,
    YOU_ENTERED,
    done,
    refusal,
    staff_principal,
)
from labctl.platform.results.records import users_by_id
from labctl.platform.routes.deps import ReadSessionDep, SessionDep

router = APIRouter()

KINDS: dict[str, registry.ReviewedEntry[Any, Any, Any]] = {
    "standard": registry.STANDARD, "capability": registry.CAPABILITY}


def _key(kind: str, row: Standard | Capability) -> str:
    return row.identifier if isinstance(row, Standard) else str(row.id)


def _why_not(session: Any, principal: Principal, entry: registry.ReviewedEntry[Any, Any, Any],
             row: Standard | Capability) -> str | None:
    authors = registry.authors_of(row)
    refused = refusal(lambda: policy.may_review(session, principal, row.organisation_id,
                                                authors, f"{entry.entity}.review"))
    if refused is None:
        return None
    return YOU_ENTERED if principal.user_id in authors else NOT_REVIEWER


@router.get("/staff/reviews")
def review_queue(request: Request, user: PageUserDep, session: ReadSessionDep,
                 done_: Annotated[str, Query(alias="done", max_length=16)] = "",
                 entry: Annotated[str, Query(max_length=100)] = "") -> Response:
    principal = staff_principal(user)
    waiting = registry.awaiting_review(session, principal)
    people: list[int | None] = []
    for _, row in waiting:
        people += registry.authors_of(row)
    users = users_by_id(session, *people)
    orgs = {o.id: o for o in session.exec(select(Organisation)).all()}
    rows = []
    for kind_entry, row in waiting:
        kind = kind_entry.entity
        rows.append({
            "kind": kind, "key": _key(kind, row),
            "title": row.description if isinstance(row, Standard) else (
                f"{row.quantity} {row.range_min}–{row.range_max} {row.unit}"),
            "detail": (f"{row.quantity}, {row.range_min}–{row.range_max} {row.unit}"
                       if isinstance(row, Standard) else row.method),
            "holder": orgs[row.organisation_id].code if row.organisation_id in orgs else "",
            "entered_by": users[row.created_by_id].full_name
            if row.created_by_id in users else "",
            "edited_by": [users[i].full_name for i in registry.authors_of(row)[1:]
                          if i in users],
            "why_not": _why_not(session, principal, kind_entry, row),
        })
    return render(request, "staff/reviews.html", {"rows": rows, "done": done_,
                                                  "entry": entry},
                  title=N_("Registry entries awaiting review"))


@router.post("/staff/reviews/{kind}/{key}", dependencies=[CsrfDep])
def review(request: Request, kind: Literal["standard", "capability"], key: str,
           user: PageUserDep, session: SessionDep,
           decision: Annotated[Literal["publish", "reject"], Form()],
           comment: Annotated[str, Form(max_length=1000)] = "") -> Response:
    principal = staff_principal(user)
    entry = KINDS[kind]
    if decision == "reject" and not comment.strip():
        raise ValidationError("comment", "", "the reason the entry is sent back, for the "
                              "person who entered it")
    entry_key: str | int = key
    if kind == "capability":
        if not key.isdigit() or len(key) > 9:
            raise NotFoundError("CMC", key)
        entry_key = int(key)
    registry.review_entry(session, principal=principal, entry=entry, key=entry_key,
                          decision=ReviewDecision(approve=decision == "publish",
                                                  comment=comment.strip()))
    return done("/staff/reviews", done=decision, entry=key)
