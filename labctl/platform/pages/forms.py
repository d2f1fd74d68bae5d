"""What the service-desk pages (customer ``my`` and staff ``desk``) share: the words for
states and steps, and refusals of a form turned into a message next to each field.

The rules stay in the services: a page builds the same input model the JSON API takes
(``models.desk``) and calls the same service; this module only says what went wrong, in
words a customer understands, next to the field it concerns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError as InputError

from labctl.errors import ValidationError
from labctl.platform.pages.render import N_

#: An order's state as a customer reads it (OrderStatus values).
ORDER_STATUS: dict[str, str] = {
    "requested": N_("Requested"),
    "quoted": N_("Quoted"),
    "confirmed": N_("Confirmed"),
    "payment_received": N_("Payment received"),
    "item_received": N_("Item received"),
    "in_progress": N_("In progress"),
    "completed": N_("Completed"),
    "cancelled": N_("Cancelled"),
    "rejected": N_("Rejected"),
}

#: The badge class of each state (ok / warn / bad), for colour with the word beside it.
ORDER_BADGE: dict[str, str] = {"completed": "ok", "cancelled": "bad", "rejected": "bad",
                               "quoted": "warn"}

#: One dated step of an order (OrderStep values).
ORDER_STEP: dict[str, str] = {
    "requested": N_("Order placed"),
    "quoted": N_("Quote sent"),
    "accepted": N_("Quote accepted"),
    "payment_received": N_("Payment received"),
    "item_received": N_("Item received"),
    "started": N_("Calibration started"),
    "certificate_linked": N_("Certificate prepared"),
    "completed": N_("Completed"),
    "answered": N_("Answered"),
    "cancelled": N_("Cancelled"),
    "rejected": N_("Rejected"),
}

#: The steps a calibration order goes through, in order (what is still to come is shown).
CALIBRATION_PATH: tuple[str, ...] = ("requested", "quoted", "accepted", "payment_received",
                                     "item_received", "started", "completed")
INFORMATION_PATH: tuple[str, ...] = ("requested", "answered")

#: A certificate's state (CertificateStatus values), as the desk pages name it.
CERTIFICATE_STATUS: dict[str, str] = {
    "draft": N_("draft"), "checked": N_("checked"), "issued": N_("issued"),
    "superseded": N_("superseded"), "withdrawn": N_("withdrawn"),
}

COMPLAINT_STATUS: dict[str, str] = {
    "open": N_("Open"),
    "under_investigation": N_("Under investigation"),
    "answered": N_("Answered"),
    "closed": N_("Closed"),
}
COMPLAINT_BADGE: dict[str, str] = {"answered": "warn", "closed": "ok"}

COMPLAINT_STEP: dict[str, str] = {
    "filed": N_("Complaint filed"),
    "assigned": N_("Handler assigned"),
    "investigating": N_("Investigation started"),
    "answered": N_("Answer given"),
    "closed": N_("Closed"),
}
COMPLAINT_PATH: tuple[str, ...] = ("filed", "assigned", "investigating", "answered", "closed")

#: The five dimensions of an evaluation (Dimension values), as the form asks them.
DIMENSIONS: dict[str, str] = {
    "fit": N_("Fit of the service to your need"),
    "competence": N_("Technical competence"),
    "timeliness": N_("Timeliness"),
    "satisfaction": N_("Overall satisfaction"),
    "effectiveness": N_("Effectiveness of the result"),
}
SCORES: dict[int, str] = {1: N_("1 poor"), 2: N_("2 fair"), 3: N_("3 good"),
                          4: N_("4 very good"), 5: N_("5 excellent")}

#: Roles named in a reason a button is disabled (Role values).
ROLE_NAMES: dict[str, str] = {
    "admin": N_("administrator"), "data_entry": N_("data entry"), "reviewer": N_("reviewer"),
    "technician": N_("technician"), "checker": N_("checker"), "approver": N_("approver"),
    "customer": N_("customer"),
}


#: What a person did in the work a complaint is about (``policy.desk_participants``), as the
#: complaint page says it; certificate phrases carry the number (``%(number)s``).
PARTICIPATION: dict[str, str] = {
    "quoted the order": N_("quoted the order"),
    "recorded its payment": N_("recorded its payment"),
    "received the item": N_("received the item"),
    "performed the work": N_("performed the work"),
    "linked its certificate": N_("linked its certificate"),
    "completed the order": N_("completed the order"),
    "worked on certificate": N_("worked on certificate %(number)s"),
    "checked certificate": N_("checked certificate %(number)s"),
    "approved certificate": N_("approved certificate %(number)s"),
}


def participation(what: str, translate: Callable[..., str]) -> str:
    """The policy's phrase for what someone did, in the page's language (as it is if new)."""
    if what in PARTICIPATION:
        return translate(PARTICIPATION[what])
    head, _, number = what.rpartition(" ")
    if head in PARTICIPATION:
        return translate(PARTICIPATION[head], number=number)
    return what


def field_errors(exc: InputError | ValidationError, advice: Mapping[str, str],
                 translate: Callable[..., str], fallback: str) -> dict[str, str]:
    """``{field: message}`` for a refused form: the input model's errors (pydantic) or the
    service's :class:`labctl.errors.ValidationError`; each message is the page's advice for
    that field (English, translated here), else ``fallback``."""
    if isinstance(exc, ValidationError):
        fields = [exc.field.split(".")[-1]]
    else:
        fields = [str(e["loc"][0]) if e.get("loc") else "" for e in exc.errors()]
    out: dict[str, str] = {}
    for name in fields:
        # a refusal of no field the form shows (a hidden value) is said above the button
        out.setdefault(name if name in advice else "_form",
                       translate(advice.get(name, fallback)))
    return out


def steps_view(steps: list[Any], path: tuple[str, ...], status: str) -> list[dict[str, Any]]:
    """The timeline a page draws: every step that happened (dated, by whom, its note), then
    the steps of ``path`` still to come (none once the order or complaint has ended)."""
    done = [{"step": s.step, "at": s.at, "by": s.by_name or s.by, "note": s.note,
             "state": "done"} for s in steps]
    if done:
        done[-1]["state"] = "current"
    ended = status in ("completed", "cancelled", "rejected", "closed")
    seen = {s.step for s in steps}
    todo = [] if ended else [{"step": p, "state": "pending"} for p in path if p not in seen]
    return done + todo
