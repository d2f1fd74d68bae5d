"""The messages of the pages and their translations, for the catalogue check and for
``pybabel``-style upkeep without a config file: ``python -m labctl.platform.pages.catalogue``
lists the messages a language lacks."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
JINJA = "jinja2.ext:babel_extract"
METHODS = [("templates/**.html", JINJA), ("templates/**.svg", JINJA), ("**.py", "python")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "trim_blocks": "true",
                                 "lstrip_blocks": "true"},
           "templates/**.svg": {"extensions": "jinja2.ext.i18n"}}


def package_dir() -> Path:
    return Path(str(resources.files(__package__)))


def used_messages() -> dict[str, list[str]]:
    """Every message the templates and page modules use → where (file:line)."""
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            package_dir(), METHODS, OPTIONS, keywords=KEYWORDS):
        ids: Iterator[str] = iter(message) if isinstance(message, tuple) else iter([message])
        for msgid in ids:
            if msgid:
                found.setdefault(msgid, []).append(f"{filename}:{lineno}")
    return found


def translations(language: str) -> dict[str, str]:
    """msgid → translation, over every ``locale/<language>/*.po`` file."""
    merged: dict[str, str] = {}
    for po in sorted((package_dir() / "locale" / language).glob("*.po")):
        with po.open("rb") as fp:
            catalog = read_po(fp, locale=language)
        for message in catalog:
            if message.id and isinstance(message.id, str):
                merged[message.id] = message.string if isinstance(message.string, str) else ""
    return merged


def files_per_message(language: str) -> dict[str, list[str]]:
    """msgid → the ``locale/<language>/*.po`` files that translate it (one each, or the merge
    keeps one of two translations silently: words several areas use belong in common.po)."""
    where: dict[str, list[str]] = {}
    for po in sorted((package_dir() / "locale" / language).glob("*.po")):
        with po.open("rb") as fp:
            for message in read_po(fp, locale=language):
                if message.id and isinstance(message.id, str):
                    where.setdefault(message.id, []).append(po.name)
    return where


def missing(language: str) -> list[str]:
    have = translations(language)
    return sorted(m for m in used_messages() if not have.get(m))


if __name__ == "__main__":  # pragma: no cover - an upkeep aid
    gaps = missing(sys.argv[1] if len(sys.argv) > 1 else "zh")
    for msgid in gaps:
        print(f'msgid "{msgid}"\nmsgstr ""\n')
    sys.exit(1 if gaps else 0)
