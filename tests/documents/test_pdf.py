"""The PDF certificate, read back with pypdf: what ISO/IEC 17025 7.8 requires is on it."""

from __future__ import annotations

import io
import re
from dataclasses import replace

import pypdf
import pytest
import segno

from labctl.errors import ValidationError
from labctl.platform.documents.dcc import UNCERTAINTY_STATEMENT
from labctl.platform.documents.model import CertificateDocument, Party
from labctl.platform.documents.pdf import render_pdf

from .conftest import minimal_certificate


def _read(pdf: bytes) -> tuple[pypdf.PdfReader, list[str], str]:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    pages = [page.extract_text() for page in reader.pages]
    flat = " ".join(" ".join(pages).split())  # line breaks of the layout do not matter
    return reader, pages, flat


@pytest.fixture(scope="module")
def rendered() -> tuple[bytes, pypdf.PdfReader, list[str], str]:
    from .conftest import dmm_certificate

    pdf = render_pdf(dmm_certificate())
    return (pdf, *_read(pdf))


def test_is_a_pdf_with_embedded_fonts(rendered) -> None:  # type: ignore[no-untyped-def]
    pdf, reader, _, _ = rendered
    assert pdf.startswith(b"%PDF-")
    fonts = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendant = font["/DescendantFonts"][0].get_object()
            assert "/FontFile2" in descendant["/FontDescriptor"]  # embedded TrueType
            fonts.add(str(font["/BaseFont"]))
    assert any("DejaVuSans" in f for f in fonts)
    assert reader.metadata.title == "Calibration Certificate CAL-2026-000123 revision 0"


def test_number_revision_and_page_x_of_y_on_every_page(rendered) -> None:  # type: ignore[no-untyped-def]
    _, reader, pages, _ = rendered
    n = len(reader.pages)
    assert n >= 2
    for i, text in enumerate(pages, start=1):
        assert "CAL-2026-000123" in text
        assert "Revision 0" in text
        assert f"Page {i} of {n}" in text


def test_administrative_content(rendered) -> None:  # type: ignore[no-untyped-def]
    *_, flat = rendered
    for expected in (
        "Calibration Certificate", "Müller Kalibrierlabor GmbH", "D-K-12345-01-00",
        "Bunsenstraße 12", "Acme Instruments Ltd", "4 Harbour Road", "CUST-0042",
        "Digital multimeter, 6½ digit", "Keysight Technologies", "34465A", "MY12345678",
        "ACME-DMM-017", "No visible damage", "LP-DCV-004 v3", "2026-11-16", "2026-11-18",
        "2026-11-20", "Laboratory, room E.14, Braunschweig",
    ):
        assert expected in flat, expected


def test_results_with_units_error_u_k_and_conformity(rendered) -> None:  # type: ignore[no-untyped-def]
    *_, flat = rendered
    assert "DC voltage, as found" in flat
    assert re.search(r"Reference\s+value", flat) and re.search(r"Indicated\s+value", flat)
    # A row: range, nominal, unit, reference, indicated, error, U, k, limits, conformity.
    assert re.search(r"10 V range -10 V -10\.000002 -10\.000451 -0\.000449 0\.000012 2 "
                     r"±0\.000404 Fail", flat)
    assert re.search(r"10 V range 0 V 0\.0000000 0\.0000021 0\.0000021 0\.0000030 2 "
                     r"±0\.0000060 Pass", flat)
    assert "Conditional pass" in flat
    assert re.search(r"100 Ω range 100 Ω 100\.00012", flat)
    assert "kΩ" in flat and "2.05" in flat
    assert "10 GΩ" in flat  # the table note
    assert "coverage probability of approximately 95 %" in flat


def test_conditions_with_degree_and_micro(certificate: CertificateDocument) -> None:
    doc = replace(certificate, results=(replace(certificate.results[0], points=tuple(
        replace(p, unit="µV") for p in certificate.results[0].points)),))
    _, _, flat = _read(render_pdf(doc))
    assert "23.1 °C" in flat and "22.8 °C" in flat and "± 0.3 °C" in flat
    assert "41 %" in flat and "1008.2 hPa" in flat
    assert " µV " in flat


