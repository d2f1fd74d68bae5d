"""Server-rendered pages: one Jinja2 environment per language (English first, Chinese from
the translation catalogue), the page context every template gets, and the answer.

Messages are English in the templates (``{{ _("...") }}``) and in Python (marked ``N_("...")``
and translated at render). The catalogue is the ``locale/<lang>/*.po`` files of this package,
one per area (``common.po``, ``public.po``, ...), merged at start; ``tests/pages`` checks that
every message the templates and modules use has its translation.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from labctl.platform.pages.session import csrf_for, page_context, set_csrf_cookie

#: Languages offered, in the order the switch shows them: code → name in that language.
LANGUAGES: dict[str, str] = {"en": "English", "zh": "中文"}
DEFAULT_LANGUAGE = "en"
LANGUAGE_COOKIE = "labctl_lang"


def N_(message: str) -> str:
    """Marks ``message`` for the catalogue; it is translated where it is shown."""
    return message


def page_count(total: int, size: int) -> int:
    """How many pages of ``size`` rows ``total`` rows fill (at least one, for "page 1 of 1")."""
    return max(1, -(-total // size))


@functools.cache
def _catalogue(language: str) -> NullTranslations:
    if language == DEFAULT_LANGUAGE:
        return NullTranslations()
    merged: Translations | None = None
    folder = resources.files(__package__).joinpath("locale", language)
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".po"):
            continue
        with entry.open("rb") as fp:
            catalog = read_po(fp, locale=language)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        part = Translations(buffer)
        merged = part if merged is None else merged.merge(part)
    return merged or NullTranslations()


@functools.cache
def environment(language: str) -> Environment:
    """The template environment for ``language`` (built once; read-only afterwards)."""
    env = Environment(loader=PackageLoader(__package__, "templates"),
                      autoescape=select_autoescape(["html", "svg", "xml"],
                                                   default_for_string=True),
                      undefined=StrictUndefined, extensions=["jinja2.ext.i18n"],
                      trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_translations(_catalogue(language), newstyle=True)  # type: ignore[attr-defined]
    env.globals["LANGUAGES"] = LANGUAGES
    return env


def language_of(request: Request) -> str:
    """The page language: the switch's cookie, else the browser's first acceptable choice."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE


def translator(language: str) -> Callable[..., str]:
    """``_(message, **values)`` in ``language``, as templates have it."""
    catalogue = _catalogue(language)

    def gettext(message: str, **values: Any) -> str:
        text = catalogue.gettext(message)
        return text % values if values else text

    return gettext


def gettext_for(request: Request) -> Callable[..., str]:
    """``_`` for Python code that builds a message for ``request``'s language."""
    return translator(language_of(request))


def render(request: Request, template: str, context: Mapping[str, Any] | None = None, *,
           status_code: int = 200, title: str = "") -> HTMLResponse:
    """``template`` rendered for the request: its language, the signed-in person (if any),
    the CSRF token for its forms; ``title`` (English, translated here) names the page."""
    language = language_of(request)
    env = environment(language)
    csrf, new_cookie = csrf_for(request)
    values = {"request": request, "lang": language, "csrf": csrf,
              "page_title": translator(language)(title) if title else "",
              "current_path": request.url.path,
              "current_url": str(request.url.path) + (f"?{request.url.query}"
                                                       if request.url.query else ""),
              **page_context(request), **(context or {})}
    response = HTMLResponse(env.get_template(template).render(values), status_code=status_code,
                            headers={"Referrer-Policy": "same-origin"})  # forms send Origin
    if new_cookie:
        set_csrf_cookie(request, response, csrf)
    return response
