"""Public pages (no sign-in): the search page at ``/``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from labctl.platform.pages.render import N_, render

router = APIRouter()


@router.get("/")
def home(request: Request) -> Response:
    return render(request, "public/home.html", {}, title=N_("Search"))