def test_standards_traceability_and_statements(rendered) -> None:  # type: ignore[no-untyped-def]
    *_, flat = rendered
    for expected in ("Multifunction calibrator (STD-0007)", "Fluke, 5730A", "4567001",
                     "PTB 2.11-4711/25", "D-K-15070-01-00 2026-0345", "2025-12-02",
                     "traceable to the International System of Units (SI)",
                     "Adjustment was not performed.", "Decision rule: Guarded acceptance",
                     "Overall: Fail", "valid at the time of calibration"):
        assert expected in flat, expected
    assert " ".join(UNCERTAINTY_STATEMENT.split()) in flat
    assert ("The reported expanded uncertainty of measurement is stated as the standard "
            "uncertainty of measurement multiplied by the coverage factor k") in flat


def test_signatories_with_roles_and_dates(rendered) -> None:  # type: ignore[no-untyped-def]
    *_, flat = rendered
    assert re.search(r"Anna Schmidt.*Performed by.*2026-11-18 11:45", flat)
    assert "Jörg Weiß" in flat and "Checked by" in flat
    assert "Dr. Łucja Nowak" in flat and "Approved by" in flat and "2026-11-20 14:00" in flat


def _qr_drawings(page: pypdf.PageObject) -> list[tuple[list[float], list[list[float]]]]:
    """Each ``q … cm (x y w h re)… f Q`` group of the page: its matrix and its rectangles."""
    ops = pypdf.generic.ContentStream(page.get_contents(), page.pdf).operations
    found = []
    for i, (operands, op) in enumerate(ops):
        if op != b"cm":
            continue
        rects, j = [], i + 1
        while j < len(ops) and ops[j][1] == b"re":
            rects.append([float(v) for v in ops[j][0]])
            j += 1
        if rects and j < len(ops) and ops[j][1] == b"f":
            found.append(([float(v) for v in operands], rects))
    return found


def test_qr_code_encodes_the_verification_url(rendered) -> None:  # type: ignore[no-untyped-def]
    from labctl.platform.documents.pdf import MARGIN, QR_SIZE

    from .conftest import dmm_certificate

    _, reader, _, flat = rendered
    page = reader.pages[0]
    drawings = _qr_drawings(page)
    assert len(drawings) == 1
    (a, b, c, d, e, f), rects = drawings[0]
    url = dmm_certificate().verification_url
    symbols = [[[bool(v) for v in row] for row in segno.make(
        url, error="m", micro=False, mask=mask).matrix] for mask in range(8)]
    modules = len(symbols[0])
    # Placed at the right margin, QR_SIZE mm square, one unit per module, rows downwards.
    mm = 72 / 25.4
    width_pt, height_pt = float(page.mediabox.width), float(page.mediabox.height)
    assert (b, c) == (0, 0)
    assert a * modules == pytest.approx(QR_SIZE * mm, abs=0.01)
    assert d == pytest.approx(-a)
    assert e + a * modules == pytest.approx(width_pt - MARGIN * mm, abs=0.01)
    assert 0 < f < height_pt
    # Every module the rectangles cover is dark in the URL's QR symbol, and vice versa.
    dark = [[False] * modules for _ in range(modules)]
    for x, y, w, h in rects:
        assert x == int(x) and y == int(y) and w == int(w) and h == 1
        for col in range(int(x), int(x + w)):
            assert not dark[int(y)][col], "overlapping squares"
            dark[int(y)][col] = True
    assert dark in symbols  # the URL's QR symbol, with one of the eight valid masks
    assert "Verify this certificate" in flat


def test_no_amendment_notice_on_revision_0(rendered) -> None:  # type: ignore[no-untyped-def]
    *_, flat = rendered
    assert "replaces" not in flat


