"""The words of a registry entry that search matches (stored lower-case with the entry)."""

from __future__ import annotations

import re

_SPLIT = re.compile(r"[^\w.]+")


#: the longest text kept: the column's length in characters, and in UTF-8 bytes what a
#: PostgreSQL b-tree entry holds with the other columns of migration 0015's covering index
#: (2704 bytes in all): about 800 CJK characters, beyond any real entry's text
MAX_CHARS, MAX_BYTES = 1000, 2400


def _words(*parts: str) -> str:
    text = " ".join(p.lower() for p in parts if p)[:MAX_CHARS]
    # a character cut in two at the byte limit is left out whole
    return text.encode()[:MAX_BYTES].decode(errors="ignore")


def terms(text: str) -> list[str]:
    """The distinct lower-case words of ``text`` (letters, digits, '.', '_'), max 64 chars."""
    return list(dict.fromkeys(w[:64] for w in _SPLIT.split(text.lower()) if w))
