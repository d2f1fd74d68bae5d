"""Error pages a person can read (the API keeps its JSON ``ErrorBody``).

``wants_page(request)`` decides: a browser asking for HTML at a path outside the API. The
message is said in the page's language; a technical detail from the service is shown below
it only where it helps the person (a refused form field)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from labctl.platform.pages.render import N_, render

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


def wants_page(request: Request) -> bool:
    path = request.url.path
    if path.startswith(API_PREFIXES):
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept or (request.method == "POST" and \
        request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")))


def error_page(request: Request, status: int, detail: str | None = None) -> HTMLResponse:
    headline, advice = HEADLINES.get(status, HEADLINES[500 if status >= 500 else 400])
    show_detail = detail if status in (403, 409, 422) else None
    signin = status == 401
    return render(request, "error.html", {"status": status, "headline": headline,
                                          "advice": advice, "detail": show_detail,
                                          "signin": signin}, status_code=status,
                  title=headline)
