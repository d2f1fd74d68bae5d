"""The embedded fonts: every printed character has its own glyph in the PDF, and the cached
subsets give what fpdf2 itself would write."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from typing import Any

import pypdf
import pytest
from fontTools.ttLib import TTFont
from fpdf.output import OutputProducer

from labctl.platform.documents import _fonts
from labctl.platform.documents.model import CertificateDocument, Party
from labctl.platform.documents.pdf import _strings, lay_out, render_pdf

SHIPPED = {"": TTFont(_fonts.FONT_DIR / _fonts.FACES[""]),
           "Bold": TTFont(_fonts.FONT_DIR / _fonts.FACES["B"])}


class _AsFpdf2(_fonts.CachedFontOutput):
    """The cached output with subsets of exactly the glyphs used and the CIDToGIDMap
    compressed in one piece, as fpdf2 makes them."""

    padding = frozenset()
    splice_cid_map = False


def test_cached_subsets_write_the_bytes_fpdf2_writes(certificate: CertificateDocument) -> None:
    """Guards the fpdf2 internals the cache relies on: an fpdf2 upgrade that changes how
    fonts are embedded fails here instead of producing a different PDF silently."""
    own = bytes(lay_out(certificate).output(output_producer_class=OutputProducer))
    cached = bytes(lay_out(certificate).output(output_producer_class=_AsFpdf2))
    again = bytes(lay_out(certificate).output(output_producer_class=_AsFpdf2))
    assert cached == own
    assert again == own  # the second one came from the cache


def _embedded_fonts(pdf: bytes) -> dict[str, tuple[TTFont, dict[int, int], dict[int, str],
                                                   bytes]]:
    """Per base font: (embedded program, code → GID, code → text, raw program bytes)."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    out = {}
    for page in reader.pages:
        resources: Any = page["/Resources"]
        for ref in resources["/Font"].values():
            font = ref.get_object()
            name = str(font["/BaseFont"])
            if name in out:
                continue
            cid_font: Any = font["/DescendantFonts"][0].get_object()
            program = cid_font["/FontDescriptor"]["/FontFile2"].get_object().get_data()
            table = cid_font["/CIDToGIDMap"].get_object().get_data()
            assert len(table) == 2 * 65536
            cmap = font["/ToUnicode"].get_object().get_data().decode("latin-1")
            to_text = {int(code, 16): bytes.fromhex(text).decode("utf-16-be")
                       for code, text in re.findall(r"<([0-9A-F]{4})> <([0-9A-F]+)>", cmap)}
            gids = {code: table[2 * code] << 8 | table[2 * code + 1] for code in to_text}
            out[name] = (TTFont(io.BytesIO(program)), gids, to_text, program)
    return out


def _outline(font: TTFont, glyph_name: str) -> list[tuple[int, int]]:
    glyf = font["glyf"]
    coordinates, _, _ = glyf[glyph_name].getCoordinates(glyf)
    return [tuple(xy) for xy in coordinates]


@pytest.mark.parametrize("customer", ["Acme Instruments Ltd", "Őrség Mérőműszer Kft. – №5"])
def test_every_printed_character_has_its_own_glyph(certificate: CertificateDocument,
                                                   customer: str) -> None:
    doc = replace(certificate, customer=Party(name=customer, country_code="HU"))
    printed: set[str] = set()
    for name, (program, gids, to_text, _) in _embedded_fonts(render_pdf(doc)).items():
        shipped = SHIPPED["Bold" if "Bold" in name else ""]
        order = program.getGlyphOrder()
        for code, text in to_text.items():
            if code == 0:  # fpdf2 reserves code 0 for .notdef; nothing prints with it
                continue
            gid = gids[code]
            assert gid != 0, (name, text)  # .notdef would print a box
            expected = shipped.getBestCmap()[ord(text)]
            assert _outline(program, order[gid]) == _outline(shipped, expected), (name, text)
            assert program["hmtx"][order[gid]][0] == shipped["hmtx"][expected][0], (name, text)
            printed.add(text)
    wanted = {ch for text in _strings(doc) for ch in text if not ch.isspace()}
    assert wanted - {"\u00a0"} <= printed


def test_documents_differing_in_common_letters_share_one_font_program(
        certificate: CertificateDocument) -> None:
    """The padding: ASCII is always in the subset, so an unusual letter in a name does not
    make a new subset; a letter outside ASCII does, and is in it."""
    first = _embedded_fonts(render_pdf(replace(certificate, customer=Party(name="Zyxq QJ"))))
    second = _embedded_fonts(render_pdf(replace(certificate, customer=Party(name="Vwk Jqz"))))
    accented = _embedded_fonts(render_pdf(replace(certificate, customer=Party(name="Vwk ő"))))
    regular = next(name for name in first if "Bold" not in name)
    assert first[regular][3] == second[regular][3]
    assert accented[regular][3] != first[regular][3]
    assert "ő" in accented[regular][2].values()
    assert "ő" not in first[regular][2].values()


@pytest.mark.parametrize("codes", [{}, {0: 0, 32: 3}, {i: 400 - i for i in range(1, 300)},
                                   {65535: 7}, {1: 258, 40000: 1}])
def test_spliced_cid_map_inflates_to_the_whole_map(codes: dict[int, int]) -> None:
    import zlib

    spliced = zlib.decompress(_fonts._cid_to_gid_stream(codes))
    assert spliced == zlib.decompress(_fonts._cid_to_gid_stream(codes, splice=False))
    assert len(spliced) == 2 * 65536
    assert all(spliced[2 * c] << 8 | spliced[2 * c + 1] == g for c, g in codes.items())

