"""The embedded PDF fonts, parsed once per process and handed to each FPDF cheaply.

fpdf2 parses a TrueType file on every ``add_font`` and subsets it in place on ``output``; for
the full DejaVu Sans (6000 glyphs) that is ~50 ms per face and document, too slow for the
certificate rate the platform needs. So, once per process:

1. a *reduced* face is derived in memory from each shipped TTF, holding the characters
   certificates use (Latin-1, Latin Extended-A, Greek letters, punctuation and the
   metrology symbols): about 430 glyphs, unhinted;
2. fpdf2 parses it once into a template ``TTFFont``;
3. every document gets a shallow copy of the template with its own fontTools ``TTFont``
   (fpdf2 subsets that object destructively at output) and its own subset map.

A document with characters outside the reduced set uses the full faces through the
ordinary (slower) ``add_font`` path; characters that DejaVu Sans does not have at all are
refused before rendering, because a certificate must not print tofu boxes.

This relies on fpdf2's ``TTFFont``/``SubsetMap`` internals (checked against fpdf2 2.8); if
they change, the module falls back to ``add_font`` with the full files and stays correct.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from fontTools import subset as ftsubset
from fontTools.ttLib import TTFont
from fpdf import FPDF

from labctl.errors import ValidationError

log = logging.getLogger(__name__)

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FAMILY = "DejaVu"
#: fpdf2 style letter → shipped file.
FACES: dict[str, str] = {
    "": "DejaVuSans.ttf",
    "B": "DejaVuSans-Bold.ttf",
}

#: Code points kept in the reduced faces: what certificates from European laboratories use.
#: Kept small on purpose (~430 glyphs): fpdf2's per-document subsetting time grows with the
#: face. Anything else (Cyrillic, Vietnamese, CJK names...) takes the full-face path.
_REDUCED_RANGES: tuple[tuple[int, int], ...] = (
    (0x0020, 0x007E),  # Basic Latin
    (0x00A0, 0x017F),  # Latin-1 Supplement (°, ±, µ, ½), Latin Extended-A (Ł, ő, š)
    (0x0218, 0x021B),  # Ș ș Ț ț (Romanian)
    (0x0391, 0x03C9),  # Greek letters (Ω, μ, σ, Δ)
    (0x2010, 0x2027),  # dashes, quotes, bullet, ellipsis
    (0x2030, 0x203A),  # per mille, primes, angle quotes
    (0x2070, 0x2079),  # superscript digits
    (0x20AC, 0x20AC),  # euro
    (0x2103, 0x2103),  # ℃
    (0x2126, 0x2126),  # Ω ohm sign
    (0x2190, 0x2193),  # arrows
    (0x2212, 0x2212),  # − minus
    (0x2219, 0x221A),  # ∙ √
    (0x221E, 0x221E),  # ∞
    (0x2248, 0x2248),  # ≈
    (0x2260, 0x2265),  # ≠ ≤ ≥
    (0x2713, 0x2717),  # check and cross marks
)


@dataclass(frozen=True)
class _Face:
    data: bytes  # the TTF bytes the template was parsed from
    template: Any  # fpdf.fonts.TTFFont, parsed once (internal class, so not typed here)
    cmap: frozenset[int]  # code points the face can print


class _Faces:
    """Lazily built reduced and full faces; thread-safe, built at most once each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reduced: dict[str, _Face] | None = None
        self._full_cmap: frozenset[int] | None = None
        self.fast_path = True

    def reduced(self) -> dict[str, _Face]:
        with self._lock:
            if self._reduced is None:
                self._reduced = {style: _build_reduced(style, FONT_DIR / name)
                                 for style, name in FACES.items()}
            return self._reduced

    def full_cmap(self) -> frozenset[int]:
        with self._lock:
            if self._full_cmap is None:
                cmaps = []
                for name in FACES.values():
                    with TTFont(FONT_DIR / name, lazy=True) as font:
                        cmaps.append(frozenset(font.getBestCmap()))
                self._full_cmap = frozenset.intersection(*cmaps)
            return self._full_cmap


_FACES = _Faces()


def _build_reduced(style: str, path: Path) -> _Face:
    from fpdf.fonts import TTFFont

    font = TTFont(path, recalcTimestamp=False)
    options = ftsubset.Options()
    options.notdef_outline = True
    options.recommended_glyphs = True
    options.name_IDs = ["*"]  # keep the copyright and licence names with the font
    options.name_languages = ["*"]
    options.glyph_names = True  # without names fontTools rebuilds them from cmap each time
    options.hinting = False  # PDF viewers rasterise outlines themselves; halves the size
    options.layout_features = []
    # fpdf2 neither shapes nor kerns: layout tables only cost parsing time.
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "MATH", "FFTM", "hdmx", "kern"]
    subsetter = ftsubset.Subsetter(options)
    subsetter.populate(unicodes=[cp for lo, hi in _REDUCED_RANGES for cp in range(lo, hi + 1)])
    subsetter.subset(font)
    buffer = BytesIO()
    font.save(buffer)
    data = buffer.getvalue()
    # TTFFont needs an FPDF only for bookkeeping (its index); a scratch one serves.
    template = TTFFont(FPDF(), BytesIO(data), f"{FAMILY.lower()}{style}", style)  # type: ignore[arg-type]
    return _Face(data=data, template=template, cmap=frozenset(template.cmap))


def _clone_into(pdf: FPDF, style: str, face: _Face) -> None:
    from fpdf.fonts import SubsetMap

    font = copy.copy(face.template)
    # Per-document state: fpdf2 subsets ``ttfont`` destructively and records used glyphs.
    # recalcBBoxes=False: the subset keeps glyphs unchanged, so their stored bounds are right
    # and fontTools need not decompile and recompile every outline (~2/3 of output time).
    font.ttfont = TTFont(BytesIO(face.data), recalcTimestamp=False, recalcBBoxes=False,
                         lazy=True)
    font.i = len(pdf.fonts) + 1
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    font._hbfont = None
    font.subset = SubsetMap(font)
    pdf.fonts[f"{FAMILY.lower()}{style}"] = font


def install_fonts(pdf: FPDF, texts: Iterable[str]) -> None:
    """Make the ``DejaVu`` family (regular and ``B``) available in ``pdf``.

    ``texts`` are all the strings the document will print; they decide between the fast
    reduced faces and the full ones, and a character no face can print is refused with a
    :class:`ValidationError` naming it.
    """
    used = {ord(ch) for text in texts for ch in text if ch not in "\n\r\t"}
    if _FACES.fast_path:
        reduced = _FACES.reduced()
        if used <= reduced[""].cmap:
            try:
                for style, face in reduced.items():
                    _clone_into(pdf, style, face)
                return
            except (AttributeError, TypeError, ImportError) as exc:  # fpdf2 internals moved
                log.warning("fast font path unavailable (%s); using fpdf2 add_font", exc)
                _FACES.fast_path = False
                pdf.fonts.clear()
    missing = sorted(used - _FACES.full_cmap())
    if missing:
        shown = ", ".join(f"{chr(cp)!r} (U+{cp:04X})" for cp in missing[:10])
        raise ValidationError("certificate text", shown,
                              "characters of DejaVu Sans (Latin, Greek, Cyrillic, symbols)")
    for style, name in FACES.items():
        pdf.add_font(FAMILY, style, str(FONT_DIR / name))