def test_amended_revision_states_what_it_replaces_and_why(
        amended_certificate: CertificateDocument) -> None:
    _, pages, flat = _read(render_pdf(amended_certificate))
    assert ("This certificate replaces CAL-2026-000123 rev 0 because the customer's postal "
            "address was wrong on revision 0") in flat
    assert "Amended certificate (revision 1)" in flat
    assert all("Revision 1" in page for page in pages)
    assert "5 Harbour Road" in flat


def test_rendering_is_deterministic(certificate: CertificateDocument) -> None:
    """Re-rendering an issued revision gives the same bytes, so its stored hash still holds."""
    assert render_pdf(certificate) == render_pdf(certificate)


def test_long_certificate_repeats_headings_and_counts_pages(
        certificate: CertificateDocument) -> None:
    table = certificate.results[0]
    many = replace(table, points=table.points * 20)  # 120 rows
    _, pages, _ = _read(render_pdf(replace(certificate, results=(many,))))
    n = len(pages)
    assert n >= 4
    for i, text in enumerate(pages, start=1):
        assert f"Page {i} of {n}" in text
    # The column headings come back on every page the table continues on.
    assert sum("Indicated" in text for text in pages) >= 3


def test_cyrillic_names_use_the_full_font(certificate: CertificateDocument) -> None:
    doc = replace(certificate, customer=Party(name="ООО Метрология", address="Москва",
                                              country_code="RU"))
    _, _, flat = _read(render_pdf(doc))
    assert "ООО Метрология" in flat


def test_characters_the_font_lacks_are_refused(certificate: CertificateDocument) -> None:
    doc = replace(certificate, customer=Party(name="東京計測株式会社", country_code="JP"))
    with pytest.raises(ValidationError) as caught:
        render_pdf(doc)
    assert caught.value.field == "certificate text"
    assert "U+6771" in str(caught.value.value)


def test_invalid_document_is_refused_before_rendering(certificate: CertificateDocument) -> None:
    with pytest.raises(ValidationError) as caught:
        render_pdf(replace(certificate, verification_url=""))
    assert caught.value.field == "verification_url"


def test_rows_continued_after_a_page_break_are_not_bold(certificate: CertificateDocument) -> None:
    table = certificate.results[0]
    long = replace(certificate, results=(replace(table, points=table.points * 12),))
    reader = pypdf.PdfReader(io.BytesIO(render_pdf(long)))
    assert len(reader.pages) >= 2
    runs: list[tuple[str, str]] = []

    def visit(text: str, cm, tm, font, size) -> None:  # type: ignore[no-untyped-def]
        if text.strip() and font is not None:
            runs.append((text.strip(), str(font["/BaseFont"])))

    reader.pages[1].extract_text(visitor_text=visit)
    # The repeated heading row ends with "Conformity"; the data row after it is regular.
    after = [t for t, _ in runs].index("Conformity") + 1
    assert all("Bold" in font for _, font in runs[after - 10:after])
    first_row = runs[after:after + 10]
    assert first_row[0][0].endswith("V range")
    assert all("Bold" not in font for _, font in first_row), first_row


def test_concurrent_rendering_gives_the_same_bytes(certificate: CertificateDocument,
                                                   amended_certificate: CertificateDocument
                                                   ) -> None:
    """The API renders from a thread pool; shared font templates must not leak state."""
    from concurrent.futures import ThreadPoolExecutor

    docs = [certificate, amended_certificate] * 4
    expected = [render_pdf(d) for d in docs]
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(render_pdf, docs)) == expected


def test_minimal_draft_renders_without_optional_sections(certificate: CertificateDocument) -> None:
    _, pages, flat = _read(render_pdf(minimal_certificate(certificate)))
    assert len(pages) == 1 and "Page 1 of 1" in flat
    assert "Draft: not yet signed." in flat
    assert "Statement of conformity" not in flat and "Conformity" not in flat
    assert "Measurement conditions" not in flat
    assert " ".join(UNCERTAINTY_STATEMENT.split()) in flat
