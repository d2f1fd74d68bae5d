"""The people's side of the platform: server-rendered pages on the same app, services and
access rules as the JSON API (``routes/``). Every asset is in this package (no CDN).

- ``render``: templates, languages (English, then the catalogue in ``locale/``), the answer
- ``session``: the page session cookie, CSRF, the signed-in person
- ``errors``: error pages a person can read
- ``account``: sign in / sign out / language switch
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from labctl.platform.pages import account, desk, my, public, staff
from labctl.platform.pages.session import load_page_user

#: Every page router; each page resolves the session cookie first.
router = APIRouter(include_in_schema=False, dependencies=[Depends(load_page_user)])
for _part in (account, public, my, desk, staff):
    router.include_router(_part.router)


def add_pages(app: FastAPI) -> None:
    """Mounts the pages and their assets (``/static``, served from the package) on ``app``."""
    app.include_router(router)
    static = resources.files(__package__).joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
