"""Error pages a person can read (the API keeps its JSON ``ErrorBody``).

``wants_page(request)`` decides: a browser asking for HTML at a path outside the API. The
message is said in the page's language; a technical detail from the service is shown below
it only where it helps the person (a refused form field)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from labctl.errors import (
    ConflictError,
    LabctlError,
    PermissionDeniedError,
    RuleViolationError,
    ValidationError,
)
from labctl.platform.pages.forms import CERTIFICATE_STATUS, COMPLAINT_STATUS, ORDER_STATUS
from labctl.platform.pages.render import N_, gettext_for, render

API_PREFIXES = ("/api/", "/openapi.json", "/docs", "/redoc", "/static/")

#: What a person is told for each status (English; translated at render).
HEADLINES: dict[int, tuple[str, str]] = {
    400: (N_("The request could not be read"),
          N_("Please go back and try again.")),
    401: (N_("Please sign in"),
          N_("This page is for registered users. Sign in to continue.")),
    403: (N_("Not allowed"),
          N_("Your account may not do this. If you think it should, ask your laboratory's "
             "administrator.")),
    404: (N_("Not found"),
          N_("We could not find this page or record. Check the address or the number you "
             "typed, or search the registry.")),
    405: (N_("Not allowed"), N_("This page cannot be used this way.")),
    409: (N_("This has changed meanwhile"),
          N_("Someone else changed this record, or it may no longer be changed. Reload the "
             "page to see its current state.")),
    422: (N_("Please check what you entered"),
          N_("Something in the form is not valid. The details are below.")),
    429: (N_("Too many attempts"), N_("Please wait a few minutes and try again.")),
    500: (N_("Something went wrong on our side"),
          N_("The error has been logged. Please try again later.")),
}


#: What a person is told when a rule of this kind refused (``PermissionDeniedError.rule``).
DENIED: dict[str, str] = {
    "role": N_("Your account does not have the role this needs in this organisation."),
    "separation": N_("You took part in this work, so another person must take this step "
                     "(separation of duties)."),
    "independence": N_("A complaint is handled by someone who took no part in the work "
                       "complained about; this person did."),
    "handler": N_("Only the person handling this complaint (or the customer who filed it, to "
                  "close it) can do this."),
    "station": N_("This needs a person of the laboratory signed in, not a station."),
    "form": N_("This form has expired or was sent from another site. Reload the page and send "
               "it again."),
    "staff": N_("These pages are for laboratory staff; your account is a customer's."),
}

#: What a person is told for each conflict with the stored state (``ConflictError.reason``);
#: ``%(status)s`` is the record's state in the page's words.
CONFLICT: dict[str, str] = {
    "order_state": N_("Order %(order)s is now “%(status)s”, so this step cannot be taken. "
                      "Reload the order to see what can be done now."),
    "order_kind": N_("Order %(order)s is not the kind of order that has this step."),
    "quote_expired": N_("The quote for order %(order)s expired on %(date)s. Please ask the "
                        "laboratory for a new quote."),
    "evaluated": N_("Order %(order)s has been evaluated already; each order is evaluated "
                    "once."),
    "complaint_state": N_("Complaint %(complaint)s is now “%(status)s”, so this step cannot "
                          "be taken. Reload the complaint to see what can be done now."),
    "certificate_state": N_("Certificate %(number)s is “%(status)s”, so this step cannot be "
                            "taken on it."),
    "certificate_linked": N_("Certificate %(number)s already belongs to order %(order)s."),
    "no_certificate": N_("Order %(order)s has no certificate yet: link the draft, issue it, "
                         "then complete the order."),
    "review_state": N_("Entry %(entry)s is “%(status)s”, so this step cannot be taken on it."),
    "run_state": N_("Run %(run)s is %(status)s, so this cannot be done now."),
    "bench_busy": N_("Bench %(bench)s is busy with run %(run)s. Wait until it ends."),
    "key_reused": N_("This form was already sent once with other content. Reload the page and "
                     "send it again."),
}

#: Laboratory rules (``RuleViolationError.rule``) in the words of the staff who meet them.
RULES: dict[str, str] = {
    "outside_cmc": N_("No published capability (CMC) of the laboratory covers %(quantity)s at "
                      "%(nominal)s %(unit)s."),
    "u_below_cmc": N_("The uncertainty stated at %(nominal)s %(unit)s is smaller than the "
                      "laboratory's CMC (%(cmc_U)s %(unit)s); it may not be (ILAC-P14)."),
    "no_results": N_("The certificate has no results yet."),
    "no_standards": N_("No standard used is stated, so nothing makes the results traceable."),
    "no_item_identification": N_("The item has neither a serial number nor an identifier "
                                 "(ISO/IEC 17025 7.8.2.1 e). Add one to the draft."),
    "check_not_certified": N_("An intermediate check of a standard is not certified for a "
                              "customer: its results belong to the standard."),
    "performer_not_authorised": N_("%(performer)s was not authorised for this procedure on "
                                   "%(day)s."),
}

STATE_WORDS: dict[str, str] = {**CERTIFICATE_STATUS, **ORDER_STATUS, **COMPLAINT_STATUS,
                               "submitted": N_("submitted"), "published": N_("published"),
                               "rejected": N_("rejected"), "not running": N_("not running")}


def explain(request: Request, exc: LabctlError) -> str | None:
    """``exc`` said in a person's words and the page's language, or ``None`` when there are
    none for it (the page then shows its headline and advice only)."""
    _ = gettext_for(request)
    if isinstance(exc, PermissionDeniedError):
        return _(DENIED[exc.rule]) if exc.rule in DENIED else None
    if isinstance(exc, ValidationError):
        return _("The value given for “%(field)s” is not allowed: %(allowed)s.",
                 field=exc.field.rsplit(".", 1)[-1].replace("_", " "), allowed=exc.allowed)
    if not isinstance(exc, ConflictError | RuleViolationError):
        return None
    code, words = ((exc.reason, CONFLICT) if isinstance(exc, ConflictError) else
                   (exc.rule, RULES))
    if code not in words:
        return None
    values = {k: _(STATE_WORDS[str(v)]) if k == "status" and str(v) in STATE_WORDS else str(v)
              for k, v in exc.details.items()}
    try:
        return _(words[code], **values)
    except (KeyError, ValueError, TypeError):  # a detail missing: the words without them
        return None


def wants_page(request: Request) -> bool:
    path = request.url.path
    if path.startswith(API_PREFIXES):
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept or (request.method == "POST" and \
        request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")))


def error_page(request: Request, status: int, detail: str | None = None, *,
               error: LabctlError | None = None) -> HTMLResponse:
    """The error page for ``status``: its headline and advice, the service's refusal in the
    reader's words where there are some (``error``), and the service's own English message
    folded away below as the technical detail (what the laboratory's support will ask for)."""
    headline, advice = HEADLINES.get(status, HEADLINES[500 if status >= 500 else 400])
    show_detail = detail if status in (403, 409, 422) else None
    words = explain(request, error) if error is not None and show_detail else None
    if words is None and show_detail and error is None:
        words, show_detail = show_detail, None  # form-field advice: already in words
    signin = status == 401
    return render(request, "error.html", {"status": status, "headline": headline,
                                          "advice": advice, "words": words,
                                          "detail": show_detail, "signin": signin},
                  status_code=status, title=headline)
