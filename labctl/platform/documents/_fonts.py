"""The embedded PDF fonts, parsed once per process and handed to each FPDF cheaply.

fpdf2 parses a TrueType file on every ``add_font`` and subsets it in place on ``output``; for
the full DejaVu Sans (6000 glyphs) that costs more than the rest of a certificate, too slow
for the certificate rate the platform needs (figures in the README's benchmark table). So,
once per process:

1. a *reduced* face is derived in memory from each shipped TTF, holding the characters
   certificates use (Latin-1, Latin Extended-A, Greek letters, punctuation and the
   metrology symbols): about 430 glyphs, unhinted;
2. fpdf2 parses it once into a template ``TTFFont``;
3. every document gets a shallow copy of the template with its own fontTools ``TTFont``
   (fpdf2 subsets that object destructively at output) and its own subset map.

A document with characters outside the reduced set uses the full faces through the
ordinary (slower) ``add_font`` path; characters that DejaVu Sans does not have at all are
refused before rendering, because a certificate must not print tofu boxes.

At output, fpdf2 subsets each face to the glyphs the document used, with fontTools, and
compresses the result, a large share of a certificate's cost. The
font program depends only on the face and the set of glyphs kept, so :class:`CachedFontOutput`
(an fpdf2 ``OutputProducer``, passed to ``FPDF.output``) keeps the compressed subsets in a
small LRU cache keyed by that set, and writes the same PDF objects as fpdf2 otherwise. The
set is padded with printable ASCII and the symbols the layout prints, so documents that
differ only in which common letters they use share one subset (a few hundred bytes more per
face); a name with ``ł`` or ``ő`` adds that glyph and gets its own entry.

This relies on fpdf2's ``TTFFont``/``SubsetMap``/``OutputProducer`` internals (checked
against fpdf2 2.8; the tests compare the output with fpdf2's own producer byte for byte); if
they change, the module falls back to ``add_font`` and fpdf2's own output and stays correct.
"""

from __future__ import annotations

import copy
import functools
import inspect
import logging
import threading
import weakref
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from fontTools import subset as ftsubset
from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.output import OutputProducer
from fpdf.syntax import Name, PDFContentStream, PDFObject

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
    # fpdf2 numbers and fills in the font descriptor at output: shared between documents
    # rendered in two threads, one PDF could point at the other's object numbers.
    font.desc = copy.copy(face.template.desc)
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
                _INSTALLED[pdf] = {f"{FAMILY.lower()}{style}": face
                                   for style, face in reduced.items()}
                return
            except (AttributeError, TypeError, ImportError) as exc:  # fpdf2 internals moved
                log.warning("fast font path unavailable (%s); using fpdf2 add_font", exc)
                _FACES.fast_path = False
                pdf.fonts.clear()
                _INSTALLED.pop(pdf, None)
    missing = sorted(used - _FACES.full_cmap())
    if missing:
        shown = ", ".join(f"{chr(cp)!r} (U+{cp:04X})" for cp in missing[:10])
        raise ValidationError("certificate text", shown,
                              "characters of DejaVu Sans (Latin, Greek, Cyrillic, symbols)")
    for style, name in FACES.items():
        pdf.add_font(FAMILY, style, str(FONT_DIR / name))


def output_pdf(pdf: FPDF) -> bytes:
    """The finished document's bytes: ``pdf.output()``, with cached font subsets when
    :func:`install_fonts` installed the reduced faces."""
    if _INSTALLED.get(pdf) and _CACHED_OUTPUT_OK:
        return bytes(pdf.output(output_producer_class=CachedFontOutput))
    return bytes(pdf.output())


# --- font subsets cached by glyph set ---------------------------------------------------------

#: FPDF documents whose fonts are clones of the reduced faces, with those faces by font key.
_INSTALLED: weakref.WeakKeyDictionary[FPDF, dict[str, _Face]] = weakref.WeakKeyDictionary()

#: Characters every subset keeps whether the document prints them or not: printable ASCII and
#: the symbols of the layout itself. They make the subset of most documents the same.
SUBSET_PADDING: frozenset[int] = frozenset(range(0x20, 0x7F)) | {ord(c) for c in "–…·±µ°Ω"}

#: Tables fpdf2 2.8 drops from the fonts it embeds (``OutputProducer._add_fonts``).
_FPDF_DROP_TABLES = ("FFTM", "GDEF", "GPOS", "GSUB", "MATH", "hdmx", "meta", "sbix", "CBDT",
                     "CBLC", "EBDT", "EBLC", "EBSC", "SVG ", "CPAL", "COLR")


@dataclass(frozen=True)
class _Subset:
    length: int  # bytes of the uncompressed font program (the stream's /Length1)
    stream: bytes  # the font program, zlib-compressed as fpdf2 embeds it
    gids: Mapping[str, int]  # glyph name → glyph id in the subset


