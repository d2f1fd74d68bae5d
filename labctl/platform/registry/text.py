"""The words of a registry entry that search matches (stored lower-case with the entry)."""

from __future__ import annotations

import re

_SPLIT = re.compile(r"[^\w.]+")


def _words(*parts: str) -> str:
    return " ".join(p.lower() for p in parts if p)[:1000]


def terms(text: str) -> list[str]:
    """The distinct lower-case words of ``text`` (letters, digits, '.', '_'), max 64 chars."""
    return list(dict.fromkeys(w[:64] for w in _SPLIT.split(text.lower()) if w))
