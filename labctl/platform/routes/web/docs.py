"""The API documentation pages (Swagger UI, ReDoc) served from an installed package, with
a content security policy that admits exactly their inline scripts (a laboratory network has
no internet)."""

from __future__ import annotations

import base64
import hashlib
import re
from importlib import resources
from importlib.resources.abc import Traversable

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

from labctl.errors import NotFoundError

DOCS_ASSETS_URL = "/docs-assets"


_ASSET_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                ".png": "image/png"}


def _inline_script_hashes(page: str) -> str:
    scripts = re.findall(r"<script>(.*?)</script>", page, flags=re.S)
    return " ".join("'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()
                    + "'" for s in scripts)


def _with_docs_csp(html: HTMLResponse, *, workers: bool) -> HTMLResponse:
    """A documentation page with the Content-Security-Policy made for its own scripts."""
    page = bytes(html.body).decode()
    return HTMLResponse(page, headers={"Content-Security-Policy": _docs_csp(page,
                                                                            workers=workers)})


def _docs_csp(page: str, *, workers: bool) -> str:
    """The page's own scripts (by file, and its inline start-up script by hash) and the
    OpenAPI document it fetches: nothing from elsewhere."""
    script = " ".join(filter(None, ["'self'", _inline_script_hashes(page)]))
    csp = (f"default-src 'none'; script-src {script}; style-src 'self' 'unsafe-inline'; "
           "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
           "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
    return csp + ("; worker-src 'self' blob:" if workers else "")


def add_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) and ``/redoc`` on assets from the package, never a CDN."""
    assert app.openapi_url is not None
    openapi_url = app.openapi_url

    @app.get(f"{DOCS_ASSETS_URL}/{{name}}", include_in_schema=False)
    def docs_asset(name: str) -> Response:
        suffix = name[name.rfind("."):] if "." in name else ""
        asset = DOCS_ASSETS / name
        if "/" in name or suffix not in _ASSET_TYPES or not asset.is_file():
            raise NotFoundError("documentation asset", name)
        return Response(asset.read_bytes(), media_type=_ASSET_TYPES[suffix],
                        headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        html = get_swagger_ui_html(
            openapi_url=root + openapi_url, title=f"{app.title} — Swagger UI",
            swagger_js_url=f"{root}{DOCS_ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS_URL}/favicon.png",
            oauth2_redirect_url=None)
        return _with_docs_csp(html, workers=False)

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        html = get_redoc_html(
            openapi_url=root + openapi_url, title=f"{app.title} — ReDoc",
            redoc_js_url=f"{root}{DOCS_ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_ASSETS_URL}/favicon.png",
            with_google_fonts=False)
        return _with_docs_csp(html, workers=True)


#: Swagger UI and ReDoc bundles, installed with the ``fastapi-offline`` package (MIT; the
#: bundles are Swagger UI, Apache-2.0, and ReDoc, MIT), served at ``DOCS_ASSETS_URL``.
DOCS_ASSETS: Traversable = resources.files("fastapi_offline") / "static"