class _SubsetCache:
    """Subset font programs by (face, glyph set); thread-safe LRU with ``maxsize`` entries."""

    def __init__(self, maxsize: int = 64) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[tuple[bytes, frozenset[str]], _Subset] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, face: _Face, glyph_names: frozenset[str]) -> _Subset:
        key = (face.data, glyph_names)  # bytes hash once and are compared by identity first
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return entry
            self.misses += 1
        entry = _make_subset(face, glyph_names)  # outside the lock: other threads go on
        with self._lock:
            self._entries[key] = entry
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)
        return entry


def _make_subset(face: _Face, glyph_names: frozenset[str]) -> _Subset:
    """What fpdf2 does to a face at output, with the same fontTools options."""
    font = TTFont(BytesIO(face.data), recalcTimestamp=False, recalcBBoxes=False, lazy=True)
    options = ftsubset.Options(notdef_outline=True, recommended_glyphs=True)
    options.drop_tables += list(_FPDF_DROP_TABLES)
    subsetter = ftsubset.Subsetter(options)
    subsetter.populate(glyphs=sorted(glyph_names))
    subsetter.subset(font)
    gids = {name: font.getGlyphID(name) for name in glyph_names}
    buffer = BytesIO()
    font.save(buffer)
    program = buffer.getvalue()
    font.close()
    return _Subset(length=len(program),
                   stream=zlib.compress(program, PDFContentStream._COMPRESSION_LEVEL),
                   gids=gids)


_SUBSETS = _SubsetCache()


@functools.lru_cache(maxsize=16)
def _padding_names(face: _Face, padding: frozenset[int]) -> frozenset[str]:
    cmap: dict[int, str] = face.template.cmap
    return frozenset(cmap[cp] for cp in padding if cp in cmap)


def _cid_to_gid_stream(code_to_glyph: Mapping[int, int], *, splice: bool = True) -> bytes:
    """fpdf2's CIDToGIDMap (two bytes per code, all 65 536 codes), zlib-compressed.

    Compressing the 128 KiB, nearly all zeros, anew for each face is wasted work. With
    ``splice`` the used codes are deflated, then a full flush (which resets the window), then
    the zero tail deflated once per length and cached, then the Adler-32 of the whole map: a
    standard zlib stream that inflates to the same bytes (not byte for byte fpdf2's
    compressed stream).
    """
    top = max(code_to_glyph, default=0)
    table = bytearray(2 * (top + 1) if splice else 2 * 65536)
    for code, gid in code_to_glyph.items():
        table[2 * code] = gid >> 8
        table[2 * code + 1] = gid & 0xFF
    if not splice:
        return zlib.compress(bytes(table), PDFContentStream._COMPRESSION_LEVEL)
    zeros = 2 * 65536 - len(table)
    head = zlib.compressobj(PDFContentStream._COMPRESSION_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = head.compress(bytes(table))
    if not zeros:
        body += head.flush(zlib.Z_FINISH)
    else:
        body += head.flush(zlib.Z_FULL_FLUSH) + _deflated_zeros(zeros)
    adler = zlib.adler32(table)
    a, b = adler & 0xFFFF, adler >> 16
    b = (b + zeros * a) % 65521  # Adler-32 over the zero tail: a unchanged, b grows by n·a
    return b"\x78\x9c" + body + (b << 16 | a).to_bytes(4, "big")


@functools.lru_cache(maxsize=64)
def _deflated_zeros(n: int) -> bytes:
    """``n`` zero bytes as the last block of a raw deflate stream, from an empty window."""
    tail = zlib.compressobj(PDFContentStream._COMPRESSION_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    return tail.compress(bytes(n)) + tail.flush(zlib.Z_FINISH)


class _FlateStream(PDFContentStream):
    """A Flate-compressed PDF stream made from bytes compressed beforehand (and cached)."""

    def __init__(self, compressed: bytes) -> None:
        PDFObject.__init__(self)  # not PDFContentStream's: it would compress again
        self._contents = compressed
        self.filter = Name("FlateDecode")
        self.length = len(compressed)


class _FontProgramStream(_FlateStream):
    """An embedded TrueType program (``/FontFile2``), as fpdf2's ``PDFFontStream``."""

    def __init__(self, compressed: bytes, length1: int) -> None:
        super().__init__(compressed)
        self.length1 = length1


class CachedFontOutput(OutputProducer):
    """fpdf2's output, with each reduced face's subset taken from :data:`_SUBSETS`.

    For a font installed by :func:`install_fonts` it writes the objects fpdf2 2.8 writes for a
    TrueType font (Type0 font, CIDFontType2 with widths, ToUnicode CMap, CIDSystemInfo, font
    descriptor, CIDToGIDMap, font program), in the same order; anything else goes to fpdf2.
    """

    #: Code points added to every subset (see :data:`SUBSET_PADDING`).
    padding: frozenset[int] = SUBSET_PADDING
    #: Compress the CIDToGIDMap's zero tail once per length (see :func:`_cid_to_gid_stream`).
    splice_cid_map: bool = True

    def _add_fonts(self, image_objects_per_index: Any, gfxstate_objs_per_name: Any,
                   pattern_objs_per_name: Any) -> Any:
        faces = _INSTALLED.get(self.fpdf, {})
        fonts: dict[str, Any] = self.fpdf.fonts
        if (not faces or set(fonts) - set(faces) or self.fpdf._compliance
                or any(font.missing_glyphs or font.color_font for font in fonts.values())):
            return super()._add_fonts(image_objects_per_index, gfxstate_objs_per_name,
                                      pattern_objs_per_name)
        return {font.i: self._add_font(font, faces[key]) for key, font in
                sorted(fonts.items(), key=lambda kv: kv[1].i)}

    def _add_font(self, font: Any, face: _Face) -> Any:
        from fpdf.output import CIDSystemInfo, PDFFont, _build_cmap_blocks, _tt_font_widths
        from fpdf.syntax import PDFArray

        fontname = f"MPDFAA+{font.name}"
        used = frozenset(font.subset.get_all_glyph_names())
        subset = _SUBSETS.get(face, used | _padding_names(face, self.padding))
        code_to_glyph = {char_id: subset.gids[glyph.glyph_name]
                         for glyph, char_id in font.subset.items() if glyph is not None}

        composite = PDFFont(subtype="Type0", base_font=fontname, encoding="Identity-H")
        self._add_pdf_obj(composite, "fonts")
        cid_font = PDFFont(subtype="CIDFontType2", base_font=fontname,
                           d_w=font.desc.missing_width, w=_tt_font_widths(font))
        self._add_pdf_obj(cid_font, "fonts")
        composite.descendant_fonts = PDFArray([cid_font])

        bf_char = []
        for glyph, code in font.subset.items():
            if glyph is None or not isinstance(glyph.unicode, tuple) or not glyph.unicode:
                continue
            bf_char.append(f"<{code:04X}> <{''.join(_utf16_hex(u) for u in glyph.unicode)}>\n")
        to_unicode = PDFContentStream((
            "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n/CIDSystemInfo\n"
            "<</Registry (Adobe)\n/Ordering (UCS)\n/Supplement 0\n>> def\n"
            "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n1 begincodespacerange\n"
            "<0000> <FFFF>\nendcodespacerange\n"
            f"{_build_cmap_blocks(bf_char, 'bfchar')}"
            "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend"
        ).encode("latin-1"))
        self._add_pdf_obj(to_unicode, "fonts")
        composite.to_unicode = to_unicode

        system_info = CIDSystemInfo()
        self._add_pdf_obj(system_info, "fonts")
        cid_font.c_i_d_system_info = system_info

        descriptor = font.desc
        descriptor.font_name = Name(fontname)
        self._add_pdf_obj(descriptor, "fonts")
        cid_font.font_descriptor = descriptor

        cid_to_gid = _FlateStream(_cid_to_gid_stream(code_to_glyph,
                                                     splice=self.splice_cid_map))
        self._add_pdf_obj(cid_to_gid, "fonts")
        cid_font.c_i_d_to_g_i_d_map = cid_to_gid

        program = _FontProgramStream(subset.stream, subset.length)
        self._add_pdf_obj(program, "fonts")
        descriptor.font_file2 = program

        font.subset.pick.cache_clear()
        font.subset.get_glyph.cache_clear()
        font.close()
        return composite


def _utf16_hex(cp: int) -> str:
    if cp > 0xFFFF:  # a surrogate pair, as fpdf2 writes it
        return f"{0xD800 | (cp - 0x10000) >> 10:04X}{0xDC00 | (cp & 0x3FF):04X}"
    return f"{cp:04X}"


def _fpdf_output_matches() -> bool:
    """Whether fpdf2's output internals are those :class:`CachedFontOutput` was written for."""
    import fpdf.output
    import fpdf.syntax

    try:
        params = list(inspect.signature(OutputProducer._add_fonts).parameters)
    except (AttributeError, TypeError, ValueError):
        return False
    return (params == ["self", "image_objects_per_index", "gfxstate_objs_per_name",
                       "pattern_objs_per_name"]
            and hasattr(OutputProducer, "_add_pdf_obj")
            and all(hasattr(fpdf.output, name) for name in (
                "CIDSystemInfo", "PDFFont", "_build_cmap_blocks", "_tt_font_widths"))
            and hasattr(fpdf.syntax, "PDFArray")
            and isinstance(getattr(PDFContentStream, "_COMPRESSION_LEVEL", None), int))


_CACHED_OUTPUT_OK = _fpdf_output_matches()
if not _CACHED_OUTPUT_OK:
    log.warning("fpdf2's output internals changed; fonts are subset per document")
